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
        # @param env [Hash, nil] the Rack env (the User-Agent, with `user_key`).
        # @return [Boolean] whether the session is saved (or needed no write).
        # @raise [Errors::InvalidIDError] for an id neither read nor issued
        #   in this request whose signature does not check out.
        def write(state, id, session, expire_after, env = nil)
          return false if withheld?(state, id)

          # Forgotten only once saved: if the save raises, the lock (if any)
          # is still released at the end of the request.
          loaded = id && state.loaded[id]
          return true if empty_new?(state, id, loaded, session)
          # DynamoDB already failed this request: no second wait for it.
          return false if state.down

          changes = changes(loaded, session.to_hash, expire_after, env)
          changes.nil? || save(state, id, loaded, changes)
        end

        def inspect
          "#<#{self.class.name}>"
        end

        private

        # Read failed for a passing reason: neither overwrite the stored
        # session with this request's stand-in nor replace the cookie. Or
        # renewed from a session ended elsewhere meanwhile: it stays ended.
        def withheld?(state, id)
          return false unless id

          state.unavailable.include?(id) || id == state.ended
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

        # What the save writes, or nil when the stored session needs no
        # write: its data is the same and fresh enough, and (with
        # `user_key`) it holds the same user; a change of user is always
        # written.
        def changes(loaded, hash, expire_after, env)
          data = @serializer.dump(hash)
          user = @lock.users&.change(loaded, hash, env)
          return nil if user.nil? && @lifetime.fresh_enough?(loaded, data, expire_after)

          Locking::Changes.new(data: data, expire_at: @lifetime.expire_at(expire_after), user: user)
        end

        def save(state, id, loaded, changes)
          changes.created_at = state.renewed.delete(id) || Time.now.to_f.to_s
          saved = @lock.save(id, loaded, changes)
          state.loaded.delete(id)
          @logouts.retry_pending
          saved
        end
      end
    end
  end
end
