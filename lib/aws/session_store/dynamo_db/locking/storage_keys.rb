# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Locking
        # Where a session is stored, for both strategies. A *key* is the
        # String the item is stored under; a *location* is what a native
        # request needs to find it (table, key attribute, key).
        #
        # The key is the cookie's value, or with `hashed_keys` an
        # HMAC-SHA256 of it under a key derived from the secret (the secret
        # stays in Configuration: its #inspect redacts it). Sessions written
        # before `hashed_keys` was switched on, or under its first scheme,
        # are still under an older key: {#search} looks there too.
        class StorageKeys
          # @param config [Configuration]
          def initialize(config)
            @config = config
            @table = config.table_name
            @key_name = config.table_key
            @hashed = config.hashed_keys
          end

          # The key `sid` is stored under by this server.
          def key(sid)
            @hashed ? Native.storage_key(@config.secret_key, sid) : sid
          end

          # Where `sid` is stored by this server.
          def location(sid)
            at(key(sid))
          end

          # The item under `key`, in this store's table.
          def at(key)
            { table: @table, key_name: @key_name, key: key }
          end

          # Looks for `sid` where it may be stored, yielding each location
          # until the block returns something: its current key; with
          # `hashed_keys` then its older keys (the first hashed scheme's, then
          # the cookie's clear value), then its current key again, since a
          # request holding the session may have moved it meanwhile.
          # @return [String, nil] the older key it was found under; nil when
          #   found under its current key, or not found.
          def search(sid)
            return nil if yield(location(sid)) || !@hashed

            old_keys(sid).each { |key| return key if yield(at(key)) }
            yield(location(sid))
            nil
          end

          # Every key `sid` may be stored under, whatever this server's
          # `hashed_keys`, its current one first: servers in a rollout (either
          # way) disagree on where a session lives.
          def every_key(sid)
            current = key(sid)
            secret = @config.secret_key
            [current] + ([Native.storage_key(secret, sid), Native.legacy_storage_key(secret, sid), sid] - [current])
          end

          def inspect
            "#<#{self.class.name} #{@table}.#{@key_name}#{" hashed" if @hashed}>"
          end

          private

          # The older keys a hashed session may still be under, in the order
          # they are looked up.
          def old_keys(sid)
            [Native.legacy_storage_key(@config.secret_key, sid), sid]
          end
        end
      end
    end
  end
end
