# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # What the middleware knows of one request, kept in the Rack env under
      # one key ({RackMiddleware} reads it with `state(env)`), so nothing of
      # one request leaks into another.
      #
      # - `loaded`: the sessions read, by id (Locking::Loaded), until saved;
      #   a lock they hold is released at the end of the request.
      # - `renewed`: ids made by renew, with the created_at they carry.
      # - `unavailable`: ids whose read failed for a passing reason.
      # - `issued`: ids this store generated in this request (signed by it).
      # - `cookie`: `[value, SessionId or nil]` for the cookie checked.
      # - `invalid_cookie`: the cookie's signature did not check out; the
      #   session's load reports it once.
      # - `missed`: the cookie's id when no item was found for it.
      # - `replaced`: `[new id, cookie id]` when the new id replaced it.
      # - `down`: a DynamoDB call failed for a passing reason; no more calls.
      # - `dropped`: the app dropped the session; the cookie is cleared.
      # - `committing`: Rack is saving the session at the end of the request.
      # - `ended`: the id a renew made for a session that was ended
      #   elsewhere (a logout, a revoke) after this request read it: its
      #   data is not written again.
      # @api private
      RequestState = Struct.new(:loaded, :renewed, :unavailable, :issued, :cookie, :invalid_cookie, :missed,
                                :replaced, :down, :dropped, :committing, :ended) do
        def initialize
          super({}, {}, [], {})
        end
      end
    end
  end
end
