# frozen_string_literal: true

require "rack"
require "rack/session/abstract/id"

module Aws
  module SessionStore
    module DynamoDB
      # Rack middleware keeping sessions in DynamoDB.
      #
      #   use Aws::SessionStore::DynamoDB::RackMiddleware,
      #       secret_key: ENV.fetch("SESSION_SECRET"), table_name: "sessions"
      #
      # Store options (see {Configuration}) configure the store only; Rack's
      # own options (`key`, `path`, `domain`, `expire_after`, `secure`,
      # `httponly`, `same_site`, `defer`, `renew`, `drop`, `skip`) go to Rack
      # and never the other way round.
      #
      # The cookie holds `"<HMAC-MD5 hex>--<sid>"`, the item's key, exactly as
      # the official gem writes it (with `hashed_keys`, an HMAC-SHA256 of it
      # is the key).
      #
      # Session ids are `Rack::Session::SessionId`s wherever Rack or Rails
      # see them, as with Rack's `PersistedSecure`: `public_id` (and `to_s`)
      # is the cookie's value, `session["session_id"]` (or
      # `session[:session_id]`) and `env["rack.session.options"][:id]` give
      # it too. `private_id` is Rack's: a SHA-256 digest of the public id;
      # the store never uses it (the storage key is the public id, or with
      # `hashed_keys` an HMAC-SHA256 of it under a key derived from the
      # secret, which nothing in the public id reveals). An id from the
      # user's side (the cookie, or one handed back to `find_session`,
      # `write_session`, `delete_session`) counts only once its signature
      # checks out, in constant time.
      class RackMiddleware < Rack::Session::Abstract::PersistedSecure
        # `env["rack.session"]`: Rack's, with `session[:session_id]` the
        # public id as `session["session_id"]` is (as in Rails).
        class SessionHash < Rack::Session::Abstract::PersistedSecure::SecureSessionHash
          def [](key)
            super(key.is_a?(Symbol) ? key.to_s : key)
          end
        end

        # @return [Configuration]
        attr_reader :config

        # Writes `message` to stderr the first time this process sees it.
        # @api private
        def self.warn_once(message)
          Warnings.warn_once([:lifetime, message], message)
        end

        # Forgets the warnings given, so a spec can see them again.
        # @api private
        def self.forget_warnings!
          Warnings.forget!(:lifetime)
        end

        # The Rack env key of this request's RequestState.
        STATE_KEY = "aws.session_store.dynamo_db.request"
        private_constant :STATE_KEY

        # @param app [#call]
        # @param options [Hash] store options ({Configuration}) and Rack
        #   session options. `secret_key` is required.
        # @raise [Errors::MissingSecretKeyError, Errors::ConfigurationError]
        def initialize(app, options = {})
          store_options, rack_options = split_options(options)
          super(app, rack_options)
          @config = Configuration.new(store_options.merge(require_secret: true))
          client = Native.client(@config.native_client_options)
          @lock = (@config.enable_locking ? Locking::Pessimistic : Locking::Null).new(@config, client)
          @ids = SessionIds.new(@config.secret_key, @sid_length)
          @presented = PresentedIds.new(@ids)
          @lifetime = Lifetime.new(@config, @default_options[:expire_after])
          @lifetime.warn_at_boot
          build_parts
        end

        # Releases any pessimistic lock this request still holds: when the
        # app raised, or Rack skipped the save (`skip`, a secure cookie over
        # plain HTTP). Without locking nothing is held and this is a no-op.
        def call(env)
          env[UserSessions::ENV_KEY] = @user_sessions if @user_sessions
          super
        ensure
          release_locks(env) if @config.enable_locking
        end

        # Clears the cookie when the app dropped the session (`drop`): a
        # logout is final for the browser whatever DynamoDB answered.
        def commit_session(req, res)
          state(req.env).committing = true
          super
        ensure
          clear_cookie(req, res) if state(req.env).dropped
        end

        # Set to "true" in the Rack env when the request's session is new (no
        # cookie, an invalid one, or its item is gone), as the official
        # middleware does; apps read it.
        NEW_SESSION_KEY = "dynamo_db.new_session"

        # @param sid [Rack::Session::SessionId, String, nil] the id presented.
        # @return [Array(Rack::Session::SessionId, Hash)] the session id and
        #   the session: a new id unless `sid` is signed and its session is
        #   there (or DynamoDB could not be asked).
        def find_session(req, sid)
          state = state(req.env)
          invalid_cookie = state.invalid_cookie
          state.invalid_cookie = nil
          return [issue(state), {}] if req.session.options[:skip]

          id = presented_id(req.env, state, sid, invalid_cookie)
          (id && found_session(req.env, state, id)) || new_session(req.env, state, id)
        end

        # @param sid [Rack::Session::SessionId, String] the id to save under:
        #   one this store gave out (find_session, delete_session).
        # @return [Rack::Session::SessionId, false] the id written, false
        #   when not saved.
        def write_session(req, sid, session, options)
          state = state(req.env)
          id = SessionIds.public_id(sid)
          @errors.guarded(req.env, state, false) do
            @writer.write(state, id, session, options[:expire_after], req.env) && session_id(id)
          end
        end

        # Deletes the item. @return [Rack::Session::SessionId, nil] a new id,
        # nil on drop.
        #
        # Rack may hand over the cookie's raw value (`reset_session` before
        # the session was read): only an id whose signature checks out is
        # ever deleted, so a forged cookie can't delete someone's session.
        #
        # A delete that fails (an outage, a timeout) still ends the session:
        # the id is remembered by this process, refused from then on, and
        # deleted again once DynamoDB answers (Logouts); with `drop` the
        # response clears the cookie. The error goes to the handler (raised
        # with `raise_errors`).
        def delete_session(req, sid, options)
          state = state(req.env)
          state.dropped = true if options[:drop]
          id = @presented.checked(state, sid)
          loaded = id && state.loaded.delete(id)
          existed = id && @logouts.end_session(req.env, state, id)
          new_id(state, loaded, options).tap { |new_sid| ended(state, new_sid, options) if loaded && existed == false }
        end

        private

        # [store options, Rack options]; an unknown name is reported once.
        def split_options(options)
          options = (options || {}).transform_keys(&:to_sym)
          names = Configuration::OPTION_NAMES
          rack_options = options.reject { |name, _| names.include?(name) }
          UnknownOptions.report(rack_options.keys, known: names + UnknownOptions::RACK_OPTION_NAMES,
                                                   source: "#{self.class.name} options")
          [options.slice(*names), rack_options]
        end

        # The parts that share the lock strategy and the error handling.
        def build_parts
          serializer = @config.serializer_object
          @errors = BackendErrors.new(@config)
          @logouts = Logouts.new(@lock, @errors)
          @reader = SessionReader.new(lock: @lock, lifetime: @lifetime, serializer: serializer, logouts: @logouts,
                                      errors: @errors)
          @writer = SessionWriter.new(lock: @lock, ids: @ids, lifetime: @lifetime, serializer: serializer,
                                      logouts: @logouts)
          @user_sessions = @config.user_key && UserSessions::Scope.new(@config)
        end

        # A random id of at least 128 bits, signed: "<hmac>--<sid>".
        def generate_sid(*)
          session_id(@ids.generate)
        end

        # `sid`'s public id when its signature checks out and it was not
        # logged out during a fault (then it gets a new session); an id
        # refused is reported.
        def presented_id(env, state, sid, invalid_cookie)
          id = @presented.checked(state, sid)
          # No id given: a cookie may have been refused (extract_session_id).
          @errors.handle(env, state, Errors::InvalidIDError.new) if sid.nil? ? invalid_cookie : id.nil?
          id unless id && @logouts.refused?(id, state)
        end

        # `[id, session]` when the session `id` is there, or when DynamoDB
        # could not be asked: the id is kept, so the stored session is there
        # again once it answers (write_session won't touch it). Else nil.
        def found_session(env, state, id)
          session = @reader.read(env, state, id)
          return [session_id(id), session] if session

          [session_id(id), {}] if state.unavailable.include?(id)
        end

        def new_session(env, state, id)
          env[NEW_SESSION_KEY] = "true"
          new_sid = issue(state)
          # Not found here, but it may live under a key this server does not
          # read (a hashed_keys rollout): a logout in this request ends it too.
          state.replaced = [new_sid.public_id, id] if id && state.missed == id
          [new_sid, {}]
        end

        # The id after a delete: nil on drop, else a new one, which is
        # `options[:id]` from now on (`session.destroy` in plain Rack goes on
        # with it; Rails loads the session again from it).
        def new_id(state, loaded, options)
          return nil if options[:drop]

          new_sid = issue(state)
          # Carry created_at over (older gem versions stored it as a number).
          created = loaded&.created_at
          state.renewed[new_sid.public_id] = created.to_s if created.is_a?(String) || created.is_a?(Numeric)
          options[:id] = new_sid
        end

        # Rack's renew carries the session's data over to the new id. When
        # the item was already gone (a logout or revoke elsewhere after this
        # request read it), nothing is carried: the new id is not written,
        # and the response clears the cookie, as after a drop.
        def ended(state, new_sid, options)
          return unless new_sid && state.committing && options[:renew]

          state.ended = new_sid.public_id
          state.dropped = true
        end

        def session_id(id)
          Rack::Session::SessionId.new(id)
        end

        # A new id, recorded as this request's own.
        def issue(state)
          generate_sid.tap { |sid| state.issued[sid.public_id] = true }
        end

        def session_class
          SessionHash
        end

        # The cookie's id, a SessionId, only when its signature checks out;
        # otherwise nil, and the load that follows reports InvalidIDError.
        def extract_session_id(req)
          @presented.from_cookie(state(req.env), super)
        end

        # A cookie whose signature did not check out still loads the
        # session: it gets a new id (and the cookie is replaced).
        def session_exists?(req)
          super || state(req.env).invalid_cookie == true
        end

        # The loaded id in the session options too, where Rails keeps it.
        def load_session(req)
          sid, session = super
          req.session_options[:id] = sid
          [sid, session]
        end

        def state(env)
          env[STATE_KEY] ||= RequestState.new
        end

        # A deleting Set-Cookie for the session cookie, with its path and
        # domain (Rack 2's Response::Raw and Rack 3's Response alike).
        def clear_cookie(req, res)
          options = req.session.options
          res.delete_cookie(@key, { path: options[:path], domain: options[:domain], secure: options[:secure],
                                    httponly: options[:httponly], same_site: options[:same_site] }.compact)
        end

        # Without a second wait when DynamoDB already failed this request:
        # the lock then expires after lock_expiry_time.
        def release_locks(env)
          state = state(env)
          held = state.loaded
          @errors.guarded(env, state, nil) do
            held.each { |sid, loaded| @lock.release(sid, loaded) } unless state.down
          end
        ensure
          held&.clear
        end
      end
    end
  end
end
