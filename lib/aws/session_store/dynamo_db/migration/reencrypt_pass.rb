# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Migration
        # One `reencrypt` run's work on each item scanned: data stored
        # unencrypted or under a previous key is sealed again under the
        # current key, by the same conditional rewrite as `migrate` (an item
        # a request changed meanwhile is skipped: that request wrote it
        # under the current key). Data that does not decrypt is counted and
        # left as it is.
        # @api private
        class ReencryptPass < Pass
          # Counts of one run.
          Result = Struct.new(:scanned, :current, :plaintext, :previous_key, :undecryptable, :rewritten,
                              :changed_meanwhile, :dry_run, :resumed, keyword_init: true) do
            def summary
              verb = dry_run ? "would re-encrypt" : "re-encrypted"
              "reencrypt: scanned #{scanned}, #{verb} #{rewritten} (unencrypted #{plaintext}, under a previous " \
                "key #{previous_key}); already under the current key #{current}; not decryptable " \
                "#{undecryptable}; changed meanwhile #{changed_meanwhile}"
            end
          end

          def self.empty_result(run, state)
            Result.new(scanned: 0, current: 0, plaintext: 0, previous_key: 0, undecryptable: 0, rewritten: 0,
                       changed_meanwhile: 0, dry_run: run[:dry_run] ? true : false, resumed: state.resumed?)
          end

          # @raise [Errors::ConfigurationError] without `encrypt_data`.
          def initialize(client, config, run, result)
            raise Errors::ConfigurationError, "reencrypt needs :encrypt_data (and the keys to read with)" \
              unless config.encrypt_data

            super
            @cipher = DataCipher.new(config.encryption_keys || [config.secret_key].compact, seal: true)
          end

          def migrate_item(item)
            # User records and lock stubs hold no data.
            type, stored = item["data"]
            key = item.dig(@config.table_key, 1)
            return unless type == "S" && key.is_a?(String)

            @result.scanned += 1
            plaintext = opened(stored, key)
            return unless plaintext

            return @result.rewritten += 1 if @run[:dry_run]

            sealed = @cipher.seal(plaintext, @config.table_name, @config.table_key, key)
            rewrite(item, [["data", "S", stored]], [["data", "S", sealed]])
          end

          private

          # The plaintext to seal again, or nil when the item needs nothing
          # (already current) or can't be read (counted).
          def opened(stored, key)
            plaintext, stale = @cipher.open(stored, @config.table_name, @config.table_key, key)
            return count(:current) unless stale

            count(stored.start_with?(DataCipher::PREFIX) ? :previous_key : :plaintext)
            plaintext
          rescue Errors::CorruptSessionError
            count(:undecryptable)
          end

          def count(name)
            @result[name] += 1
            nil
          end
        end
      end
    end
  end
end
