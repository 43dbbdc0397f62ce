# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # With `user_key`: which user a session belongs to, as its item's
      # `user_id` holds it (the user's id, or with `hashed_keys` its keyed
      # hash), and what a save must do when that changes. One per
      # middleware (and per {UserSessions} call).
      # @api private
      class UserTracking
        # The most of a User-Agent kept (`keep_user_agent`), in characters.
        AGENT_LENGTH = 200

        # A save's change of user: `user` the new `user_id` (false: none
        # now), `agent` the User-Agent to keep with it, or nil.
        Change = Struct.new(:user, :agent)

        # @param config [Configuration] with `user_key` set.
        def initialize(config)
          @key = config.user_key
          @key = @key.to_s unless @key.respond_to?(:call)
          @secret = config.secret_key
          @hashed = config.hashed_keys
          @agent = config.keep_user_agent
        end

        # The `user_id` an item holds for the user `id` (an Integer or a
        # String, as the app names its users).
        # @raise [Errors::ConfigurationError] for any other kind of id.
        def stored_id(id)
          text = text_of(id)
          @hashed ? Native.user_key(@secret, text) : text
        end

        # Both forms an item may hold for the user `id`, this server's
        # first: during a rollout of `hashed_keys` (either way) servers
        # disagree on it, and sessions not written since keep the other.
        def stored_ids(id)
          text = text_of(id)
          hashed = Native.user_key(@secret, text)
          @hashed ? [hashed, text] : [text, hashed]
        end

        # nil when the item already holds the session's user; else the
        # {Change} the save makes.
        # @param loaded [Locking::Loaded, nil] the item as read.
        # @param session [Hash] the session's data.
        # @param env [Hash, nil] the Rack env, for the User-Agent.
        def change(loaded, session, env)
          user = user_of(session)
          return nil if user == loaded&.user

          Change.new(user || false, user && agent(env))
        end

        def inspect
          "#<#{self.class.name}>"
        end

        private

        def text_of(id)
          text = case id
                 when String then id
                 when Integer then id.to_s
                 else raise Errors::ConfigurationError, "user_key: a user's id must be a String or an " \
                                                        "Integer, not #{id.class}"
                 end
          raise Errors::ConfigurationError, "user_key: a user's id must not be empty" if text.empty?

          text
        end

        # The session's user as its item holds it, or nil.
        def user_of(session)
          id = @key.respond_to?(:call) ? call_user_key(session) : session[@key]
          id.nil? ? nil : stored_id(id)
        end

        # The app's callable; what it raises is reported as a configuration
        # error without its message (which may quote the session).
        def call_user_key(session)
          @key.call(session)
        rescue StandardError => e
          raise Errors::ConfigurationError, "user_key: the callable raised #{e.class}"
        end

        def agent(env)
          return nil unless @agent && env

          text = env["HTTP_USER_AGENT"]
          text.is_a?(String) && !text.empty? ? text.scrub[0, AGENT_LENGTH] : nil
        end
      end
    end
  end
end
