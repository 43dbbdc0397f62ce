# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # The middleware's write path: whether a session needs writing at all
      # (write avoidance), and the save. One per middleware; the request's
      # own facts come in its RequestState.
      # @api private
      class SessionWriter
        # @param lock [Locking::Base]
        # @param ids [SessionIds]
        # @param lifetime [Lifetime]
        # @param serializer [#dump]
        # @param logouts [Logouts]
        def initialize(lock:, ids:, lifetime:, serializer:, logouts:)
          @lock = lock
          @ids = ids
          @lifetime = lifetime
          @serializer = serializer
          @logouts = logouts
        end

        # @param id [String, nil] the public id to save under.
        # @return [Boolean] whether the session is saved (or needed no write).
        # @raise [Errors::InvalidIDError] for an id neither read nor issued
        #   in this request whose signature does not check out.
        def write(state, id, session, expire_after)
          # Read failed for a passing reason: neither overwrite the stored
          # session with this request's stand-in nor replace the cookie.
          return false if unavailable?(state, id)

          # Forgotten only once saved: if the save raises, the lock (if any)
          # is still released at the end of the request.
          loaded = id && state.loaded[id]
          return true if empty_new?(state, id, loaded, session)
          # DynamoDB already failed this request: no second wait for it.
          return false if state.down

          data = @serializer.dump(session.to_hash)
          @lifetime.fresh_enough?(loaded, data, expire_after) || save(state, id, data, loaded, expire_after)
        end

        def inspect
          "#<#{self.class.name}>"
        end

        private

        def unavailable?(state, id)
          id ? state.unavailable.include?(id) : false
        end

        # A new id with nothing in it: nothing to keep, nothing to write.
        def empty_new?(state, id, loaded, session)
          loaded.nil? && own?(state, id) && session.empty?
        end

        # An id read or generated this request was checked or signed then;
        # any other must be signed.
        def own?(state, id)
          return true if id && (state.issued.key?(id) || @ids.valid?(id))

          raise Errors::InvalidIDError
        end

        def save(state, id, data, loaded, expire_after)
          created_at = state.renewed.delete(id) || Time.now.to_f.to_s
          saved = @lock.save(id, data, loaded, created_at: created_at, expire_at: @lifetime.expire_at(expire_after))
          state.loaded.delete(id)
          @logouts.retry_pending
          saved
        end
      end
    end
  end
end
