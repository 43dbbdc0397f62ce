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
            found, lock, found_under = acquire_any(sid)
            return nil unless found

            where = found_under ? at(found_under) : item(sid)
            if stub?(found)
              # We hold its lock now; remove the stub so it can't trap the id.
              delete_item(where)
              return nil
            end

            begin
              loaded_from(found, lock, found_under: found_under)
            rescue Errors::CorruptSessionError
              release_lock(where, lock)
              raise
            end
          end

          # Removes our lock without saving.
          def release(sid, loaded)
            return unless loaded&.lock

            release_lock(loaded.under_old_key? ? at(loaded.found_under) : item(sid), loaded.lock)
          end

          private

          # [item, lock, old key or nil] with the lock ours, under the current
          # key or (with hashed_keys) an older one; nil when there is none.
          # A request that held the lock on an old key may have moved the
          # session while we waited for it: then it is looked for again
          # under the current key.
          def acquire_any(sid)
            found, lock = acquire(item(sid))
            return [found, lock, nil] if found || !@hashed

            old_keys(sid).each do |key|
              found, lock = acquire(at(key))
              return [found, lock, key] if found
            end
            found, lock = acquire(item(sid))
            found && [found, lock, nil]
          end

          # [item, lock, takeover] once the lock on `where` is ours, or nil
          # (no item).
          def acquire(where)
            request = Native::LockRequest.new(
              **where,
              consistent: @config.consistent_read,
              expiry_ms: Integer(@config.lock_expiry_time),
              retry_delay_ms: Integer(@config.lock_retry_delay),
              max_wait_ms: (@config.lock_max_wait_time * 1000).to_i
            )
            locked = nil
            returned = false
            instrumented(:lock_wait, request) do |payload|
              locked = call(:lock_session, request, payload)
              payload&.merge!(outcome: locked ? :acquired : :missing, bytes: bytes_of(locked&.first))
              # Taken from another holder: why (:expired, :future, :unreadable).
              payload[:takeover] = locked[2] if payload && locked && locked[2]
            end
            returned = true
            locked
          ensure
            # Taken, but something raised before the caller could record it:
            # released here, on every path out (ensure, not rescue).
            release_quietly(where, locked[1]) if locked && !returned
          end

          # A release on the way out of an exception: the exception is the
          # one that counts; the lock expires if this fails too.
          def release_quietly(where, lock)
            release_lock(where, lock)
          rescue StandardError
            nil
          end
        end
      end
    end
  end
end
