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
            where = item(sid)
            found, lock = acquire(where)
            clear_key = nil
            if found.nil? && @hashed
              # hashed_keys was switched on: the session may still be under its clear id.
              where = clear_item(sid)
              clear_key = sid
              found, lock = acquire(where)
            end
            return nil unless found

            if stub?(found)
              # We hold its lock now; remove the stub so it can't trap the id.
              delete(sid)
              return nil
            end

            begin
              loaded_from(found, lock, clear_key: clear_key)
            rescue Errors::CorruptSessionError
              release_lock(where, lock)
              raise
            end
          end

          # Removes our lock without saving.
          def release(sid, loaded)
            return unless loaded&.lock

            release_lock(loaded.migrating? ? clear_item(sid) : item(sid), loaded.lock)
          end

          private

          # [item, lock] once the lock on `where` is ours, or nil (no item).
          def acquire(where)
            request = Native::LockRequest.new(
              **where,
              consistent: @config.consistent_read,
              expiry_ms: Integer(@config.lock_expiry_time),
              retry_delay_ms: Integer(@config.lock_retry_delay),
              max_wait_ms: (@config.lock_max_wait_time * 1000).to_i
            )
            instrumented(:lock_wait, request) do |payload|
              call(:lock_session, request, payload).tap do |locked|
                payload&.merge!(outcome: locked ? :acquired : :missing, bytes: bytes_of(locked&.first))
              end
            end
          end

          def release_lock(where, lock)
            request = Native::LockedItem.new(**where, lock: lock)
            instrumented(:write, request) do |payload|
              call(:release_lock, request, payload).tap { payload&.store(:outcome, :released) }
            end
          end
        end
      end
    end
  end
end
