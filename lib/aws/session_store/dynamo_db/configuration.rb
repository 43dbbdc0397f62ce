# frozen_string_literal: true

require_relative "errors"
require_relative "serializer"

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
        # Every known option and its default. One table gives the defaults, the
        # readers, {OPTION_NAMES} and the keys of {#to_hash}.
        MEMBERS = {
          # Options of the official gem.
          table_name: "sessions",
          table_key: "session_id",
          secret_key: nil,
          consistent_read: true,
          read_capacity: 10,
          write_capacity: 5,
          raise_errors: false,
          error_handler: nil,
          max_age: nil,
          max_stale: nil,
          enable_locking: false,
          lock_expiry_time: 500,
          lock_retry_delay: 500,
          lock_max_wait_time: 1,
          serializer: :json,
          config_file: nil,
          dynamo_db_client: nil,
          # Options of this gem: the native client.
          region: nil,
          endpoint: nil,
          access_key_id: nil,
          secret_access_key: nil,
          session_token: nil,
          profile: nil,
          connect_timeout: 1,
          operation_timeout: 5,
          max_attempts: 10,
          # Options of this gem: the table and garbage collection.
          billing_mode: :provisioned,
          enable_ttl: true,
          touch_interval: nil,
          gc_segments: nil,
          gc_operation_delay: 0,
          gc_max_deletes_per_second: nil
        }.freeze

        # The names of all known options.
        OPTION_NAMES = MEMBERS.keys.freeze

        # The options that configure the native DynamoDB client; see
        # {#native_client_options}.
        NATIVE_CLIENT_OPTIONS = %i[
          region endpoint access_key_id secret_access_key session_token profile
          connect_timeout operation_timeout max_attempts
        ].freeze

        # Options whose values are never shown by {#inspect} or in error messages.
        SECRET_OPTIONS = %i[secret_key secret_access_key session_token].freeze

        # Options only accepted at runtime, never from ENV or YAML.
        RUNTIME_ONLY_OPTIONS = %i[error_handler dynamo_db_client].freeze

        # Prefix of the environment variables read for each option.
        ENV_PREFIX = "AWS_DYNAMO_DB_SESSION_"

        # Prefix of the deprecated environment variables still read.
        LEGACY_ENV_PREFIX = "DYNAMO_DB_SESSION_"

        # Accepted values of `:billing_mode`.
        BILLING_MODES = %i[provisioned pay_per_request].freeze

        # Shown instead of a secret's value by {#inspect}.
        REDACTED = "[REDACTED]"

        # Options whose ENV values stay Strings.
        STRING_OPTIONS = %i[
          table_name table_key secret_key config_file region endpoint
          access_key_id secret_access_key session_token profile
          serializer billing_mode
        ].freeze
        private_constant :STRING_OPTIONS

        # Largest TotalSegments DynamoDB accepts for a parallel scan.
        MAX_GC_SEGMENTS = 1_000_000
        private_constant :MAX_GC_SEGMENTS

        @legacy_env_warned = {}
        @legacy_env_lock = Mutex.new

        class << self
          # Prints the deprecation warning for a legacy variable, once per
          # variable name per process.
          #
          # @api private
          # @param [String] legacy_name e.g. `"DYNAMO_DB_SESSION_TABLE_NAME"`.
          # @param [String] new_name e.g. `"AWS_DYNAMO_DB_SESSION_TABLE_NAME"`.
          # @return [void]
          def warn_legacy_env(legacy_name, new_name)
            first = @legacy_env_lock.synchronize do
              !@legacy_env_warned.key?(legacy_name) && (@legacy_env_warned[legacy_name] = true)
            end
            return unless first

            warn("[aws-sessionstore-dynamodb] ENV['#{legacy_name}'] is deprecated; " \
                 "use ENV['#{new_name}'] instead.")
          end

          # Forgets which legacy variables were warned about (for tests).
          #
          # @api private
          # @return [void]
          def reset_legacy_env_warnings!
            @legacy_env_lock.synchronize { @legacy_env_warned.clear }
          end
        end

        # @return [String] Name of the session table. Default `"sessions"`.
        attr_reader :table_name

        # @return [String] Name of the table's hash key (type S). Default
        #   `"session_id"`.
        attr_reader :table_key

        # @return [String, nil] Secret for the HMAC that signs session ids.
        #   Required by the middleware, not by table tasks or GC.
        attr_reader :secret_key

        # @return [Boolean] Whether reads are strongly consistent. Default true.
        attr_reader :consistent_read

        # @return [Integer] Provisioned read capacity units used by
        #   `Table.create_table` (billing mode `:provisioned`). Default 10.
        attr_reader :read_capacity

        # @return [Integer] Provisioned write capacity units used by
        #   `Table.create_table` (billing mode `:provisioned`). Default 5.
        attr_reader :write_capacity

        # @return [Boolean] Whether the default error handler re-raises every
        #   error (true) or only the hard ones (false, the default).
        attr_reader :raise_errors

        # @return [#handle_error] The error handler; by default
        #   `Errors::DefaultHandler.new(raise_errors)`. Runtime option only.
        attr_reader :error_handler

        # @return [Numeric, nil] Maximum age of a session in seconds, counted
        #   from its creation. nil: no limit.
        attr_reader :max_age

        # @return [Numeric, nil] Maximum time in seconds since a session was
        #   last written. nil: the cookie's `expire_after`, else
        #   {DEFAULT_MAX_STALE} (see {#effective_max_stale}).
        attr_reader :max_stale

        # @return [Boolean] Whether sessions are locked (pessimistically) while
        #   a request uses them. Default false.
        attr_reader :enable_locking

        # @return [Numeric] Milliseconds after which another process may take
        #   over a held lock. Default 500.
        attr_reader :lock_expiry_time

        # @return [Numeric] Milliseconds to wait between attempts to take a
        #   lock. Default 500.
        attr_reader :lock_retry_delay

        # @return [Numeric] Seconds (not milliseconds) to keep trying to take a
        #   lock before raising `LockWaitTimeoutError`. Default 1.
        attr_reader :lock_max_wait_time

        # @return [Symbol] Format of the `data` attribute: `:json` (default),
        #   `:json_allow_marshal` or `:marshal`. See {Serializer}.
        attr_reader :serializer

        # @return [String, Pathname, nil] Path of the YAML file that was read,
        #   if any.
        attr_reader :config_file

        # @return [Hash, nil] The Hash of native client options given as
        #   `:dynamo_db_client`, if any. Client objects are refused.
        attr_reader :dynamo_db_client

        # @return [String, nil] AWS region. nil: `AWS_REGION`,
        #   `AWS_DEFAULT_REGION`, then the profile, resolved by the native client.
        attr_reader :region

        # @return [String, nil] Endpoint URL, e.g. `"http://127.0.0.1:8000"` for
        #   DynamoDB Local. nil: the region's DynamoDB endpoint.
        attr_reader :endpoint

        # @return [String, nil] Access key id. nil: the default credential chain.
        attr_reader :access_key_id

        # @return [String, nil] Secret access key; needs `:access_key_id`.
        attr_reader :secret_access_key

        # @return [String, nil] Session token of temporary credentials.
        attr_reader :session_token

        # @return [String, nil] Name of the shared config/credentials profile.
        attr_reader :profile

        # @return [Numeric] Seconds allowed to open a connection. Default 1.
        attr_reader :connect_timeout

        # @return [Numeric] Seconds allowed for a whole DynamoDB call,
        #   retries included. Default 5.
        attr_reader :operation_timeout

        # @return [Integer] Attempts per DynamoDB call, the first included.
        #   Default 10.
        attr_reader :max_attempts

        # @return [Symbol] Billing mode used by `Table.create_table`:
        #   `:provisioned` (default) or `:pay_per_request`.
        attr_reader :billing_mode

        # @return [Boolean] Whether `Table.create_table` turns on DynamoDB TTL
        #   on the `expire_at` attribute. Default true.
        attr_reader :enable_ttl

        # @return [Integer, nil] Seconds between writes of an unchanged
        #   session's timestamps. nil (default): derived from the other options.
        attr_reader :touch_interval

        # @return [Integer, nil] Parallel scan segments used by garbage
        #   collection. nil (default): derived from the table.
        attr_reader :gc_segments

        # @return [Numeric] Seconds to wait between garbage collection
        #   operations (scan pages, delete batches). Default 0.
        attr_reader :gc_operation_delay

        # @return [Numeric, nil] Upper bound on items deleted per second by
        #   garbage collection. nil (default): unlimited.
        attr_reader :gc_max_deletes_per_second

        # Merges and validates the options.
        #
        # Accepts a Hash, keywords, or both (`new(options)`,
        # `new(table_name: 'x')`); String keys are symbolized. Another
        # Configuration is accepted too (its {#to_hash} is used).
        #
        # @param [Hash] options runtime options; any of {OPTION_NAMES}, plus
        #   options of other components, which are kept and ignored.
        # @option options [String] :table_name ("sessions") Session table name.
        # @option options [String] :table_key ("session_id") Hash key of the table.
        # @option options [String] :secret_key (nil) HMAC secret for session ids.
        # @option options [Boolean] :consistent_read (true) Strongly consistent reads.
        # @option options [Integer] :read_capacity (10) Read capacity for create_table.
        # @option options [Integer] :write_capacity (5) Write capacity for create_table.
        # @option options [Boolean] :raise_errors (false) DefaultHandler re-raises all.
        # @option options [#handle_error] :error_handler (DefaultHandler) Error handler.
        # @option options [Numeric] :max_age (nil) Seconds since creation.
        # @option options [Numeric] :max_stale (nil) Seconds since last write;
        #   nil: `expire_after`, else 30 days ({DEFAULT_MAX_STALE}).
        # @option options [Boolean] :enable_locking (false) Pessimistic locking.
        # @option options [Numeric] :lock_expiry_time (500) Milliseconds.
        # @option options [Numeric] :lock_retry_delay (500) Milliseconds.
        # @option options [Numeric] :lock_max_wait_time (1) Seconds.
        # @option options [Symbol] :serializer (:json) `:json`,
        #   `:json_allow_marshal` or `:marshal`.
        # @option options [String] :config_file (nil) YAML file to read.
        # @option options [Hash] :dynamo_db_client (nil) Native client options
        #   (a client object is refused).
        # @option options [String] :region (nil) AWS region.
        # @option options [String] :endpoint (nil) Endpoint URL.
        # @option options [String] :access_key_id (nil) Static credentials.
        # @option options [String] :secret_access_key (nil) Static credentials.
        # @option options [String] :session_token (nil) Static credentials.
        # @option options [String] :profile (nil) Shared config profile.
        # @option options [Numeric] :connect_timeout (1) Seconds.
        # @option options [Numeric] :operation_timeout (5) Seconds, retries included.
        # @option options [Integer] :max_attempts (10) Attempts per call, within
        #   operation_timeout (the SDK's standard retry mode; backoff capped at 2 s).
        # @option options [Symbol] :billing_mode (:provisioned) Or `:pay_per_request`.
        # @option options [Boolean] :enable_ttl (true) TTL on `expire_at`.
        # @option options [Integer] :touch_interval (nil) Seconds; nil derives it.
        # @option options [Integer] :gc_segments (nil) Parallel scan segments.
        # @option options [Numeric] :gc_operation_delay (0) Seconds.
        # @option options [Numeric] :gc_max_deletes_per_second (nil) Rate limit.
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

          @options = merge_sources(runtime)
          normalize!(@options)
          apply_client_hash!(@options)
          validate!(@options)
          @options[:error_handler] ||= Errors::DefaultHandler.new(@options[:raise_errors])
          @options.freeze
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
          Serializer.for(@serializer)
        end

        # Upper bounds of the lock options, in their (official) units: a
        # request never holds a worker for more than five minutes waiting,
        # and a crashed holder's lock never outlives ten minutes.
        LOCK_LIMITS = {
          lock_expiry_time: [600_000, "milliseconds"],
          lock_retry_delay: [60_000, "milliseconds"],
          lock_max_wait_time: [300, "seconds"]
        }.freeze

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

        # --- Merging ---------------------------------------------------------

        def merge_sources(runtime)
          env = env_options
          path = runtime[:config_file] || env[:config_file]
          check_config_file(path)
          file = path ? file_options(path) : {}
          sources = [compact(file), compact(env), compact(runtime)]
          @explicit = sources.flat_map(&:keys).uniq
          merged = sources.reduce(MEMBERS) { |acc, source| acc.merge(source) }
          merged[:config_file] = path
          merged
        end

        def env_options
          (OPTION_NAMES - RUNTIME_ONLY_OPTIONS).each_with_object({}) do |name, opts|
            value = env_value(name)
            opts[name] = STRING_OPTIONS.include?(name) ? value : parse_env_value(value) unless value.nil?
          end
        end

        def env_value(name)
          var = "#{ENV_PREFIX}#{name.to_s.upcase}"
          value = ENV.fetch(var, nil)
          return value unless value.nil? || value.empty?

          legacy = "#{LEGACY_ENV_PREFIX}#{name.to_s.upcase}"
          value = ENV.fetch(legacy, nil)
          return nil if value.nil? || value.empty?

          self.class.warn_legacy_env(legacy, var)
          value
        end

        def parse_env_value(value)
          case value
          when /\A-?\d+\z/ then Integer(value, 10)
          when /\A-?\d*\.\d+\z/ then Float(value)
          when /\Atrue\z/i then true
          when /\Afalse\z/i then false
          else value
          end
        end

        def file_options(path)
          unless File.file?(path)
            raise Errors::ConfigurationError, ":config_file #{path.to_s.inspect} does not exist"
          end

          data = load_yaml(path)
          data = rails_section(data)
          unless data.is_a?(Hash)
            raise Errors::ConfigurationError,
                  ":config_file #{path.to_s.inspect} must hold a Hash of options (got #{data.class})"
          end
          symbolize_keys(data).reject { |name, _| RUNTIME_ONLY_OPTIONS.include?(name) || name == :config_file }
        end

        def load_yaml(path)
          # Loaded on demand: most apps configure by options or ENV, and
          # these two cost ~50 ms and megabytes at boot.
          require "erb"
          require "yaml"
          text = ERB.new(File.read(path)).result
          YAML.safe_load(text, permitted_classes: [Symbol], aliases: true, filename: path.to_s) || {}
        rescue Errors::Error
          raise
        rescue StandardError, SyntaxError => e
          raise Errors::ConfigurationError,
                ":config_file #{path.to_s.inspect} could not be read (#{e.class}: #{e.message})"
        end

        def rails_section(data)
          return data unless data.is_a?(Hash) && defined?(::Rails) && ::Rails.respond_to?(:env)

          env = ::Rails.env.to_s
          return data[env] if data.key?(env)
          return data[env.to_sym] if data.key?(env.to_sym)

          data
        end

        # A Hash given as :dynamo_db_client fills native client options that no
        # other source set.
        def apply_client_hash!(opts)
          client = opts[:dynamo_db_client]
          return if client.nil?

          unless client.is_a?(Hash)
            raise Errors::ConfigurationError,
                  ":dynamo_db_client is not supported (got #{client.class}): this gem has no Ruby SDK " \
                  "and builds its own native DynamoDB client. Use the options " \
                  "#{NATIVE_CLIENT_OPTIONS.map(&:inspect).join(", ")} instead, directly or as a Hash " \
                  "given as :dynamo_db_client."
          end

          client = symbolize_keys(client)
          unknown = client.keys - NATIVE_CLIENT_OPTIONS
          unless unknown.empty?
            raise Errors::ConfigurationError,
                  ":dynamo_db_client Hash has unknown keys #{unknown.map(&:inspect).join(", ")}; " \
                  "known keys: #{NATIVE_CLIENT_OPTIONS.map(&:inspect).join(", ")}"
          end
          client.each do |name, value|
            opts[name] = value unless value.nil? || @explicit.include?(name)
          end
        end

        def compact(hash)
          hash.reject { |_, value| value.nil? }
        end

        def symbolize_keys(hash)
          unless hash.respond_to?(:each_pair)
            raise Errors::ConfigurationError, "options must be a Hash (got #{hash.class})"
          end

          hash.to_h.transform_keys { |key| key.respond_to?(:to_sym) ? key.to_sym : key }
        end

        # --- Normalizing and validating --------------------------------------

        def normalize!(opts)
          serializer = opts[:serializer]
          opts[:serializer] = serializer.delete_prefix(":").to_sym if serializer.is_a?(String)
          mode = opts[:billing_mode]
          return unless mode.is_a?(String) || mode.is_a?(Symbol)

          opts[:billing_mode] = mode.to_s.delete_prefix(":").downcase.to_sym
        end

        def validate!(opts)
          unless Serializer::NAMES.include?(opts[:serializer])
            invalid!(:serializer, opts[:serializer],
                     "one of #{Serializer::NAMES.map(&:inspect).join(", ")}")
          end
          %i[table_name table_key].each { |name| check_string(name, opts[name], nullable: false) }
          %i[secret_key region access_key_id secret_access_key session_token profile].each do |name|
            check_string(name, opts[name], nullable: true)
          end
          check_endpoint(opts[:endpoint])
          check_credentials(opts)
          %i[consistent_read raise_errors enable_locking enable_ttl].each do |name|
            invalid!(name, opts[name], "true or false") unless [true, false].include?(opts[name])
          end
          %i[read_capacity write_capacity].each do |name|
            check_integer(name, opts[name], min: 1, nullable: false)
          end
          check_integer(:max_attempts, opts[:max_attempts], min: 1, nullable: false)
          check_integer(:touch_interval, opts[:touch_interval], min: 0, nullable: true)
          check_integer(:gc_segments, opts[:gc_segments], min: 1, max: MAX_GC_SEGMENTS, nullable: true)
          %i[max_age max_stale gc_max_deletes_per_second].each do |name|
            check_number(name, opts[name], positive: true, nullable: true)
          end
          %i[connect_timeout operation_timeout].each do |name|
            check_number(name, opts[name], positive: true, nullable: false)
          end
          %i[lock_expiry_time lock_retry_delay lock_max_wait_time gc_operation_delay].each do |name|
            check_number(name, opts[name], positive: false, nullable: false)
          end
          LOCK_LIMITS.each do |name, (limit, unit)|
            invalid!(name, opts[name], "at most #{limit} (#{unit})") if opts[name] > limit
          end
          unless BILLING_MODES.include?(opts[:billing_mode])
            invalid!(:billing_mode, opts[:billing_mode], "one of #{BILLING_MODES.map(&:inspect).join(", ")}")
          end
          check_error_handler(opts[:error_handler])
        end

        def check_string(name, value, nullable:)
          return if value.nil? && nullable
          return if value.is_a?(String) && !value.empty?

          invalid!(name, value, nullable ? "nil or a non-empty String" : "a non-empty String")
        end

        def check_endpoint(value)
          check_string(:endpoint, value, nullable: true)
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

        def check_integer(name, value, min:, nullable:, max: nil)
          return if value.nil? && nullable
          return if value.is_a?(Integer) && value >= min && (max.nil? || value <= max)

          range = max ? "between #{min} and #{max}" : ">= #{min}"
          invalid!(name, value, "#{nullable ? "nil or " : ""}an Integer #{range}")
        end

        def check_number(name, value, positive:, nullable:)
          return if value.nil? && nullable

          if real_number?(value) && (positive ? value.positive? : !value.negative?)
            return
          end

          kind = positive ? "a positive number" : "a number >= 0"
          invalid!(name, value, "#{nullable ? "nil or " : ""}#{kind}")
        end

        def real_number?(value)
          value.is_a?(Numeric) && value.real? && (!value.respond_to?(:finite?) || value.finite?)
        end

        def check_config_file(value)
          return if value.nil? || value.is_a?(String) || value.respond_to?(:to_path)

          invalid!(:config_file, value, "nil, a String or a Pathname")
        end

        def check_error_handler(value)
          return if value.nil? || value.respond_to?(:handle_error)

          invalid!(:error_handler, value, "an object responding to #handle_error")
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

            out[name] = %i[connect_timeout operation_timeout].include?(name) ? value.to_f : value
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
