# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # On/off settings read from the environment (rake tasks' DRY_RUN and
      # ALLOW_MARSHAL, boolean AWS_DYNAMO_DB_SESSION_* options), parsed
      # strictly: a word that is neither on nor off is an error, never
      # quietly "on" (`ALLOW_MARSHAL=off` must not allow Marshal).
      module EnvFlag
        ON = %w[1 true yes on].freeze
        OFF = ["", "0", "false", "no", "off"].freeze

        module_function

        # @param name [String] the variable, for the error message
        # @param value [String, nil] its value (nil: unset, off)
        # @return [Boolean]
        # @raise [Errors::ConfigurationError] for any other word
        def parse(name, value)
          word = value.to_s.strip.downcase
          return true if ON.include?(word)
          return false if OFF.include?(word)

          raise Errors::ConfigurationError,
                "#{name}=#{value.inspect} is not a boolean: use one of #{ON.join("/")} or #{OFF.drop(1).join("/")}"
        end

        # ENV[name], parsed; unset is `default`.
        def fetch(name, default: false)
          ENV.key?(name) ? parse(name, ENV.fetch(name)) : default
        end
      end
    end
  end
end
