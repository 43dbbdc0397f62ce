# frozen_string_literal: true

require "set"

module Aws
  module SessionStore
    module DynamoDB
      # Every session of one user, for apps that set `user_key`: list them,
      # revoke them all ("sign out everywhere", optionally but the current
      # one), or one. The options are the store's (`table_name`,
      # `secret_key`, `hashed_keys`, the client's); see doc/user-sessions.md
      # for the guarantee and the cost.
      #
      #   UserSessions.list(user.id, current: session, **store_options)
      #   UserSessions.revoke(user.id, except: session, **store_options)
      #   UserSessions.revoke_one(user.id, entry.handle, **store_options)
      #
      # Behind the store, with its options and the request's session (a
      # Rails controller's `request`, or a Rack env):
      #
      #   UserSessions.of(request).revoke_others(current_user.id)
      module UserSessions
        # The Rack env key under which the store puts its {Scope}.
        ENV_KEY = "aws.session_store.dynamo_db.user_sessions"

        # One session of a list. `handle` names it for {.revoke_one} (it is
        # neither its cookie nor its storage key, and neither can be made
        # from it); `created_at` and `updated_at` are Times (`updated_at`
        # moves when the session is written: an unchanged session at most
        # every `touch_interval`); `user_agent` with `keep_user_agent`, else
        # nil; `current` true for the session given as `current:`.
        Entry = Struct.new(:handle, :created_at, :updated_at, :user_agent, :current, keyword_init: true)

        # Seconds after which an entry of a user's record whose session is
        # gone, or is another user's, is dropped from the record by list and
        # revoke (a younger one may be a sign-in still being saved).
        PRUNE_AFTER = 600

        # The most sessions one user keeps once the user's record is full
        # (DynamoDB's 400 KB, about 5,000 sessions): a sign-in then signs
        # out the user's oldest sessions beyond this many.
        MAX_SESSIONS = 2000

        module_function

        # The store's {Scope} for a request it handled.
        # @param request [#env, Hash] a Rack or Rails request, or its env.
        # @raise [Errors::ConfigurationError] when no store with `user_key`
        #   handled it.
        def of(request)
          env = request.respond_to?(:env) ? request.env : request
          scope = env[ENV_KEY] if env.is_a?(Hash)
          return scope.for(env) if scope

          raise Errors::ConfigurationError, "UserSessions.of: no DynamoDB session store with user_key " \
                                            "handled this request"
        end

        # @param user_id [String, Integer] the id the session holds under `user_key`.
        # @param current [Object, nil] the request's session (anything with
        #   `#id`: Rack's or Rails'), marked `current`.
        # @return [Array<Entry>] the user's sessions, most recently used first.
        def list(user_id, current: nil, **options)
          Call.new(configured(options)).list(user_id, current)
        end

        # Deletes every session of the user but `except` (a handle from
        # {.list}, or the request's session). When it returns, no request
        # presenting a revoked session's cookie gets that session, one in
        # flight included (its save finds the session gone).
        # @return [Integer] the sessions deleted.
        def revoke(user_id, except: nil, **options)
          Call.new(configured(options)).revoke(user_id, except)
        end

        # Deletes the session `handle` names, if it is the user's.
        # @return [Boolean] whether a session was deleted.
        def revoke_one(user_id, handle, **options)
          Call.new(configured(options)).revoke_one(user_id, handle)
        end

        def configured(options)
          Configuration.new(options.merge(require_secret: true))
        end
        private_class_method :configured

        @unusable = {}
        @unusable_lock = Mutex.new

        # One warning per table and process when its user index can't be
        # read; the calls go on from the user records, which are exact.
        # @api private
        def index_unusable(table, error)
          first = @unusable_lock.synchronize { @unusable[table] ? false : (@unusable[table] = true) }
          return unless first

          warn "aws-sessionstore-dynamodb-rs: the user index #{Table::USER_INDEX} of table #{table} can't be " \
               "read (#{error.message}); UserSessions reads the user records only. Add it with " \
               "`aws-sessionstore-dynamodb add-user-index`, or set user_index: false."
        end

        # Room in the record of `user` (a `user_id` as stored) for one
        # more session, when a sign-in found it full.
        # @api private
        def make_room(config, user)
          Call.new(config).make_room(user)
        end

        # The API on one store's configuration; {#for} binds it to a request
        # (its session is the current one).
        class Scope
          # @api private
          def initialize(config, env = nil)
            @config = config
            @env = env
            freeze
          end

          # @api private
          def for(env)
            Scope.new(@config, env)
          end

          # {UserSessions.list}, the request's session marked current.
          def list(user_id)
            Call.new(@config).list(user_id, session)
          end

          # Ends every session of the user but the request's own: "sign out
          # everywhere else". @return [Integer] the sessions ended.
          def revoke_others(user_id)
            Call.new(@config).revoke(user_id, session)
          end

          # Ends every session of the user, the request's own included.
          def revoke(user_id)
            Call.new(@config).revoke(user_id, nil)
          end

          def revoke_one(user_id, handle)
            Call.new(@config).revoke_one(user_id, handle)
          end

          def inspect
            "#<#{self.class.name} #{@config.table_name}>"
          end

          private

          def session
            @env && @env["rack.session"]
          end
        end

        # One call of the API, on one configuration.
        # @api private
        class Call
          def initialize(config)
            @config = config
            @client = Native.client(@config.native_client_options)
            @where = { table: @config.table_name, key_name: @config.table_key }
            @keys = Locking::StorageKeys.new(@config)
          end

          # Each form of the user's id (UserTracking#stored_ids) has its own
          # record; every call reads both, and with the user index its
          # entries of both.
          def list(user_id, current)
            mine = current_keys(current)
            found = forms(user_id).flat_map { |user| live(user, sessions_of(user)) }
            found.map { |item| entry(item, mine) }.sort_by { |e| -e.updated_at.to_f }
          end

          def revoke(user_id, except)
            kept = except.is_a?(String) ? [] : current_keys(except)
            forms(user_id).sum do |user|
              entries = sessions_of(user).reject { |key, _| kept.include?(key) || handle(key) == except }
              entries.count { |key, _| revoke_key(user, key) }.tap { prune(user, entries, Set.new) }
            end
          end

          # Entries of gone sessions older than PRUNE_AFTER dropped, then
          # the oldest sessions past MAX_SESSIONS signed out.
          def make_room(user)
            entries = keys_of(user)
            live_keys = live(user, entries).to_set { |item| item[@config.table_key] }
            oldest = entries.select { |key, _| live_keys.include?(key) }
            oldest.first([oldest.size - MAX_SESSIONS + 1, 0].max).each do |key, added_at|
              revoke_key(user, key)
              untrack(user, key, added_at)
            end
          end

          def revoke_one(user_id, handle)
            forms(user_id).any? do |user|
              key, = sessions_of(user).find { |k, _| secure_equal?(handle(k), handle.to_s) }
              key ? revoke_key(user, key) : false
            end
          end

          def inspect
            "#<#{self.class.name} #{@config.table_name}>"
          end

          private

          def forms(user_id)
            UserTracking.new(@config).stored_ids(user_id)
          end

          # [[storage key, added_at], ...] from the user's record.
          def keys_of(user)
            native(:user_session_keys, Native::UserRequest.new(**@where, user: user))
          end

          # The record's entries, then [storage key, nil] for each key only
          # the user index holds (with `user_index`): the record is exact,
          # the index eventually consistent, so the index only adds.
          def sessions_of(user)
            entries = keys_of(user)
            return entries unless @config.user_index

            known = entries.to_set(&:first)
            entries + indexed(user).reject { |key| known.include?(key) }.map { |key| [key, nil] }
          end

          # The keys the user index holds; none, warned once per table, when
          # it can't be read (no index: `add_user_index`; or one being built).
          def indexed(user)
            native(:user_index_keys, Native::UserRequest.new(**@where, user: user))
          rescue Errors::ValidationError => e
            UserSessions.index_unusable(@config.table_name, e)
            []
          end

          # The summaries of the entries' sessions that are the user's; the
          # other entries are pruned.
          def live(user, entries)
            keys = entries.map(&:first)
            found = keys.empty? ? [] : native(:session_summaries, Native::SummaryRequest.new(**@where, keys: keys))
            found.select! { |item| item["user_id"] == user }
            prune(user, entries, found.to_set { |item| item[@config.table_key] })
            found
          end

          def revoke_key(user, key)
            native(:revoke_user_session, Native::UserEntry.new(**@where, user: user, key: key)) == :deleted
          end

          # Drops the entries older than PRUNE_AFTER whose session is not
          # among `live` (a Set: a full record has ~5,000 entries; gone, or
          # another user's), each on condition that
          # it was not added again since it was read.
          def prune(user, entries, live)
            cutoff = Time.now.to_i - PRUNE_AFTER
            entries.each do |key, added_at|
              next if added_at.nil? || added_at > cutoff || live.include?(key) # nil: in the index only

              untrack(user, key, added_at)
            end
          end

          def untrack(user, key, added_at)
            native(:untrack_user_session, Native::UserEntry.new(**@where, user: user, key: key, added_at: added_at))
          end

          # One native call, with its spans under a recording span.
          def native(method, request)
            Instrumentation.traced(@config.table_name, request) { @client.public_send(method, request) }
          end

          # Every key the given session may be stored under.
          def current_keys(session)
            session = session["rack.session"] if session.is_a?(Hash)
            id = session.respond_to?(:id) ? SessionIds.public_id(session.id) : nil
            id ? @keys.every_key(id) : []
          end

          def entry(item, mine)
            key = item[@config.table_key]
            Entry.new(handle: handle(key), created_at: time(item["created_at"]), updated_at: time(item["updated_at"]),
                      user_agent: item["user_agent"], current: mine.include?(key))
          end

          def handle(key)
            Native.session_handle(@config.secret_key, key)
          end

          def time(value)
            seconds = Float(value, exception: false)
            seconds && Time.at(seconds)
          end

          def secure_equal?(left, right)
            left.bytesize == right.bytesize && Rack::Utils.secure_compare(left, right)
          end
        end
        private_constant :Call
      end
    end
  end
end
