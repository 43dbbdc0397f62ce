# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # How a session is read and saved: {Null} (the default) or
      # {Pessimistic} (`enable_locking: true`).
      module Locking
        # What one request knows of a session it read: the serialized data
        # (to skip rewriting it unchanged), the timestamps, the lock, and
        # with `hashed_keys` the older key it was found under, if any (the
        # cookie's clear value, or the first hashed scheme's key): the save
        # then moves it to its current key.
        Loaded = Struct.new(:data, :created_at, :updated_at, :lock, :found_under, keyword_init: true) do
          def under_old_key?
            !found_under.nil?
          end
        end

        # Reads, saves and deletes session items through the native client.
        class Base
          # @param config [Configuration]
          # @param client [Native::Client]
          def initialize(config, client)
            @config = config
            @client = client
            @table = config.table_name
            @key = config.table_key
            @hashed = config.hashed_keys
          end

          # Saves a session. `loaded` is what {#get_session_data} returned for
          # this id in this request (nil for a new id).
          # @return [Boolean] false when the item vanished meanwhile (a
          #   destroyed session never comes back) or the new id was taken.
          def save(sid, data, loaded, created_at:, expire_at:)
            return move_to_current_key(sid, data, loaded, expire_at) if loaded&.under_old_key?

            request = Native::SaveRequest.new(**item(sid), expire_at: expire_at)
            if loaded
              request.data = data unless data == loaded.data
              request.new_session = false
              request.lock = loaded.lock
            else
              request.data = data
              request.created_at = created_at
              request.new_session = true
            end
            write(request)
          end

          # Deletes the item (and with it any lock on it) under every key the
          # session may have, whatever this server's `hashed_keys`: its clear
          # id and both hashed schemes' keys. During a rollout (either way)
          # servers disagree on where a session lives; a logout on any of them
          # must end it on all.
          def delete(sid)
            every_key(sid).each { |key| delete_item(at(key)) }
          end

          # Releases a lock without saving; the app raised. No-op here.
          def release(_sid, _loaded); end

          private

          def delete_item(where)
            request = Native::ItemRequest.new(**where)
            instrumented(:delete, request) do |payload|
              call(:delete_item, request, payload)
              payload&.store(:outcome, :deleted)
              nil
            end
          end

          # A session found under an older form of its key while
          # `hashed_keys` is on, moved to its current key (its data and
          # created_at kept) in one transaction with the old item's delete,
          # which requires the old item as this request read it (and our
          # lock on it): nobody is logged out by switching hashed keys on,
          # and a session logged out meanwhile stays logged out.
          def move_to_current_key(sid, data, loaded, expire_at)
            request = Native::MoveRequest.new(**item(sid), from_key: loaded.found_under, data: data,
                                                           created_at: loaded.created_at.to_s, expire_at: expire_at,
                                                           read_updated_at: typed(loaded.updated_at), lock: loaded.lock)
            outcome = instrumented(:write, request) do |payload|
              call(:move_session, request, payload).tap do |moved|
                payload&.merge!(outcome: moved == :moved ? :written : :refused, bytes: data.bytesize)
              end
            end
            return true if outcome == :moved
            # Moved meanwhile by a request that held no lock either: saved
            # there, as the plain path saves (and only if it still exists).
            return save_moved_meanwhile(sid, data, expire_at) if outcome == :source_gone && loaded.lock.nil?

            # Refused with the old item still there: our lock must not stay on it.
            release_lock(at(loaded.found_under), loaded.lock) if loaded.lock && outcome == :refused
            false
          end

          def save_moved_meanwhile(sid, data, expire_at)
            write(Native::SaveRequest.new(**item(sid), data: data, expire_at: expire_at, new_session: false))
          end

          # `[type, text]` of a timestamp as read: S as written by v4, N by v0.5.
          def typed(stamp)
            stamp.is_a?(Numeric) ? ["N", stamp.to_s] : ["S", stamp.to_s]
          end

          # Removes our lock on `where` without saving; a lock no longer ours
          # is left alone.
          def release_lock(where, lock)
            request = Native::LockedItem.new(**where, lock: lock)
            instrumented(:write, request) do |payload|
              call(:release_lock, request, payload).tap { payload&.store(:outcome, :released) }
            end
          end

          # One save, as the `write` event. @return [Boolean] written
          def write(request)
            instrumented(:write, request) do |payload|
              call(:save_session, request, payload).tap do |written|
                payload&.merge!(outcome: written ? :written : :refused, bytes: request.data&.bytesize)
              end
            end
          end

          # The key an item is stored under: the cookie's value, or with
          # `hashed_keys` an HMAC-SHA256 of it under a key derived from the
          # secret (the secret stays in Configuration: its #inspect redacts it).
          def storage_key(sid)
            @hashed ? Native.storage_key(@config.secret_key, sid) : sid
          end

          # With `hashed_keys`, the older keys a session may still be under,
          # in the order they are looked up: the first hashed scheme's, then
          # the cookie's clear value. None without.
          def old_keys(sid)
            @hashed ? [Native.legacy_storage_key(@config.secret_key, sid), sid] : []
          end

          # Every key `sid` may be stored under, its current one first.
          def every_key(sid)
            current = storage_key(sid)
            secret = @config.secret_key
            [current] + ([Native.storage_key(secret, sid), Native.legacy_storage_key(secret, sid), sid] - [current])
          end

          # The item under `key`, in this store's table.
          def at(key)
            { table: @table, key_name: @key, key: key }
          end

          # Runs one native call as the event `event` (Instrumentation) when
          # somebody listens; `request` then asks for the call's stats.
          def instrumented(event, request, &block)
            Instrumentation.instrument(event, @table) do |payload|
              request.instrument = true if payload
              block.call(payload)
            end
          end

          # The native call's result; with a payload, its stats (calls,
          # attempts, retries, consumed capacity) go into the payload.
          def call(method, request, payload)
            result = @client.public_send(method, request)
            return result unless payload

            value, stats = result
            payload.merge!(stats)
            value
          end

          # Bytes of an item's `data`, for the event payload.
          def bytes_of(attributes)
            data = attributes && attributes["data"]
            data.is_a?(String) ? data.bytesize : nil
          end

          # Where the session `sid` lives: the members every request has.
          def item(sid)
            at(storage_key(sid))
          end

          # The item's state, or nil when it has no readable data (the item
          # is missing, or only a lock stub the official gem left behind).
          def loaded_from(item, lock = nil, found_under: nil)
            return nil if item.nil? || stub?(item)

            data = item["data"]
            unless data.is_a?(String)
              raise Errors::CorruptSessionError, "session item has no data string (data is #{describe(data)})"
            end

            # A session whose age can't be read could never expire.
            %w[created_at updated_at].each do |name|
              next if timestamp?(item[name])

              raise Errors::CorruptSessionError, "session item has an unreadable #{name} (#{describe(item[name])})"
            end

            Loaded.new(data: data, created_at: item["created_at"], updated_at: item["updated_at"], lock: lock,
                       found_under: found_under)
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

          # Only a key and a lock: what the official gem's locking leaves
          # when it locks an id whose item is gone. Not a session.
          def stub?(item)
            !item.key?("data") && !item.key?("created_at")
          end
        end
      end
    end
  end
end
