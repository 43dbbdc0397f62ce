# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Locking
        # What one request knows of a session it read: the serialized data
        # (to skip rewriting it unchanged), the timestamps, the lock, and
        # with `hashed_keys` the older key it was found under, if any (the
        # cookie's clear value, or the first hashed scheme's key): the save
        # then moves it to its current key. With `user_key`, the item's
        # `user_id` and `user_agent` (Strings, or nil). `data` is the
        # plaintext (DataCipher); `stale_form` says the stored data is not
        # as this store writes it (unencrypted, or under a previous key):
        # the next write rewrites it.
        Loaded = Struct.new(:data, :created_at, :updated_at, :lock, :found_under, :user, :user_agent, :stale_form,
                            keyword_init: true) do
          def under_old_key?
            !found_under.nil?
          end
        end

        # What a save writes: the serialized `data` (written when it differs
        # from the loaded one), `created_at` (a new session's), `expire_at`,
        # and `user`, a {UserTracking::Change} when the session's user
        # changed (with `user_key`), else nil.
        Changes = Struct.new(:data, :created_at, :expire_at, :user, keyword_init: true)

        # A stored item's attributes as a {Loaded}, checked: what cannot be
        # a session is refused with {Errors::CorruptSessionError}.
        module Attributes
          module_function

          # The item's state, or nil when it has no readable data (the item
          # is missing, or only a lock stub the official gem left behind).
          # @param attributes [Hash, nil] the item's attributes as read.
          # @param cipher [DataCipher, nil] opens encrypted data.
          # @param location [Hash] where the item was read (table,
          #   key_name, key): encrypted data is bound to it.
          def loaded(attributes, lock = nil, found_under: nil, cipher: nil, location: nil)
            return nil if attributes.nil? || stub?(attributes)

            check!(attributes)
            data, stale = cipher ? cipher.open(attributes["data"], *location.values_at(:table, :key_name, :key)) : nil
            Loaded.new(data: data || attributes["data"], created_at: attributes["created_at"],
                       updated_at: attributes["updated_at"], lock: lock, found_under: found_under,
                       user: string(attributes["user_id"]), user_agent: string(attributes["user_agent"]),
                       stale_form: stale ? true : false)
          end

          # Only a key and a lock: what the official gem's locking leaves
          # when it locks an id whose item is gone. Not a session.
          def stub?(attributes)
            !attributes.key?("data") && !attributes.key?("created_at")
          end

          # A String attribute, or nil (missing, or of another type).
          def string(value)
            value.is_a?(String) ? value : nil
          end

          # Bytes of an item's `data`, for an event payload.
          def data_bytes(attributes)
            data = attributes && attributes["data"]
            data.is_a?(String) ? data.bytesize : nil
          end

          def check!(attributes)
            data = attributes["data"]
            unless data.is_a?(String)
              raise Errors::CorruptSessionError, "session item has no data string (data is #{describe(data)})"
            end

            # A session whose age can't be read could never expire.
            %w[created_at updated_at].each do |name|
              next if timestamp?(attributes[name])

              raise Errors::CorruptSessionError, "session item has an unreadable #{name} (#{describe(attributes[name])})"
            end
          end

          # Seconds since the epoch, as the official gems wrote them: a
          # numeric String (v3+) or a number (v0.5-v2).
          def timestamp?(value)
            value.is_a?(Numeric) || (value.is_a?(String) && !Float(value, exception: false).nil?)
          end

          # A value's type for an error message, never its content.
          def describe(value)
            value.is_a?(Symbol) ? "DynamoDB type #{value}" : value.class.name
          end
        end
      end
    end
  end
end
