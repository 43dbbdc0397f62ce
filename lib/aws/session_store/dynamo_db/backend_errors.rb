# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # The one place the middleware's store errors go, as dalli's
      # `with_dalli_client`: the request is marked as having found DynamoDB
      # failing when the error says so (no more calls in it), then the
      # configured handler raises or logs, and the caller goes on with the
      # contract's fallback value.
      # @api private
      class BackendErrors
        # @param config [Configuration] its `error_handler` is read per error.
        def initialize(config)
          @config = config
        end

        # Runs the block; on a StandardError hands it to the handler and
        # returns `fallback`. With `unreadable`, an id whose read failed for
        # a passing reason is recorded as such (RequestState#unavailable).
        def guarded(env, state, fallback, unreadable: nil)
          yield
        rescue StandardError => e
          handle(env, state, e)
          state.unavailable << unreadable if unreadable && transient?(e)
          fallback
        end

        # The handler hears of `error` (it may raise it).
        def handle(env, state, error)
          note(state, error)
          @config.error_handler.handle_error(error, env)
        end

        # Marks the request as having found DynamoDB failing (RequestState#down).
        def note(state, error)
          state.down = true if transient?(error)
        end

        # Errors after which the stored session is probably fine and will be
        # readable again: timeouts, connection failures, throttling, 5xx.
        def transient?(error)
          case error
          when Errors::NetworkError, Errors::ThrottlingError then true
          when Errors::ServiceError then error.status_code.to_i >= 500
          else false
          end
        end

        def inspect
          "#<#{self.class.name}>"
        end
      end
    end
  end
end
