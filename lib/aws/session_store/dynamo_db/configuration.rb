# frozen_string_literal: true

require_relative "errors"
require_relative "warnings"
require_relative "unknown_options"
require_relative "env_flag"
require_relative "serializer"
require_relative "options"
require_relative "configuration/sources"
require_relative "configuration/client_hash"

module Aws
  module SessionStore
    module DynamoDB
      # The options of the session store, merged from runtime options, the
      # environment, a YAML file and defaults, then validated.
      #
      # == Sources, highest precedence first
      #
      # 1. Runtime options: the Hash given to {#initialize} (from
      #    `RackMiddleware.new(app, options)`, `Table.create_table(options)`, …).
      # 2. `ENV['AWS_DYNAMO_DB_SESSION_<OPTION>']`, e.g.
      #    `AWS_DYNAMO_DB_SESSION_TABLE_NAME=sessions`.
      # 3. The legacy `ENV['DYNAMO_DB_SESSION_<OPTION>']`, still read, with a
      #    deprecation warning (once per variable) naming the new variable.
      # 4. A YAML file: the `:config_file` option, else
      #    `ENV['AWS_DYNAMO_DB_SESSION_CONFIG_FILE']` (legacy:
      #    `DYNAMO_DB_SESSION_CONFIG_FILE`). ERB is evaluated first, then
      #    `YAML.safe_load` (Symbols and aliases allowed). When Rails is defined
      #    and the file has a top-level key equal to `Rails.env`, that section is
      #    used. A file given explicitly that does not exist is an error.
      # 5. The defaults in {MEMBERS}.
      #
      # A nil value means "not set here" and falls through to the next source.
      # An empty environment variable counts as unset.
      #
      # Environment values are parsed: `/\A-?\d+\z/` as Integer, a number with a
      # dot as Float, `true`/`false` as booleans, anything else stays a String.
      # String options (names, keys, secrets, credentials, region, endpoint,
      # profile, paths) are never parsed. `serializer` and `billing_mode` given
      # as Strings (from anywhere) become Symbols. `:error_handler` and
      # `:dynamo_db_client` are only taken from runtime options.
      #
      # Options this class doesn't know (Rack's `:key`, `:expire_after`,
      # `:secure`, … share the middleware's options Hash) are kept in
      # {#to_hash} and otherwise ignored; {OPTION_NAMES} lists the known ones.
      #
      # == Replacing `:dynamo_db_client`
      #
      # The official gem accepted an `Aws::DynamoDB::Client`. This gem has no
      # Ruby SDK: it builds its own native client from `:region`, `:endpoint`,
      # `:access_key_id`, `:secret_access_key`, `:session_token`, `:profile`,
      # `:connect_timeout`, `:operation_timeout` and `:max_attempts`. Passing a
      # client object raises {Errors::ConfigurationError}. A Hash of those
      # options is accepted as `:dynamo_db_client`; its values apply where the
      # same option isn't set by any other source.
      #
      # == Errors
      #
      # Every invalid value raises {Errors::ConfigurationError} naming the
      # option and the class of the bad value; values of secrets are never
      # included. A missing `:secret_key` is only an error where a secret is
      # needed: pass `require_secret: true` or call {#validate_secret!} (the
      # middleware does); table tasks and garbage collection work without one.
      #
      # @example
      #   config = Aws::SessionStore::DynamoDB::Configuration.new(
      #     table_name: 'my_sessions', secret_key: ENV.fetch('SESSION_SECRET'),
      #     endpoint: 'http://127.0.0.1:8000', region: 'us-east-1'
      #   )
      #   config.table_name # => "my_sessions"
      class Configuration
        include Sources
        include ClientHash

        # Every known option and its default, from {OPTIONS} (options.rb): the
        # one table that gives the defaults, the readers, {OPTION_NAMES}, the
        # keys of {#to_hash}, ENV/YAML parsing and validation.
        MEMBERS = OPTIONS.to_h { |option| [option.name, option.default] }.freeze

        # The names of all known options.
        OPTION_NAMES = MEMBERS.keys.freeze

        OPTIONS_BY_NAME = OPTIONS.to_h { |option| [option.name, option] }.freeze
        private_constant :OPTIONS_BY_NAME

        # The options that configure the native DynamoDB client; see
        # {#native_client_options}.
        NATIVE_CLIENT_OPTIONS = OPTIONS.select(&:native).map(&:name).freeze

        # Options whose values are never shown by {#inspect} or in error messages.
        SECRET_OPTIONS = OPTIONS.select { |option| %i[secret secrets].include?(option.type) }.map(&:name).freeze

        # Options whose ENV values stay Strings.
        TEXT_OPTIONS = OPTIONS.select(&:text?).map(&:name).freeze
        private_constant :TEXT_OPTIONS

        # Options only accepted at runtime, never from ENV or YAML.
        RUNTIME_ONLY_OPTIONS = OPTIONS.reject(&:env).map(&:name).freeze

        # Prefix of the environment variables read for each option.
        ENV_PREFIX = "AWS_DYNAMO_DB_SESSION_"

        # Prefix of the deprecated environment variables still read.
        LEGACY_ENV_PREFIX = "DYNAMO_DB_SESSION_"

        # Accepted values of `:billing_mode`.
        BILLING_MODES = OPTIONS.find { |option| option.name == :billing_mode }.choices

        # Shown instead of a secret's value by {#inspect}.
        REDACTED = "[REDACTED]"

        class << self
          # Prints the deprecation warning for a legacy variable, once per
          # variable name per process.
          #
          # @api private
          # @param [String] legacy_name e.g. `"DYNAMO_DB_SESSION_TABLE_NAME"`.
          # @param [String] new_name e.g. `"AWS_DYNAMO_DB_SESSION_TABLE_NAME"`.
          # @return [void]
          def warn_legacy_env(legacy_name, new_name)
            Warnings.warn_once([:legacy_env, legacy_name],
                               "[aws-sessionstore-dynamodb] ENV['#{legacy_name}'] is deprecated; " \
                               "use ENV['#{new_name}'] instead.")
          end

          # Forgets which legacy variables were warned about (for tests).
          #
          # @api private
          # @return [void]
          def reset_legacy_env_warnings!
            Warnings.forget!(:legacy_env)
          end
        end

        # One reader per option, documented in {OPTIONS} (options.rb) and the
        # README's options table.
        attr_reader(*OPTION_NAMES)

        # Merges and validates the options.
        #
        # Accepts a Hash, keywords, or both (`new(options)`,
        # `new(table_name: 'x')`); String keys are symbolized. Another
        # Configuration is accepted too (its {#to_hash} is used).
        #
        # @param [Hash] options runtime options; any of {OPTION_NAMES}, plus
        #   options of other components, which are kept and ignored.
        #   Each option, its default and unit: {OPTIONS} (options.rb).
        # @option options [Boolean] :require_secret (false) Raise
        #   MissingSecretKeyError when no secret key is configured. Not stored.
        # @raise [Errors::ConfigurationError] for an invalid value, a missing
        #   or unreadable config file, or a `:dynamo_db_client` object.
        # @raise [Errors::MissingSecretKeyError] with `require_secret: true`
        #   and no secret key.
        def initialize(options = {}, **keywords)
          options = options.to_hash if options.is_a?(Configuration)
          runtime = symbolize_keys(options || {}).merge(symbolize_keys(keywords))
          require_secret = runtime.delete(:require_secret)

          @options = resolve(runtime)
          OPTION_NAMES.each { |name| instance_variable_set(:"@#{name}", @options[name]) }
          @native_client_options = build_native_client_options
          validate_secret! if require_secret
        end

        # @return [Hash{Symbol => Object}] a copy of the merged options,
        #   secrets included, plus any unknown options that were passed.
        def to_hash
          @options.dup
        end
        alias to_h to_hash

        # @return [Hash{Symbol => Object}] frozen; the native client options
        #   ({NATIVE_CLIENT_OPTIONS}) without nil values. Timeouts are Floats
        #   (seconds), `max_attempts` an Integer. Equal Hashes mean the same
        #   client, so the native layer builds and caches one per distinct Hash.
        attr_reader :native_client_options

        # @return [#dump, #load] the serializer for {#serializer}.
        def serializer_object
          Serializer.for(@serializer, compress_above: @compress_data_above)
        end

        # Longest derived touch interval, seconds.
        MAX_DERIVED_TOUCH_INTERVAL = 3600

        # Idle lifetime of a session when neither `max_stale` nor the
        # cookie's `expire_after` sets one: 30 days, as Rails'
        # `db:sessions:trim`. Without it, every bot's session would stay in
        # the table for good.
        DEFAULT_MAX_STALE = 30 * 86_400

        # How long a session may go unused: `max_stale`, else the cookie's
        # `expire_after`, else {DEFAULT_MAX_STALE}. DynamoDB's TTL
        # (`expire_at`) and reads use it; garbage collection, which knows no
        # cookie, uses `max_stale` or the default.
        #
        # @param expire_after [Numeric, nil] the cookie's expire_after.
        # @return [Numeric] seconds.
        def effective_max_stale(expire_after = nil)
          @max_stale || expire_after || DEFAULT_MAX_STALE
        end

        # How long an unchanged session may go without a write: the
        # `touch_interval` option when set (0: write on every request), else
        # 5% of the session's lifetime ({#effective_max_stale}), at most an
        # hour.
        #
        # @param expire_after [Numeric, nil] the request's cookie expire_after.
        # @return [Numeric] seconds.
        def effective_touch_interval(expire_after = nil)
          return @touch_interval if @touch_interval

          [effective_max_stale(expire_after) * 0.05, MAX_DERIVED_TOUCH_INTERVAL].min
        end

        # Raises unless a secret key is configured.
        #
        # @return [true]
        # @raise [Errors::MissingSecretKeyError] when `secret_key` is nil or empty.
        def validate_secret!
          raise Errors::MissingSecretKeyError if @secret_key.nil? || @secret_key.empty?

          true
        end

        # @return [String] the known options, with secrets shown as
        #   `"[REDACTED]"`.
        def inspect
          shown = OPTION_NAMES.map { |name| "#{name}=#{inspect_value(name, @options[name])}" }
          "#<#{self.class.name} #{shown.join(", ")}>"
        end
        alias to_s inspect

        private

        # --- Normalizing and validating --------------------------------------

        # Every source merged over the defaults, normalized, checked and
        # frozen, with the default error handler when none was given.
        def resolve(runtime)
          opts = merge_sources(runtime)
          normalize!(opts)
          apply_client_hash!(opts)
          validate!(opts)
          opts[:error_handler] ||= Errors::DefaultHandler.new(opts[:raise_errors])
          opts.freeze
        end

        def normalize!(opts)
          serializer = opts[:serializer]
          opts[:serializer] = serializer.delete_prefix(":").to_sym if serializer.is_a?(String)
          mode = opts[:billing_mode]
          return unless mode.is_a?(String) || mode.is_a?(Symbol)

          opts[:billing_mode] = mode.to_s.delete_prefix(":").downcase.to_sym
        end

        # Each option by its declared type ({Option#problem}), then the rules
        # between options.
        def validate!(opts)
          OPTIONS.each do |option|
            next if option.type == :path # checked before the file was read

            problem = option.problem(opts[option.name])
            invalid!(option.name, opts[option.name], problem) if problem
          end
          check_endpoint(opts[:endpoint])
          check_credentials(opts)
          check_encryption(opts)
        end

        def check_encryption(opts)
          return if opts[:encrypt_data] || !opts[:refuse_plaintext]

          raise Errors::ConfigurationError, ":refuse_plaintext needs :encrypt_data"
        end

        def check_endpoint(value)
          return if value.nil? || value.match?(%r{\Ahttps?://[^/?#\s]+}i)

          raise Errors::ConfigurationError, ":endpoint must be an http:// or https:// URL"
        end

        def check_credentials(opts)
          if opts[:access_key_id].nil? != opts[:secret_access_key].nil?
            raise Errors::ConfigurationError,
                  ":access_key_id and :secret_access_key must be given together"
          end
          return if opts[:session_token].nil? || opts[:access_key_id]

          raise Errors::ConfigurationError,
                ":session_token needs :access_key_id and :secret_access_key"
        end

        def check_config_file(value)
          return if value.nil? || value.is_a?(String) || value.respond_to?(:to_path)

          invalid!(:config_file, value, "nil, a String or a Pathname")
        end

        def invalid!(name, value, expected)
          raise Errors::ConfigurationError, ":#{name} must be #{expected} (got #{describe(name, value)})"
        end

        def describe(name, value)
          return value.class.name if SECRET_OPTIONS.include?(name)

          case value
          when nil, true, false, Numeric, Symbol, String
            shown = value.inspect
            shown = "#{shown[0, 40]}..." if shown.length > 40
            "#{value.class} #{shown}"
          else
            value.class.name
          end
        end

        # --- Views -----------------------------------------------------------

        def build_native_client_options
          NATIVE_CLIENT_OPTIONS.each_with_object({}) do |name, out|
            value = @options[name]
            next if value.nil?

            # Seconds cross as Floats; counts stay Integers.
            out[name] = OPTIONS_BY_NAME[name].type == :number ? value.to_f : value
          end.freeze
        end

        def inspect_value(name, value)
          return value.inspect if value.nil?
          return REDACTED if SECRET_OPTIONS.include?(name)
          return redact_hash(value).inspect if value.is_a?(Hash)

          value.inspect
        end

        def redact_hash(hash)
          hash.to_h do |key, value|
            secret = key.respond_to?(:to_sym) && SECRET_OPTIONS.include?(key.to_sym)
            [key, secret && !value.nil? ? REDACTED : value]
          end
        end
      end
    end
  end
end
