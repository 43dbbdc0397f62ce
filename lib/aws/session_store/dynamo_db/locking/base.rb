# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # How a session is read and saved: {Null} (the default) or
      # {Pessimistic} (`enable_locking: true`). Where items are stored is
      # {StorageKeys}'; what a stored item must hold, {Attributes}'.
      module Locking
        # Reads, saves and deletes session items through the native client.
        class Base
          # @param config [Configuration]
          # @param client [Native::Client]
          def initialize(config, client)
            @config = config
            @client = client
            @table = config.table_name
            @keys = StorageKeys.new(config)
            @users = config.user_key && UserTracking.new(config)
            @cipher = DataCipher.for(config)
          end

          # [UserTracking, nil] with `user_key`: which user a session's item
          # names.
          attr_reader :users

          # Saves a session. `loaded` is what {#get_session_data} returned for
          # this id in this request (nil for a new id); `changes` what to
          # write ({Changes}). A new user gets the session's key in its
          # record before the save.
          # @return [Boolean] false when the item vanished meanwhile (a
          #   destroyed session never comes back) or the new id was taken.
          def save(sid, loaded, changes)
            return move_to_current_key(sid, loaded, changes) if loaded&.under_old_key?

            request = Native::SaveRequest.new(**@keys.location(sid), expire_at: changes.expire_at)
            change_user(request, changes.user) if changes.user
            loaded ? save_existing(request, loaded, changes.data) : save_new(request, changes)
            write(sealed(request))
          end

          # Deletes the item (and with it any lock on it) under every key the
          # session may have, whatever this server's `hashed_keys`: its clear
          # id and both hashed schemes' keys. During a rollout (either way)
          # servers disagree on where a session lives; a logout on any of them
          # must end it on all.
          # @return [Boolean] whether there was an item under any of them.
          def delete(sid)
            @keys.every_key(sid).map { |key| delete_item(@keys.at(key)) }.any?
          end

          # Releases a lock without saving; the app raised. No-op here.
          def release(_sid, _loaded); end

          private

          # The data only when it changed (or is stored in another form than
          # this store writes), under our lock if we hold one.
          def save_existing(request, loaded, data)
            request.data = data unless data == loaded.data && !loaded.stale_form
            request.new_session = false
            request.lock = loaded.lock
          end

          def save_new(request, changes)
            request.data = changes.data
            request.created_at = changes.created_at
            request.new_session = true
          end

          # The save's new user: tracked first, so a revoke that reads the
          # record after this save sees the key.
          def change_user(request, user)
            request.user = user.user
            request.user_agent = user.agent
            track(request, user.user) if user.user
          end

          # A record that reached DynamoDB's item size is made room in
          # (UserSessions.make_room), then written once more.
          def track(request, user, retried: false)
            entry = Native::UserEntry.new(table: request.table, key_name: request.key_name, key: request.key, user: user)
            instrumented(:write, entry) do |payload|
              call(:track_user_session, entry, payload).tap { payload&.store(:outcome, :tracked) }
            end
          rescue Errors::ValidationError
            raise if retried

            UserSessions.make_room(@config, user)
            track(request, user, retried: true)
          end

          def delete_item(location)
            request = Native::ItemRequest.new(**location)
            instrumented(:delete, request) do |payload|
              call(:delete_item, request, payload).tap do |deleted|
                payload&.store(:outcome, deleted ? :deleted : :missing)
              end
            end
          end

          # A session found under an older form of its key while
          # `hashed_keys` is on, moved to its current key (its data and
          # created_at kept) in one transaction with the old item's delete,
          # which requires the old item as this request read it (and our
          # lock on it): nobody is logged out by switching hashed keys on,
          # and a session logged out meanwhile stays logged out.
          def move_to_current_key(sid, loaded, changes)
            outcome = move(sealed(move_request(sid, loaded, changes)))
            return true if outcome == :moved
            # Moved meanwhile by a request that held no lock either: saved
            # there, as the plain path saves (and only if it still exists).
            return save_moved_meanwhile(sid, changes) if outcome == :source_gone && loaded.lock.nil?

            # Refused with the old item still there: our lock must not stay on it.
            release_lock(@keys.at(loaded.found_under), loaded.lock) if loaded.lock && outcome == :refused
            false
          end

          # The session's user goes with it (the new key joins the user's
          # record in the move's transaction); a changed user, the new one.
          def move_request(sid, loaded, changes)
            user = changes.user
            Native::MoveRequest.new(**@keys.location(sid), from_key: loaded.found_under, data: changes.data,
                                                           created_at: loaded.created_at.to_s,
                                                           expire_at: changes.expire_at,
                                                           read_updated_at: typed(loaded.updated_at), lock: loaded.lock,
                                                           user: user ? user.user || nil : loaded.user,
                                                           user_agent: user ? user.agent : loaded.user_agent)
          end

          # `request` with its data as stored: encrypted for its own item
          # with `encrypt_data`.
          def sealed(request)
            request.data = @cipher.seal(request.data, request.table, request.key_name, request.key) if request.data && @cipher
            request
          end

          # One move, as the `write` event. @return [Symbol] the outcome
          def move(request)
            instrumented(:write, request) do |payload|
              call(:move_session, request, payload).tap do |moved|
                payload&.merge!(outcome: moved == :moved ? :written : :refused, bytes: request.data.bytesize)
              end
            end
          end

          def save_moved_meanwhile(sid, changes)
            request = Native::SaveRequest.new(**@keys.location(sid), data: changes.data, expire_at: changes.expire_at,
                                                                     new_session: false)
            change_user(request, changes.user) if changes.user
            write(sealed(request))
          end

          # `[type, text]` of a timestamp as read: S as written by v4, N by v0.5.
          def typed(stamp)
            stamp.is_a?(Numeric) ? ["N", stamp.to_s] : ["S", stamp.to_s]
          end

          # Removes our lock on `location` without saving; a lock no longer
          # ours is left alone.
          def release_lock(location, lock)
            request = Native::LockedItem.new(**location, lock: lock)
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

          # Runs one native call as the event `event` (Instrumentation) when
          # somebody listens; `request` then asks for the call's stats.
          def instrumented(event, request)
            consistent = request.respond_to?(:consistent) ? request.consistent : nil
            Instrumentation.instrument(event, @table, consistent: consistent) do |payload|
              request.instrument = true if payload
              yield payload
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
          rescue Errors::Error => e
            # A failed call's operations ride on its exception, for the spans.
            operations = e.instance_variable_get(:@native_operations) if payload
            payload[:operations] = operations if operations
            raise
          end
        end
      end
    end
  end
end
