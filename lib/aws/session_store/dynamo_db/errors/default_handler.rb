# frozen_string_literal: true

require_relative "base_handler"

module Aws
  module SessionStore
    module DynamoDB
      module Errors
        # The error handler used when no `:error_handler` is configured.
        #
        # "Hard" errors ({HARD_ERRORS}) are always re-raised: they mean the
        # store is misconfigured or a lock can't be had, and carrying on would
        # hide it. Everything else is re-raised only when `raise_errors` is
        # true; otherwise one line, "<Class>: <message>", is written to
        # `env['rack.errors']` and the request goes on without the session.
        # The line never includes session data or secrets.
        #
        # Loaded by `errors.rb`; require that file rather than this one.
        class DefaultHandler < BaseHandler
          # Errors that are always passed up the Rack stack (subclasses too).
          HARD_ERRORS = [
            ResourceNotFoundError,
            ConditionalCheckFailedError,
            MissingSecretKeyError,
            LockWaitTimeoutError
          ].freeze

          # @return [Boolean] whether every error is re-raised.
          attr_reader :raise_errors

          # @param [Boolean] raise_errors when true, every error is passed up
          #   the Rack stack; when false, only {HARD_ERRORS}.
          # The official gem's signature, kept for code that builds one.
          def initialize(raise_errors = false) # rubocop:disable Style/OptionalBooleanParameter
            super()
            @raise_errors = raise_errors
          end

          # Re-raises `error` if it is hard or `raise_errors` is set, else
          # records it in the Rack error stream.
          #
          # @param [Exception] error the error raised by the session store.
          # @param [Hash, nil] env the Rack environment; its `'rack.errors'`
          #   stream, when present, receives one line.
          # @return [false] when the error was recorded and not re-raised.
          # @raise [Exception] `error` itself, when it is re-raised.
          def handle_error(error, env = {})
            raise error if @raise_errors || hard_error?(error)

            store_error(error, env)
            false
          end

          # @param [Exception] error
          # @return [Boolean] whether `error` is one of {HARD_ERRORS}.
          def hard_error?(error)
            HARD_ERRORS.any? { |klass| error.is_a?(klass) }
          end

          # Writes {#errors_string} to `env['rack.errors']`, if there is one.
          #
          # @param [Exception] error
          # @param [Hash, nil] env the Rack environment.
          # @return [void]
          def store_error(error, env = {})
            stream = env.respond_to?(:[]) ? env["rack.errors"] : nil
            stream&.puts(errors_string(error))
          end

          # @param [Exception] error
          # @return [String] one line: "<Class>: <message>", newlines folded.
          def errors_string(error)
            "#{error.class}: #{error.message.to_s.gsub(/\s*[\r\n]+\s*/, " ")}"
          end
        end
      end
    end
  end
end
