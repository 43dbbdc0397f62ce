# frozen_string_literal: true

require "action_dispatch/middleware/session/abstract_store"
require "aws/session_store/dynamo_db" unless defined?(Aws::SessionStore::DynamoDB::RackMiddleware)

module ActionDispatch
  module Session
    # The Rails session store: `config.session_store :dynamo_db_store`.
    #
    #   # config/initializers/session_store.rb
    #   Rails.application.config.session_store :dynamo_db_store,
    #     key: "_my_app_session", table_name: "my_app_sessions", max_stale: 2.weeks.to_i
    #
    # It is {Aws::SessionStore::DynamoDB::RackMiddleware} (the same item
    # format, locking and error handling) with ActionDispatch's session
    # behaviour on top, as ActionDispatch::Session::AbstractStore adds it to
    # Rack's: `request.session` is an ActionDispatch::Request::Session, the
    # cookie goes through `request.cookie_jar`, and a session holding an
    # object whose class isn't loaded yet is retried after autoloading it.
    #
    # == Options, highest precedence first
    #
    # 1. The options given to `config.session_store`. Store options (see
    #    {Aws::SessionStore::DynamoDB::Configuration}) configure the store;
    #    the others (`key`, `expire_after`, `secure`, `same_site`, ...) the
    #    cookie. Neither leaks into the other.
    # 2. `ENV["AWS_DYNAMO_DB_SESSION_<OPTION>"]`.
    # 3. A YAML file, the first that exists of (see {.config_file}):
    #    `ENV["AWS_DYNAMO_DB_SESSION_CONFIG_FILE"]`,
    #    `config/aws_dynamo_db_session_store/<Rails.env>.yml`,
    #    `config/aws_dynamo_db_session_store.yml`, the aws-sdk-rails names
    #    `config/dynamo_db_session_store{/<Rails.env>,}.yml`, and the v0.5 name
    #    `config/sessionstore/dynamodb.yml`.
    # 4. The defaults.
    #
    # `secret_key` is `Rails.application.secret_key_base` unless given to
    # `config.session_store`, as in the official aws-actiondispatch-dynamodb
    # (so its sessions stay valid). The v0.5 name `:dynamodb_store` keeps
    # v0.5's rule instead: a secret_key from ENV or the YAML file wins.
    class DynamoDbStore < Aws::SessionStore::DynamoDB::RackMiddleware
      include Compatibility
      include StaleSessionCheck
      include SessionObject

      # Config files looked for under Rails.root, first found wins;
      # `%{env}` is Rails.env.
      CONFIG_FILES = %w[
        config/aws_dynamo_db_session_store/%{env}.yml
        config/aws_dynamo_db_session_store.yml
        config/dynamo_db_session_store/%{env}.yml
        config/dynamo_db_session_store.yml
        config/sessionstore/dynamodb.yml
      ].freeze

      # The aws-sdk-rails v4 names, still read, with a warning.
      DEPRECATED_CONFIG_FILES = %w[
        config/dynamo_db_session_store/%{env}.yml
        config/dynamo_db_session_store.yml
      ].freeze

      # Environment variables naming a config file; when one is set, it is
      # the file and {CONFIG_FILES} are not looked for.
      CONFIG_FILE_ENV = %w[AWS_DYNAMO_DB_SESSION_CONFIG_FILE DYNAMO_DB_SESSION_CONFIG_FILE].freeze

      class << self
        # The first of {CONFIG_FILES} that exists under Rails.root, or nil.
        # Nil as well when a config file is named in the environment
        # ({CONFIG_FILE_ENV}): Configuration reads that one itself.
        #
        # @return [String, nil]
        def config_file
          return nil if CONFIG_FILE_ENV.any? { |name| !ENV.fetch(name, "").empty? }
          return nil unless defined?(::Rails) && ::Rails.respond_to?(:root) && ::Rails.root

          found = rails_config_file(::Rails.env.to_s)
          found && ::Rails.root.join(found).to_s
        end

        # The store options of a Rails app, for the table functions, garbage
        # collection and {Aws::SessionStore::DynamoDB::Configuration}: the
        # store options among `options` (by default those given to
        # `config.session_store`), plus `config_file` found by {.config_file}
        # unless one was given. ENV and the file apply when these are passed
        # on to Configuration.
        #
        #   Aws::SessionStore::DynamoDB::Table.create_table(
        #     ActionDispatch::Session::DynamoDbStore.store_options
        #   )
        #
        # @param options [Hash, nil] nil: `Rails.application.config.session_options`.
        # @return [Hash{Symbol => Object}]
        def store_options(options = nil)
          options ||= rails_session_options
          options = (options || {}).to_hash.transform_keys(&:to_sym)
          store = options.slice(*Aws::SessionStore::DynamoDB::Configuration::OPTION_NAMES)
          store[:config_file] ||= config_file
          store.compact
        end

        private

        def rails_session_options
          app = defined?(::Rails) && ::Rails.respond_to?(:application) && ::Rails.application
          app ? app.config.session_options : {}
        end

        # The first of {CONFIG_FILES} for the Rails environment `env` that
        # exists under Rails.root (a path relative to it), or nil; a
        # deprecated one is warned about.
        def rails_config_file(env)
          found = CONFIG_FILES.map { |pattern| pattern.sub("%{env}", env) }
                              .find { |path| ::Rails.root.join(path).file? }
          if found && DEPRECATED_CONFIG_FILES.any? { |pattern| pattern.sub("%{env}", env) == found }
            warn_deprecated_config_file(found)
          end
          found
        end

        def warn_deprecated_config_file(path)
          message = "[aws-sessionstore-dynamodb] #{path} is read under its old name: " \
                    "rename it to config/aws_dynamo_db_session_store.yml " \
                    "(or config/aws_dynamo_db_session_store/<Rails.env>.yml)."
          logger = ::Rails.respond_to?(:logger) && ::Rails.logger
          logger ? logger.warn(message) : warn(message)
        end
      end

      # Whether a secret_key from ENV or a config file beats
      # `secret_key_base`. Not for this store: the official
      # aws-actiondispatch-dynamodb passes secret_key_base as a runtime
      # option, which beats ENV and files, so sessions signed by it stay
      # valid after the switch.
      def self.configured_secret_wins?
        false
      end

      # @param app [#call]
      # @param options [Hash] store and cookie options, as given to
      #   `config.session_store`.
      # @raise [Aws::SessionStore::DynamoDB::Errors::MissingSecretKeyError]
      #   when no secret is configured and the app has no secret_key_base.
      def initialize(app, options = {})
        options = (options || {}).to_hash.transform_keys(&:to_sym)
        store = self.class.store_options(options)
        options = options.merge(store)
        if options[:secret_key].nil? && !(self.class.configured_secret_wins? && secret_configured?(store))
          options[:secret_key] = rails_secret_key_base
        end
        super(app, options)
      end

      private

      # Compatibility's generate_sid (an unsigned random hex id) would shadow
      # the store's signed "<hmac>--<sid>" one: keep the store's.
      def generate_sid(*)
        Aws::SessionStore::DynamoDB::RackMiddleware.instance_method(:generate_sid).bind_call(self)
      end

      # Through the cookie jar, as ActionDispatch::Session::AbstractStore does,
      # so Rails' cookie settings apply. Rack puts `same_site: nil` in the
      # cookie when the app set none (rack-session 2 always, Rack 2.2 unless
      # Rails gave a default), and the jar applies
      # `config.action_dispatch.cookies_same_site_protection` only to a
      # cookie without the key: drop it, so the app's SameSite default
      # reaches the session cookie. A `same_site:` given to
      # `config.session_store` (`:none` included) is never nil and wins.
      def set_cookie(request, _response, cookie)
        cookie = cookie.except(:same_site) if cookie.key?(:same_site) && cookie[:same_site].nil?
        request.cookie_jar[key] = cookie
      end

      # Whether ENV or the config file set a secret (they beat secret_key_base).
      def secret_configured?(store)
        secret = Aws::SessionStore::DynamoDB::Configuration.new(store).secret_key
        !(secret.nil? || secret.empty?)
      end

      def rails_secret_key_base
        app = defined?(::Rails) && ::Rails.respond_to?(:application) && ::Rails.application
        app&.secret_key_base
      end
    end

    # The name from the gem's v0.5 README: `config.session_store :dynamodb_store`.
    # The same store as {DynamoDbStore}.
    class DynamodbStore < DynamoDbStore
      # The v0.5 gem signed with the secret_key of its YAML file; keep doing
      # so, so sessions it signed stay valid.
      def self.configured_secret_wins?
        true
      end
    end
  end
end
