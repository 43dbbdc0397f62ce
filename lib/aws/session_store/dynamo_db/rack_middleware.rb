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
        # Most ids whose delete failed that one process remembers (about
        # 200 bytes each); past it the oldest is forgotten, with a line.
        MAX_PENDING_DELETES = 10_000
        # Most remembered deletes retried after one successful read or save.
        PENDING_PER_REQUEST = 16
        private_constant :STATE_KEY, :MAX_PENDING_DELETES, :PENDING_PER_REQUEST

        # @param app [#call]
        # @param options [Hash] store options ({Configuration}) and Rack
        #   session options. `secret_key` is required.
        # @raise [Errors::MissingSecretKeyError, Errors::ConfigurationError]
        def initialize(app, options = {})
          options = (options || {}).transform_keys(&:to_sym)
          store_options = options.slice(*Configuration::OPTION_NAMES)
          rack_options = options.reject { |name, _| Configuration::OPTION_NAMES.include?(name) }
          UnknownOptions.report(rack_options.keys, known: Configuration::OPTION_NAMES + UnknownOptions::RACK_OPTION_NAMES,
                                                   source: "#{self.class.name} options")
          super(app, rack_options)
          @config = Configuration.new(store_options.merge(require_secret: true))
          @serializer = @config.serializer_object
          client = Native.client(@config.native_client_options)
          @lock = (@config.enable_locking ? Locking::Pessimistic : Locking::Null).new(@config, client)
          @ids = SessionIds.new(@config.secret_key, @sid_length)
          @pending_deletes = PendingDeletes.new(MAX_PENDING_DELETES)
          @lifetime = Lifetime.new(@config, @default_options[:expire_after])
          @lifetime.warn_at_boot
        end

        # Releases any pessimistic lock this request still holds: when the
        # app raised, or Rack skipped the save (`skip`, a secure cookie over
        # plain HTTP). Without locking nothing is held and this is a no-op.
        def call(env)
          super
        ensure
          release_locks(env) if @config.enable_locking
        end

        # Clears the cookie when the app dropped the session (`drop`): a
        # logout is final for the browser whatever DynamoDB answered.
        def commit_session(req, res)
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
          invalid_cookie = state(req.env).invalid_cookie
          state(req.env).invalid_cookie = nil
          return [issue(req), {}] if req.session.options[:skip]

          id = checked_id(req, sid)
          # No id given: a cookie may have been refused (extract_session_id).
          invalid = sid.nil? ? invalid_cookie : id.nil?
          handle_error(req.env, Errors::InvalidIDError.new) if invalid
          if id && pending_delete?(id)
            # Logged out during a fault: never served again, whatever the
            # item says; its delete is tried again now.
            retry_delete(id, req.env)
            id = nil
          end
          if id
            session = read_session(req, id)
            return [session_id(id), session] if session
            # DynamoDB could not be asked: keep the id, so the stored session
            # is there again once it answers (write_session won't touch it).
            return [session_id(id), {}] if unavailable(req.env).include?(id)
          end
          req.env[NEW_SESSION_KEY] = "true"
          new_sid = issue(req)
          # Not found here, but it may live under a key this server does not
          # read (a hashed_keys rollout): a logout in this request ends it too.
          state(req.env).replaced = [new_sid.public_id, id] if id && state(req.env).missed == id
          [new_sid, {}]
        end

        # @param sid [Rack::Session::SessionId, String] the id to save under:
        #   one this store gave out (find_session, delete_session).
        # @return [Rack::Session::SessionId, false] the id written, false
        #   when not saved.
        def write_session(req, sid, session, options)
          id = public_id(sid)
          # Read failed for a passing reason: neither overwrite the stored
          # session with this request's stand-in nor replace the cookie.
          return false if id && unavailable(req.env).include?(id)

          # Forgotten only once saved: if the save raises, the lock (if any)
          # is still released at the end of the request.
          loaded = id && loaded_sessions(req.env)[id]
          # An id read or generated this request was checked or signed then;
          # any other must be signed.
          raise Errors::InvalidIDError if loaded.nil? && !(id && (issued(req.env).key?(id) || valid_sid?(id)))
          # A new id with nothing in it: nothing to keep, nothing to write.
          return session_id(id) if loaded.nil? && session.empty?
          # DynamoDB already failed this request: no second wait for it.
          return false if state(req.env).down

          data = @serializer.dump(session.to_hash)
          return session_id(id) if @lifetime.fresh_enough?(loaded, data, options[:expire_after])

          created_at = renewed(req.env).delete(id) || now_string
          saved = @lock.save(id, data, loaded, created_at: created_at, expire_at: @lifetime.expire_at(options[:expire_after]))
          loaded_sessions(req.env).delete(id)
          retry_pending_deletes
          saved ? session_id(id) : false
        rescue StandardError => e
          handle_error(req.env, e)
          false
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
        # deleted again once DynamoDB answers; with `drop` the response
        # clears the cookie. The error goes to the handler (raised with
        # `raise_errors`).
        def delete_session(req, sid, options)
          state(req.env).dropped = true if options[:drop]
          id = checked_id(req, sid)
          loaded = id && loaded_sessions(req.env).delete(id)
          delete_or_remember(req.env, id) if id
          replaced, cookie_id = state(req.env).replaced
          delete_or_remember(req.env, cookie_id) if replaced && replaced == id
          new_id(req, loaded, options)
        end

        private

        # A random id of at least 128 bits, signed: "<hmac>--<sid>".
        def generate_sid(*)
          session_id(@ids.generate)
        end

        # The id after a delete: nil on drop, else a new one, which is
        # `options[:id]` from now on (`session.destroy` in plain Rack goes on
        # with it; Rails loads the session again from it).
        def new_id(req, loaded, options)
          return nil if options[:drop]

          new_sid = issue(req)
          # Carry created_at over (older gem versions stored it as a number).
          created = loaded&.created_at
          renewed(req.env)[new_sid.public_id] = created.to_s if created.is_a?(String) || created.is_a?(Numeric)
          options[:id] = new_sid
        end

        def session_id(id)
          Rack::Session::SessionId.new(id)
        end

        # A new id, recorded as this request's own.
        def issue(req)
          generate_sid.tap { |sid| issued(req.env)[sid.public_id] = true }
        end

        def session_class
          SessionHash
        end

        # The cookie's id, a SessionId, only when its signature checks out;
        # otherwise nil, and the load that follows reports InvalidIDError. An
        # empty or absent cookie is no id, as in Rack.
        def extract_session_id(req)
          presented = super
          raw = presented.is_a?(Rack::Session::SessionId) ? presented.public_id : presented
          return nil if raw.nil? || (raw.respond_to?(:empty?) && raw.empty?)

          seen = state(req.env).cookie
          unless seen && seen[0] == raw
            id = checked(raw)
            seen = state(req.env).cookie = [raw, id && session_id(id)]
          end
          state(req.env).invalid_cookie = true unless seen[1]
          seen[1]
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

        def public_id(sid)
          SessionIds.public_id(sid)
        end

        # `sid`'s public id when its signature checks out (constant time),
        # else nil. The SessionId extract_session_id gave this request was
        # checked there.
        def checked_id(req, sid)
          seen = state(req.env).cookie
          return sid.public_id if seen && seen[1] && sid.equal?(seen[1])

          checked(sid)
        end

        def checked(sid)
          @ids.checked(sid)
        end

        def valid_sid?(sid)
          @ids.valid?(sid)
        end

        def read_session(req, sid)
          loaded = @lock.get_session_data(sid)
          # DynamoDB answers: deletes that failed earlier are tried again.
          retry_pending_deletes
          unless loaded
            state(req.env).missed = sid
            return nil
          end
          return discard(sid, loaded) if @lifetime.expired?(loaded)

          # Recorded before decoding, so a lock on an undecodable item is
          # still released at the end of the request.
          loaded_sessions(req.env)[sid] = loaded
          @serializer.load(loaded.data)
        rescue StandardError => e
          handle_error(req.env, e)
          unavailable(req.env) << sid if transient?(e)
          nil
        end

        # Marks the request as having found DynamoDB failing (RequestState#down).
        def note_failure(env, error)
          state(env).down = true if transient?(error)
        end

        # Errors after which the stored session is probably fine and will be
        # readable again: timeouts, connection failures, throttling, 5xx.
        def transient?(error)
          case error
          when Errors::NetworkError, Errors::ThrottlingError then true
          when Errors::ServiceError then error.status_code.to_i >= 500
          else false
          end
        end

        def discard(sid, loaded)
          @lock.release(sid, loaded)
          nil
        end

        def now_string
          Time.now.to_f.to_s
        end

        def state(env)
          env[STATE_KEY] ||= RequestState.new
        end

        def loaded_sessions(env)
          state(env).loaded
        end

        def renewed(env)
          state(env).renewed
        end

        def unavailable(env)
          state(env).unavailable
        end

        def issued(env)
          state(env).issued
        end

        def delete_or_remember(env, sid)
          # DynamoDB already failed this request (and the handler heard of
          # it): remembered without a second wait.
          return remember_pending(env, sid) if state(env).down

          @lock.delete(sid)
          forget_pending(sid)
        rescue StandardError => e
          remember_pending(env, sid)
          handle_error(env, e)
        end

        def pending_delete?(sid)
          @pending_deletes.include?(sid)
        end

        def remember_pending(env, sid)
          return unless @pending_deletes.add(sid)

          env["rack.errors"]&.puts("aws-sessionstore-dynamodb-rs: more than #{MAX_PENDING_DELETES} logouts " \
                                   "wait for DynamoDB; the oldest is no longer refused by this process")
        end

        def forget_pending(sid)
          @pending_deletes.delete(sid)
        end

        # One more try at a remembered delete; on failure it stays
        # remembered (its first failure went to the handler already: this
        # request, someone else's maybe, is not failed by it).
        def retry_delete(sid, env = nil)
          @lock.delete(sid)
          forget_pending(sid)
          true
        rescue StandardError => e
          note_failure(env, e) if env
          false
        end

        # After a successful read or save: a few remembered deletes, oldest first,
        # until one fails.
        def retry_pending_deletes
          return if @pending_deletes.empty?

          @pending_deletes.first(PENDING_PER_REQUEST).each { |sid| break unless retry_delete(sid) }
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
          held = loaded_sessions(env)
          held.each { |sid, loaded| @lock.release(sid, loaded) } unless state(env).down
          held.clear
        rescue StandardError => e
          held&.clear
          handle_error(env, e)
        end

        # The one place store errors go: the request is marked as having
        # found DynamoDB failing when the error says so (no more calls in
        # it), then the configured handler raises or logs; the request goes
        # on with a fresh session.
        def handle_error(env, error)
          note_failure(env, error)
          @config.error_handler.handle_error(error, env)
        end
      end
    end
  end
end
