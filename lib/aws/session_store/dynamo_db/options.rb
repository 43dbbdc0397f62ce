# frozen_string_literal: true

require_relative "serializer"

module Aws
  module SessionStore
    # The store's namespace; options.rb declares its options.
    module DynamoDB
      # One option of the store, declared once. {Configuration} derives its
      # defaults, readers, ENV and YAML parsing, validation and the native
      # client's options from {OPTIONS}; the YAML file the generator writes
      # and the README's options table come from it too (a spec compares the
      # README with {.markdown_table}).
      #
      # @!attribute name [Symbol]
      # @!attribute default the value when no source sets one
      # @!attribute type [Symbol] how values are checked: `:string`,
      #   `:secret` (a String never shown), `:boolean`, `:integer`, `:number`,
      #   `:one_of` (Symbols in `choices`), `:endpoint`, `:path`, `:handler`,
      #   `:client_hash`, `:user_key` (a session key, or a callable),
      #   `:secrets` (an Array of secret Strings, never shown)
      # @!attribute at_least [Numeric, nil] lower bound (`:integer`)
      # @!attribute at_most [Numeric, nil] upper bound (`:integer`, `:number`)
      # @!attribute positive [Boolean] `:number` must be > 0 (else >= 0)
      # @!attribute choices [Array<Symbol>, nil] for `:one_of`
      # @!attribute unit [String, nil] what the number means, for people
      # @!attribute env [Boolean] read from ENV and YAML (false: runtime only)
      # @!attribute native [Boolean] configures the native DynamoDB client
      # @!attribute shown_default [String, nil] the README's default cell
      #   when it says more than the value
      # @!attribute doc [String] one line for the README and the YAML file
      # @api private
      Option = Struct.new(:name, :default, :type, :at_least, :at_most, :positive, :choices, :unit, :env, :native,
                          :shown_default, :doc, keyword_init: true) do
        # nil is accepted exactly when it is the default.
        def nullable?
          default.nil?
        end

        # @return [String, nil] what a valid value looks like, when `value`
        #   is not one (cross-option rules live in Configuration).
        #
        # One branch per type, each one line: read whole, as a table.
        # rubocop:disable Metrics/AbcSize, Metrics/CyclomaticComplexity, Metrics/PerceivedComplexity
        def problem(value)
          return nil if value.nil? && nullable?

          case type
          when :string, :secret, :endpoint then "a non-empty String" unless value.is_a?(String) && !value.empty?
          when :boolean then "true or false" unless [true, false].include?(value)
          when :integer then integer_problem(value)
          when :number then number_problem(value)
          when :one_of then "one of #{choices.map(&:inspect).join(", ")}" unless choices.include?(value)
          when :path then "a String or a Pathname" unless value.is_a?(String) || value.respond_to?(:to_path)
          when :handler then "an object responding to #handle_error" unless value.respond_to?(:handle_error)
          when :user_key then "a session key (String) or a callable" unless user_key?(value)
          when :secrets then "a non-empty Array of Strings of at least 32 bytes" unless secrets?(value)
          end.then { |expected| expected && (nullable? ? "nil or #{expected}" : expected) }
        end
        # rubocop:enable Metrics/AbcSize, Metrics/CyclomaticComplexity, Metrics/PerceivedComplexity

        # "[unit] doc", for the YAML file the generator writes.
        def summary
          unit = self.unit || choices&.join(", ")
          unit ? "[#{unit.delete("`*")}] #{doc.delete("*")}" : doc.delete("*")
        end

        # A String from ENV stays a String for these; others are parsed.
        def text?
          %i[string secret endpoint path one_of user_key].include?(type)
        end

        private

        def secrets?(value)
          value.is_a?(Array) && !value.empty? && value.all? { |key| key.is_a?(String) && key.bytesize >= 32 }
        end

        def user_key?(value)
          (value.is_a?(String) && !value.empty?) || value.is_a?(Symbol) || value.respond_to?(:call)
        end

        def integer_problem(value)
          return nil if value.is_a?(Integer) && value >= at_least && (at_most.nil? || value <= at_most)

          "an Integer #{at_most ? "between #{at_least} and #{at_most}" : ">= #{at_least}"}"
        end

        def number_problem(value)
          return positive ? "a positive number" : "a number >= 0" unless real?(value) && in_sign?(value)

          "at most #{at_most} (#{unit})" if at_most && value > at_most
        end

        # A finite real number (not Complex, NaN or Infinity).
        def real?(value)
          value.is_a?(Numeric) && value.real? && (!value.respond_to?(:finite?) || value.finite?)
        end

        def in_sign?(value)
          positive ? value.positive? : !value.negative?
        end
      end

      # Every option, in the order of the README and the YAML file.
      OPTIONS = [
        # Options of the official gem.
        Option.new(name: :table_name, default: "sessions", type: :string, env: true,
                   doc: "session table"),
        Option.new(name: :table_key, default: "session_id", type: :string, env: true,
                   doc: "the table's hash key (type S)"),
        Option.new(name: :secret_key, default: nil, type: :secret, env: true,
                   shown_default: "— (required by the middleware)",
                   doc: "HMAC secret signing session ids"),
        Option.new(name: :consistent_read, default: true, type: :boolean, env: true,
                   doc: "strongly consistent reads"),
        Option.new(name: :read_capacity, default: 10, type: :integer, at_least: 1, unit: "RCU", env: true,
                   doc: "`create_table`, provisioned mode"),
        Option.new(name: :write_capacity, default: 5, type: :integer, at_least: 1, unit: "WCU", env: true,
                   doc: "`create_table`, provisioned mode"),
        Option.new(name: :raise_errors, default: false, type: :boolean, env: true,
                   doc: "the default handler re-raises every error"),
        Option.new(name: :error_handler, default: nil, type: :handler, unit: "object with `#handle_error`",
                   env: false, shown_default: "`Errors::DefaultHandler`", doc: "see Errors"),
        Option.new(name: :max_age, default: nil, type: :number, positive: true, unit: "seconds", env: true,
                   doc: "a session older than this (since `created_at`) is gone, and garbage"),
        Option.new(name: :max_stale, default: nil, type: :number, positive: true, unit: "seconds", env: true,
                   doc: "a session not written for this long is gone, and garbage; sets `expire_at`. nil: the " \
                        "cookie's `expire_after`, else **30 days** (one warning at boot; see `expire_at`)"),
        Option.new(name: :enable_locking, default: false, type: :boolean, env: true,
                   doc: "pessimistic locking"),
        Option.new(name: :lock_expiry_time, default: 500, type: :number, at_most: 600_000, unit: "milliseconds",
                   env: true, doc: "age after which a held lock may be taken over"),
        Option.new(name: :lock_retry_delay, default: 500, type: :number, at_most: 60_000, unit: "milliseconds",
                   env: true, doc: "wait between lock attempts (±20% jitter)"),
        Option.new(name: :lock_max_wait_time, default: 1, type: :number, at_most: 300, unit: "seconds", env: true,
                   doc: "then `LockWaitTimeoutError`"),
        Option.new(name: :serializer, default: :json, type: :one_of, choices: Serializer::NAMES, env: true,
                   doc: "format of `data` (see Migrating)"),
        Option.new(name: :compress_data_above, default: nil, type: :integer, at_least: 1, unit: "bytes", env: true,
                   doc: "store `data` larger than this zlib-compressed (Base64, behind a prefix): readable by " \
                        "this gem only, so off by default; nil: never"),
        Option.new(name: :hashed_keys, default: false, type: :boolean, env: true,
                   doc: "store each session under an HMAC-SHA256 of its cookie (keyed by `secret_key`), so a " \
                        "table dump holds no live cookie; sessions still under their clear id are read and " \
                        "moved on their next request. The official gem can't read such items: leave it off " \
                        "while both serve one table"),
        Option.new(name: :encrypt_data, default: false, type: :boolean, env: true,
                   doc: "encrypt `data` (AES-256-GCM, bound to its table and key) under `encryption_keys`' first " \
                        "key; encrypted items are read whatever it says. The official gem can't read them: leave " \
                        "it off while both serve one table (see doc/encryption.md)"),
        Option.new(name: :encryption_keys, default: nil, type: :secrets, unit: "Array of secrets", env: true,
                   shown_default: "`[secret_key]`",
                   doc: "secrets (32+ bytes each) the data keys are derived from (HKDF), current first, then " \
                        "previous ones, still read; in ENV separated by commas or spaces"),
        Option.new(name: :refuse_plaintext, default: false, type: :boolean, env: true,
                   doc: "with `encrypt_data`, treat a session stored unencrypted as corrupt (once `reencrypt` " \
                        "has encrypted every item)"),
        Option.new(name: :user_key, default: nil, type: :user_key, unit: "session key, or callable", env: true,
                   doc: "the session key holding the user's id (or a callable given the session Hash): each " \
                        "signed-in session is tracked for `UserSessions` (see doc/user-sessions.md)"),
        Option.new(name: :user_index, default: true, type: :boolean, env: true,
                   doc: "with `user_key`, `create_table` adds the global secondary index `user_id-index` " \
                        "(KEYS_ONLY), and `UserSessions` reads it beside each user's record; false: records only"),
        Option.new(name: :keep_user_agent, default: false, type: :boolean, env: true,
                   doc: "with `user_key`, keep a signed-in session's User-Agent (200 characters) for " \
                        "`UserSessions.list`"),
        Option.new(name: :config_file, default: nil, type: :path, unit: "path", env: true,
                   doc: "YAML file of these options"),
        Option.new(name: :dynamo_db_client, default: nil, type: :client_hash, unit: "Hash of client options",
                   env: false, doc: "see below; client objects are refused"),
        # Options of this gem: the native client.
        Option.new(name: :region, default: nil, type: :string, env: true, native: true,
                   doc: "nil: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile; with only `endpoint`, `us-east-1`"),
        Option.new(name: :endpoint, default: nil, type: :endpoint, unit: "`http(s)://` URL", env: true, native: true,
                   doc: "e.g. DynamoDB Local; nil: the SDK's sources and region rules (see \"Which endpoint\")"),
        Option.new(name: :access_key_id, default: nil, type: :string, env: true, native: true,
                   doc: "nil: the default credential chain"),
        Option.new(name: :secret_access_key, default: nil, type: :secret, env: true, native: true,
                   doc: "with `access_key_id`"),
        Option.new(name: :session_token, default: nil, type: :secret, env: true, native: true,
                   doc: "temporary credentials"),
        Option.new(name: :profile, default: nil, type: :string, env: true, native: true,
                   doc: "shared config/credentials profile (SSO and `credential_process` included)"),
        Option.new(name: :connect_timeout, default: 1, type: :number, positive: true, unit: "seconds", env: true,
                   native: true, doc: "to open a connection"),
        Option.new(name: :operation_timeout, default: 5, type: :number, positive: true, unit: "seconds", env: true,
                   native: true, doc: "one DynamoDB call, retries included"),
        Option.new(name: :max_attempts, default: 10, type: :integer, at_least: 1, unit: "attempts", env: true, native: true,
                   doc: "per call, the first included, all within `operation_timeout` (the SDK's standard retry " \
                        "mode: jittered exponential backoff capped at 2 s, a retry budget shared by the process)"),
        # Options of this gem: the table and garbage collection.
        Option.new(name: :billing_mode, default: :provisioned, type: :one_of, choices: %i[provisioned pay_per_request],
                   env: true, doc: "`create_table`"),
        Option.new(name: :enable_ttl, default: true, type: :boolean, env: true,
                   doc: "`create_table` turns DynamoDB TTL on for `expire_at`"),
        Option.new(name: :touch_interval, default: nil, type: :integer, at_least: 0, unit: "seconds", env: true,
                   doc: "an unchanged session is rewritten at most this often; nil: 5% of its lifetime " \
                        "(`max_stale`, else `expire_after`, else 30 days), at most 3600; 0: every request"),
        Option.new(name: :gc_segments, default: nil, type: :integer, at_least: 1, at_most: 1_000_000, unit: "segments",
                   env: true, shown_default: "`nil` (4)", doc: "parallel scan segments of garbage collection"),
        Option.new(name: :gc_operation_delay, default: 0, type: :number, unit: "seconds", env: true,
                   doc: "pause before each scan page and delete batch"),
        Option.new(name: :gc_max_deletes_per_second, default: nil, type: :number, positive: true, unit: "items/s",
                   env: true, doc: "garbage collection rate limit")
      ].each { |option| option.native ||= false }.map(&:freeze).freeze

      # The README's options table, from {OPTIONS}.
      # @api private
      def self.options_markdown_table
        rows = OPTIONS.map { |option| markdown_row(option) }
        ["| option | default | unit / values | ENV | meaning |", "|---|---|---|---|---|", *rows].join("\n")
      end

      # One option's row of {.options_markdown_table}.
      # @api private
      def self.markdown_row(option)
        default = option.shown_default || "`#{option.default.inspect}`"
        env = option.env ? "`#{Configuration::ENV_PREFIX}#{option.name.to_s.upcase}`" : "— (runtime only)"
        "| `#{option.name}` | #{default} | #{markdown_unit(option)} | #{env} | #{option.doc} |".sub("|  |", "| |")
      end

      # The unit cell: the choices of a `:one_of`, the unit (and its bound).
      # @api private
      def self.markdown_unit(option)
        return option.choices.map { |choice| "`#{choice.inspect}`" }.join(", ") if option.type == :one_of
        return "**#{option.unit}**, at most #{option.at_most}" if option.at_most && option.type == :number

        option.unit.to_s
      end
    end
  end
end
