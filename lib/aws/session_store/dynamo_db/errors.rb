# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Every exception this gem raises, plus the error handlers that decide
      # which of them reach the Rack stack.
      #
      # The three classes of the official gem keep their names and default
      # messages ({MissingSecretKeyError}, {InvalidIDError},
      # {LockWaitTimeoutError}). The Ruby SDK's exception classes, which users
      # of the official gem rescued, are replaced by {ServiceError} and its
      # subclasses, raised by the native client with the same service code.
      #
      # Messages never carry session data or secrets, so they are safe to log.
      module Errors
        # Base class of every exception raised by this gem.
        class Error < RuntimeError; end

        # Raised when the middleware runs without a `:secret_key`.
        class MissingSecretKeyError < Error
          # @param [String] msg
          def initialize(msg = "No secret key provided!")
            super
          end
        end

        # Raised when a session id's signature does not match its id.
        class InvalidIDError < Error
          # @param [String] msg
          def initialize(msg = "Corrupt Session ID!")
            super
          end
        end

        # Raised when a pessimistic lock could not be acquired within
        # `lock_max_wait_time` seconds.
        class LockWaitTimeoutError < Error
          # @return [Integer, nil] milliseconds waited, when known.
          attr_reader :waited_ms

          # @param [String] msg
          # @param [Integer, nil] waited_ms how long the wait lasted (the
          #   native client passes it; the message then says so).
          def initialize(msg = "Maximum time spent to acquire lock has been exceeded!", waited_ms: nil)
            @waited_ms = waited_ms
            super(waited_ms ? "#{msg} (waited #{waited_ms} ms)" : msg)
          end
        end

        # Raised when an option has an invalid value. The message names the
        # option and the class of the bad value (never a secret's value).
        class ConfigurationError < Error; end

        # An error response from DynamoDB. Raised by the native layer as
        # `ServiceError.new(message, code, request_id, status_code)`.
        class ServiceError < Error
          # @return [String, nil] the service's error code, e.g.
          #   `"ResourceNotFoundException"`.
          attr_reader :code

          # @return [String, nil] the request id DynamoDB returned
          #   (`x-amzn-RequestId`), for AWS support.
          attr_reader :request_id

          # @return [Integer, nil] the HTTP status code of the response.
          attr_reader :status_code

          # @param [String, nil] message the service's message; when nil, the
          #   code (or the class name) is used.
          # @param [String, nil] code the service's error code.
          # @param [String, nil] request_id the request id of the response.
          # @param [Integer, nil] status_code the HTTP status code.
          #
          # Positional, as the native layer raises it (see above).
          def initialize(message = nil, code = nil, request_id = nil, status_code = nil) # rubocop:disable Metrics/ParameterLists
            @code = code
            @request_id = request_id
            @status_code = status_code
            super(message || code || self.class.name)
          end
        end

        # The table (or index) does not exist (`ResourceNotFoundException`).
        # A "hard" error: {DefaultHandler} always re-raises it.
        class ResourceNotFoundError < ServiceError; end

        # A conditional write failed (`ConditionalCheckFailedException`).
        # A "hard" error: {DefaultHandler} always re-raises it.
        class ConditionalCheckFailedError < ServiceError; end

        # DynamoDB throttled the request and retries were exhausted
        # (`ProvisionedThroughputExceededException`, `ThrottlingException`,
        # `RequestLimitExceeded`).
        class ThrottlingError < ServiceError; end

        # DynamoDB rejected the request as malformed (`ValidationException`).
        class ValidationError < ServiceError; end

        # The connection to DynamoDB failed (refused, reset, DNS, TLS).
        class NetworkError < Error
          # @param [String] msg
          def initialize(msg = "Could not reach DynamoDB")
            super
          end
        end

        # A DynamoDB call, including its retries, took longer than
        # `operation_timeout` (or connecting took longer than `connect_timeout`).
        class TimeoutError < NetworkError
          # @param [String] msg
          def initialize(msg = "DynamoDB operation timed out")
            super
          end
        end

        # The serialized session does not fit in one DynamoDB item.
        class SessionTooLargeError < Error
          # @return [Integer, nil] the size in bytes of the rejected item.
          attr_reader :size

          # @return [Integer] the limit in bytes that was exceeded.
          attr_reader :limit

          # @param [Integer, String, nil] size_or_message the rejected item's
          #   size in bytes (the message is then built from it: the native
          #   client passes size and limit), or a ready message.
          # @param [Integer] limit the limit in bytes; by default DynamoDB's
          #   maximum item size, attribute names included (400 KB), as the
          #   native extension defines it (`Native::ITEM_SIZE_LIMIT`).
          # @param [String, nil] what the limit, in words, when it is not
          #   DynamoDB's item size limit.
          def initialize(size_or_message = nil, limit = Native::ITEM_SIZE_LIMIT, what: nil)
            @limit = limit
            case size_or_message
            when Integer
              @size = size_or_message
              super(what ? "session is #{@size} bytes, over #{what} (#{@limit} bytes)" : item_message)
            when nil
              super("session exceeds DynamoDB's item size limit of #{@limit} bytes (#{kilobytes})")
            else
              super(size_or_message.to_s)
            end
          end

          private

          def item_message
            "session item is #{@size} bytes, over DynamoDB's item size limit of #{@limit} bytes (#{kilobytes}); " \
              "the stored session was left unchanged"
          end

          # DynamoDB's limit, as its documentation names it: the messages
          # name it whatever limit was passed.
          def kilobytes
            "#{Native::ITEM_SIZE_LIMIT / 1024} KB"
          end
        end

        # Our pessimistic lock was taken over by another process (because it
        # outlived `lock_expiry_time`) before we saved; the save was refused
        # so the other process's writes are not overwritten.
        class LockLostError < Error
          # @param [String] msg
          def initialize(msg = "the session lock was taken over by another request before this one saved; " \
                               "the session was not overwritten")
            super
          end
        end

        # A stored session item could not be decoded (bad JSON, bad Marshal,
        # not a Hash, or missing attributes).
        class CorruptSessionError < Error
          # @param [String] msg
          def initialize(msg = "Stored session data could not be decoded")
            super
          end
        end

        # A bug in the native layer, such as a caught Rust panic. Please report it.
        class InternalError < Error
          # @param [String] msg
          def initialize(msg = "Internal error in the native extension")
            super
          end
        end
      end

      # Module-level spellings used by earlier versions of the official gem.
      MissingSecretKeyError = Errors::MissingSecretKeyError
      InvalidIDError = Errors::InvalidIDError
      LockWaitTimeoutError = Errors::LockWaitTimeoutError
    end
  end
end

require_relative "errors/base_handler"
require_relative "errors/default_handler"
