# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Events for every DynamoDB call the store makes, so operators see what
      # it costs and how it behaves in the tools they already use:
      #
      # - `read.aws_sessionstore_dynamodb`: a session read (GetItem);
      # - `write.aws_sessionstore_dynamodb`: a save, or a lock released
      #   without a save (UpdateItem);
      # - `delete.aws_sessionstore_dynamodb`: a session deleted (renew,
      #   drop, `reset_session`);
      # - `lock_wait.aws_sessionstore_dynamodb`: with locking, the read that
      #   takes the lock, waits included;
      # - `gc.aws_sessionstore_dynamodb`: a garbage collection run.
      #
      # Payload (never session data or ids): `:table`, `:outcome` (`:found`,
      # `:missing`, `:acquired`, `:written`, `:refused`, `:released`,
      # `:deleted`, `:collected`, `:error`), `:bytes` (of `data`, where
      # there is some), `:calls` and `:attempts` (DynamoDB operations and
      # HTTP attempts), `:retries`, `:consumed_capacity` (capacity units, as
      # DynamoDB reports them: asked for only while someone listens), `:error`
      # (the exception's class name); GC adds its counters. A `lock_wait`
      # that took the lock from another holder adds `:takeover`: `:expired`
      # (stamped longer than `lock_expiry_time` ago), `:future` (stamped
      # more than that ahead: a clock running fast, or a planted value) or
      # `:unreadable`.
      #
      # With ActiveSupport loaded, events go through
      # `ActiveSupport::Notifications` (duration and `:exception` are
      # its own). Either way {.subscribe} takes a block:
      #
      #   Aws::SessionStore::DynamoDB::Instrumentation.subscribe(:read, :write) do |event|
      #     Rails.logger.warn("slow session #{event.name}: #{event.duration.round(1)} ms") if event.duration > 50
      #   end
      #
      # Nobody listening costs one check per call: no stats are gathered and
      # no capacity is asked for.
      module Instrumentation
        NAMESPACE = "aws_sessionstore_dynamodb"
        EVENTS = %i[read write delete lock_wait gc].freeze

        # What a plain subscriber receives. `duration` is in milliseconds.
        Event = Struct.new(:name, :duration, :payload)

        @subscribers = [].freeze
        @lock = Mutex.new

        class << self
          # Calls the block with an {Event} for every event named (all when
          # none is). @return [Object] a handle for {.unsubscribe}
          def subscribe(*events, &block)
            raise ArgumentError, "subscribe needs a block" unless block

            unknown = events.map(&:to_sym) - EVENTS
            raise ArgumentError, "unknown events #{unknown.inspect}; known: #{EVENTS.inspect}" unless unknown.empty?

            handle = [events.empty? ? EVENTS : events.map(&:to_sym), block].freeze
            @lock.synchronize { @subscribers = (@subscribers + [handle]).freeze }
            handle
          end

          # @param handle [Object] what {.subscribe} returned
          def unsubscribe(handle)
            @lock.synchronize { @subscribers = (@subscribers - [handle]).freeze }
            nil
          end

          # Whether anybody listens to `event`.
          def listening?(event)
            @subscribers.any? { |events, _| events.include?(event) } || notifications_listening?(event)
          end

          # Runs the block, as the event `event` on `table` when somebody
          # listens. The block gets the payload Hash to fill, or nil when
          # nobody listens (then it should gather nothing, and nothing is
          # allocated).
          # @return the block's value
          #
          # Subscribers are the application's code: one that raises is
          # reported (once per subscriber, on stderr) and never changes what
          # the store does; the block's own exceptions go through as they are.
          def instrument(event, table)
            return yield(nil) unless listening?(event)

            # The store's own record: subscribers only ever get copies of it,
            # so one that freezes or mutates what it gets changes nothing.
            payload = { table: table }
            name = "#{event}.#{NAMESPACE}"
            started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
            begin
              if notifications_listening?(event)
                load_execution_state
                through_notifications(name, payload) { yield payload }
              else
                yield payload
              end
            rescue StandardError => e
              payload[:outcome] = :error
              payload[:error] = e.class.name
              raise
            ensure
              publish(event, name, (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000.0, payload)
            end
          end

          # Forgets every plain subscriber.
          # @api private
          def reset!
            @lock.synchronize { @subscribers = [].freeze }
          end

          private

          def notifications_listening?(event)
            defined?(::ActiveSupport::Notifications) &&
              ::ActiveSupport::Notifications.notifier.listening?("#{event}.#{NAMESPACE}")
          end

          # ActiveSupport 7.0+ keeps the instrumenter and the handle stack in
          # ActiveSupport::IsolatedExecutionState, which only
          # `require "active_support"` sets up (an autoload):
          # `require "active_support/notifications"` alone does not, and
          # `instrument` then raises NameError. Load it once, so an app that
          # requires only notifications gets its events too. (6.1: per-thread
          # state, no such file.)
          def load_execution_state
            return if @execution_state_loaded

            begin
              require "active_support/isolated_execution_state" unless defined?(::ActiveSupport::IsolatedExecutionState)
            rescue LoadError
              nil
            end
            @execution_state_loaded = true
          end

          # ActiveSupport::Notifications.instrument around the block, with
          # what its subscribers raise (on start or finish; Rails 7+ wraps it
          # in InstrumentationSubscriberError) caught and reported: the
          # block runs exactly once and its value or exception is the
          # result.
          def through_notifications(name, payload)
            ran = false
            value = nil
            raised = nil
            # ActiveSupport's subscribers get their own Hash, filled with a
            # copy of the store's once the block has run (for `finish`).
            published = payload.dup
            begin
              ::ActiveSupport::Notifications.instrument(name, published) do
                ran = true
                value = yield
              rescue Exception => e # rubocop:disable Lint/RescueException
                raised = e
                raise
              ensure
                hand_over(published, payload)
              end
            rescue Exception => e # rubocop:disable Lint/RescueException
              raise unless subscriber_error?(e, raised)

              report_subscriber_error(e, e.class.name)
            end
            raise raised if raised

            ran ? value : yield
          end

          # Copies the store's payload into the subscribers' Hash, whatever
          # they did to it (frozen, replaced methods): theirs to break.
          def hand_over(published, payload)
            published.merge!(payload)
          rescue Exception # rubocop:disable Lint/RescueException
            nil
          end

          # Whether `error`, escaping Notifications.instrument, is a
          # subscriber's: anything but the block's own exception (StandardError
          # or not: NotImplementedError, a custom Exception), except a signal
          # or an exit, which stop the process and are never swallowed.
          def subscriber_error?(error, raised)
            !error.equal?(raised) && subscriber_raisable?(error) &&
              !(raised && error.respond_to?(:exceptions) && error.exceptions.include?(raised))
          end

          def subscriber_raisable?(error)
            !error.is_a?(SignalException) && !error.is_a?(SystemExit)
          end

          def publish(event, name, duration, payload)
            subscribers = @subscribers.select { |events, _| events.include?(event) }
            return if subscribers.empty?

            subscribers.each do |handle|
              # A copy each: what one subscriber does to it no other sees.
              handle[1].call(Event.new(name, duration, payload.dup.freeze))
            rescue Exception => e # rubocop:disable Lint/RescueException
              raise unless subscriber_raisable?(e)

              report_subscriber_error(e, handle)
            end
          end

          # One line on stderr the first time each subscriber raises.
          def report_subscriber_error(error, subscriber)
            Warnings.warn_once([:subscriber, subscriber],
                               "aws-sessionstore-dynamodb-rs: an instrumentation subscriber raised " \
                               "#{error.class}: #{error.message.lines.first.to_s.strip} " \
                               "(at #{error.backtrace&.first}); the store went on (reported once)")
          end
        end
      end
    end
  end
end
