# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      class Configuration
        # `:dynamo_db_client` as this gem reads it: the official gem takes a
        # Ruby SDK client there; this one has no Ruby SDK, so only a Hash of
        # native client options is accepted, filling what no other source set.
        # @api private
        module ClientHash
          private

          # A Hash given as :dynamo_db_client fills native client options that no
          # other source set.
          def apply_client_hash!(opts)
            client = opts[:dynamo_db_client]
            return if client.nil?

            client = checked_client_hash(client)
            client.each do |name, value|
              opts[name] = value unless value.nil? || @explicit.include?(name)
            end
          end

          # `client` with Symbol keys, every one a native client option.
          def checked_client_hash(client)
            unless client.is_a?(Hash)
              raise Errors::ConfigurationError,
                    ":dynamo_db_client is not supported (got #{client.class}): this gem has no Ruby SDK " \
                    "and builds its own native DynamoDB client. Use the options " \
                    "#{NATIVE_CLIENT_OPTIONS.map(&:inspect).join(", ")} instead, directly or as a Hash " \
                    "given as :dynamo_db_client."
            end

            client = symbolize_keys(client)
            unknown = client.keys - NATIVE_CLIENT_OPTIONS
            return client if unknown.empty?

            raise Errors::ConfigurationError,
                  ":dynamo_db_client Hash has unknown keys #{unknown.map(&:inspect).join(", ")}; " \
                  "known keys: #{NATIVE_CLIENT_OPTIONS.map(&:inspect).join(", ")}"
          end
        end
      end
    end
  end
end
