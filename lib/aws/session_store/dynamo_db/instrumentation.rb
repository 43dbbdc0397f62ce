# frozen_string_literal: true

require_relative "instrumentation/notifications"
require_relative "instrumentation/tracing"

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
      # `:missing` (a read or delete that found no item), `:acquired`, `:written`, `:refused`, `:released`,
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
            @subscribers.any? { |events, _| events.include?(event) } || Notifications.listening?(event)
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
          #
          # With OpenTelemetry installed ({Telemetry}) the call's operations
          # become spans too (`consistent`: how its reads read).
          def instrument(event, table, consistent: nil)
            tracing = Tracing.on?(event)
            return yield(nil) unless tracing || listening?(event)

            # The store's own record: subscribers only ever get copies of it,
            # so one that freezes or mutates what it gets changes nothing.
            payload = { table: table }
            name = "#{event}.#{NAMESPACE}"
            started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
            wall = Tracing.now if tracing
            begin
              notified(event, name, payload) { yield payload }
            ensure
              # The operations are for the spans, not the event's payload.
              operations = payload.delete(:operations)
              Tracing.record(event, wall, payload, operations, consistent) if tracing
              publish(event, name, milliseconds_since(started), payload)
            end
          end

          # Runs a native call that is no event (table and UserSessions
          # calls) for its spans alone: under a recording span, `request`
          # asks for its operations, and they become spans.
          # @return the call's value
          def traced(table, request)
            return yield unless Tracing.on?(:call)

            request.instrument = true
            started = Tracing.now
            payload = { table: table }
            begin
              value, stats = yield
              payload[:operations] = stats[:operations]
              value
            rescue Errors::Error => e
              payload[:operations] = e.instance_variable_get(:@native_operations)
              raise
            ensure
              Tracing.record(:call, started, payload, payload.delete(:operations), nil)
            end
          end

          # Forgets every plain subscriber.
          # @api private
          def reset!
            @lock.synchronize { @subscribers = [].freeze }
          end

          private

          # The block, through ActiveSupport::Notifications when it listens;
          # an exception is recorded in the payload on its way out.
          def notified(event, name, payload, &block)
            Notifications.listening?(event) ? Notifications.instrument(name, payload, &block) : yield
          rescue StandardError => e
            payload[:outcome] = :error
            payload[:error] = e.class.name
            raise
          end

          def milliseconds_since(started)
            (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000.0
          end

          def publish(event, name, duration, payload)
            subscribers = @subscribers.select { |events, _| events.include?(event) }
            return if subscribers.empty?

            subscribers.each do |handle|
              # A copy each: what one subscriber does to it no other sees.
              handle[1].call(Event.new(name, duration, payload.dup.freeze))
            rescue Exception => e # rubocop:disable Lint/RescueException
              raise unless SubscriberErrors.raisable?(e)

              SubscriberErrors.report(e, handle)
            end
          end
        end
      end
    end
  end
end
