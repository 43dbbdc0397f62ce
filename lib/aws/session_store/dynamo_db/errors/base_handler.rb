# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Errors
        # The interface of error handlers passed to the middleware as
        # `:error_handler`. The middleware calls {#handle_error} for every
        # {Errors::Error} raised while reading, writing or deleting a session.
        #
        # @example A handler that logs and carries on
        #   class MyErrorHandler < Aws::SessionStore::DynamoDB::Errors::BaseHandler
        #     def handle_error(error, env = {})
        #       MyLogger.warn("session store: #{error.class}: #{error.message}")
        #       false
        #     end
        #   end
        class BaseHandler
          # Decides what to do with an error raised by the session store.
          #
          # Return false when the error was handled and should not reach the
          # Rack stack; the middleware then falls back (a new empty session on
          # read, no write on save). Re-raise the error (or another one) to
          # fail the request.
          #
          # @param [Exception] error the error raised by the session store.
          # @param [Hash, nil] env the Rack environment, if there is one.
          # @return [false] when the error was handled and is not re-raised.
          # @raise [Exception] when the handler re-raises.
          def handle_error(error, env = {})
            raise NotImplementedError, "#{self.class}#handle_error is not implemented"
          end
        end
      end
    end
  end
end
