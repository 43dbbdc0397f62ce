# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Instrumentation
        # The events through ActiveSupport::Notifications, when it is loaded
        # and somebody listens there.
        # @api private
        module Notifications
          module_function

          def listening?(event)
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
          def instrument(name, payload)
            load_execution_state
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

              SubscriberErrors.report(e, e.class.name)
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
            !error.equal?(raised) && SubscriberErrors.raisable?(error) &&
              !(raised && error.respond_to?(:exceptions) && error.exceptions.include?(raised))
          end

          private_class_method :load_execution_state, :hand_over, :subscriber_error?
        end

        # What a subscriber raises is reported and swallowed, except a signal
        # or an exit, which stop the process.
        # @api private
        module SubscriberErrors
          module_function

          def raisable?(error)
            !error.is_a?(SignalException) && !error.is_a?(SystemExit)
          end

          # One line on stderr the first time each subscriber raises.
          def report(error, subscriber)
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
