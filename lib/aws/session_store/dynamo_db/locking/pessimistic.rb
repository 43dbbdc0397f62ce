# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Locking
        # Pessimistic locking: a request holds the session's lock from read to
        # save, so concurrent requests on one session run one at a time. The
        # waiting and lock busting happen in Rust with the GVL released.
        class Pessimistic < Base
          # @return [Loaded, nil] nil when the item does not exist (no stub
          #   item is created).
          # @raise [Errors::LockWaitTimeoutError] after `lock_max_wait_time`.
          def get_session_data(sid)
            locked = nil
            # A request that held the lock on an old key may have moved the
            # session while we waited for it: the search then looks under
            # the current key again.
            found_under = @keys.search(sid) { |location| locked = acquire(location) }
            return nil unless locked

            location = found_under ? @keys.at(found_under) : @keys.location(sid)
            loaded_or_released(location, locked[0], locked[1], found_under)
          end

          # Removes our lock without saving.
          def release(sid, loaded)
            return unless loaded&.lock

            release_lock(loaded.under_old_key? ? @keys.at(loaded.found_under) : @keys.location(sid), loaded.lock)
          end

          private

          # The session whose lock we hold now; nil, with the lock item
          # deleted, for a stub (so it can't trap the id); with the lock
          # released, the error for an item that is no session.
          def loaded_or_released(location, attributes, lock, found_under)
            if Attributes.stub?(attributes)
              delete_item(location)
              return nil
            end

            begin
              Attributes.loaded(attributes, lock, found_under: found_under, cipher: @cipher, location: location)
            rescue Errors::CorruptSessionError
              release_lock(location, lock)
              raise
            end
          end

          # [attributes, lock, takeover] once the lock on `location` is ours,
          # or nil (no item).
          def acquire(location)
            request = lock_request(location)
            locked = nil
            returned = false
            instrumented(:lock_wait, request) do |payload|
              locked = call(:lock_session, request, payload)
              note_acquired(payload, locked) if payload
            end
            returned = true
            locked
          ensure
            # Taken, but something raised before the caller could record it:
            # released here, on every path out (ensure, not rescue).
            release_quietly(location, locked[1]) if locked && !returned
          end

          def lock_request(location)
            Native::LockRequest.new(
              **location,
              consistent: @config.consistent_read,
              expiry_ms: Integer(@config.lock_expiry_time),
              retry_delay_ms: Integer(@config.lock_retry_delay),
              max_wait_ms: (@config.lock_max_wait_time * 1000).to_i
            )
          end

          def note_acquired(payload, locked)
            payload.merge!(outcome: locked ? :acquired : :missing, bytes: Attributes.data_bytes(locked&.first))
            # Taken from another holder: why (:expired, :future, :unreadable).
            payload[:takeover] = locked[2] if locked && locked[2]
          end

          # A release on the way out of an exception: the exception is the
          # one that counts; the lock expires if this fails too.
          def release_quietly(location, lock)
            release_lock(location, lock)
          rescue StandardError
            nil
          end
        end
      end
    end
  end
end
