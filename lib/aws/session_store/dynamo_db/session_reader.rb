# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # The middleware's read path: the item through the lock strategy, an
      # expired one discarded, the data decoded; what the request learns on
      # the way goes into its RequestState. One per middleware.
      # @api private
      class SessionReader
        # @param lock [Locking::Base]
        # @param lifetime [Lifetime]
        # @param serializer [#load]
        # @param logouts [Logouts]
        # @param errors [BackendErrors]
        def initialize(lock:, lifetime:, serializer:, logouts:, errors:)
          @lock = lock
          @lifetime = lifetime
          @serializer = serializer
          @logouts = logouts
          @errors = errors
        end

        # @return [Hash, nil] the session `id`, or nil: no item, an expired
        #   one, or an error (handled; after a passing one the id is
        #   recorded as unavailable).
        def read(env, state, id)
          @errors.guarded(env, state, nil, unreadable: id) do
            loaded = @lock.get_session_data(id)
            # DynamoDB answers: deletes that failed earlier are tried again.
            @logouts.retry_pending
            state.missed = id unless loaded
            loaded && decode(state, id, loaded)
          end
        end

        def inspect
          "#<#{self.class.name}>"
        end

        private

        # The session read, or nil when it has expired (a lock on it is
        # released).
        def decode(state, id, loaded)
          if @lifetime.expired?(loaded)
            @lock.release(id, loaded)
            return nil
          end

          # Recorded before decoding, so a lock on an undecodable item is
          # still released at the end of the request.
          state.loaded[id] = loaded
          @serializer.load(loaded.data)
        end
      end
    end
  end
end
