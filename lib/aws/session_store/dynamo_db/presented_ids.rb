# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Ids from the user's side as the middleware sees them: the cookie's,
      # checked once per request (its verdict kept in the RequestState), and
      # any handed back to the middleware, which count only once signed.
      # @api private
      class PresentedIds
        # @param ids [SessionIds]
        def initialize(ids)
          @ids = ids
        end

        # The cookie's id, a SessionId, only when its signature checks out;
        # otherwise nil (and the state notes an invalid cookie). An empty or
        # absent cookie is no id, as in Rack.
        # @param presented [Rack::Session::SessionId, String, nil] Rack's
        #   reading of the cookie.
        def from_cookie(state, presented)
          raw = presented.is_a?(Rack::Session::SessionId) ? presented.public_id : presented
          return nil if blank?(raw)

          seen = state.cookie
          seen = state.cookie = [raw, session_id(raw)] unless seen && seen[0] == raw
          state.invalid_cookie = true unless seen[1]
          seen[1]
        end

        # `sid`'s public id when its signature checks out (constant time),
        # else nil. The SessionId {#from_cookie} gave this request was
        # checked there.
        def checked(state, sid)
          seen = state.cookie
          return sid.public_id if seen && seen[1] && sid.equal?(seen[1])

          @ids.checked(sid)
        end

        def inspect
          "#<#{self.class.name}>"
        end

        private

        def blank?(raw)
          raw.nil? || (raw.respond_to?(:empty?) && raw.empty?)
        end

        def session_id(raw)
          id = @ids.checked(raw)
          id && Rack::Session::SessionId.new(id)
        end
      end
    end
  end
end
