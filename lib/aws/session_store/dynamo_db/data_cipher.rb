# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Session data encrypted on the client (`encrypt_data`): the stored
      # `data` of an item, sealed for that item (its table, key attribute and
      # key) under the first of `encryption_keys` (default: `[secret_key]`)
      # and opened under any of them. The work is native
      # (`Native::Cipher`, aws-lc-rs: HKDF-SHA256, AES-256-GCM with a random
      # nonce per write); doc/encryption.md has the format.
      #
      # Encrypted items are read whatever `encrypt_data` says, so turning it
      # off again logs nobody out. This object never shows a key: `inspect`
      # gives the key ids.
      # @api private
      class DataCipher
        # What every encrypted `data` starts with.
        PREFIX = "aws-sessionstore-dynamodb-rs:aes-256-gcm:v1:"

        # @return [DataCipher, nil] nil when the configuration has no key
        #   (no `secret_key`, no `encryption_keys`) and encrypts nothing.
        # @raise [Errors::ConfigurationError] `encrypt_data` without a key,
        #   or a `secret_key` too short to derive one from.
        def self.for(config)
          keys = config.encryption_keys || (config.secret_key && [config.secret_key])
          if keys.nil?
            raise Errors::ConfigurationError, ":encrypt_data needs :secret_key or :encryption_keys" if config.encrypt_data

            return nil
          end
          new(keys, seal: config.encrypt_data, refuse_plaintext: config.refuse_plaintext,
                    defaulted: config.encryption_keys.nil?)
        end

        # @param keys [Array<String>] current first.
        # @param seal [Boolean] whether writes are encrypted.
        # @param refuse_plaintext [Boolean] whether unencrypted data is corrupt.
        def initialize(keys, seal:, refuse_plaintext: false, defaulted: false)
          if defaulted && keys.first.bytesize < 32
            # Only a store that encrypts needs the key; one that reads
            # encrypted items without it can't open them (CorruptSessionError).
            if seal
              raise Errors::ConfigurationError, ":encrypt_data needs a :secret_key of at least 32 bytes, or " \
                                                ":encryption_keys"
            end

            keys = []
          end
          @native = keys.empty? ? nil : Native::Cipher.new(keys)
          @seal = seal
          @refuse_plaintext = refuse_plaintext
        end

        # `data` as stored for the item at `table`/`key_name`/`key`:
        # encrypted with `encrypt_data`, else as it is.
        def seal(data, table, key_name, key)
          @seal ? @native.seal(data, table, key_name, key) : data
        end

        # @return [Array(String, Boolean)] the plaintext of stored `data`, and
        #   whether it must be written again to be as this store writes it
        #   (unencrypted while encrypting, under a previous key, encrypted
        #   while not encrypting).
        # @raise [Errors::CorruptSessionError] data that does not decrypt (a
        #   wrong or unknown key, tampered, truncated, copied from another
        #   item), or plaintext with `refuse_plaintext`.
        def open(data, table, key_name, key)
          unless data.start_with?(PREFIX)
            raise Errors::CorruptSessionError, "Stored session data is not encrypted (refuse_plaintext)" if @refuse_plaintext

            return [data, @seal]
          end
          raise Errors::CorruptSessionError, "Stored session data is encrypted, and no key is configured" unless @native

          plaintext, current = @native.open(data, table, key_name, key)
          [plaintext, !(@seal && current)]
        end

        def inspect
          "#<#{self.class.name} key_ids=#{@native&.key_ids.inspect}#{" sealing" if @seal}>"
        end
        alias to_s inspect
      end
    end
  end
end
