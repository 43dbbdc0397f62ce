# frozen_string_literal: true

require "rbconfig"

# The extension: under lib/aws_sessionstore_dynamodb_rs/<ruby minor>/ in the
# precompiled platform gem (`rake native:gem`) and in a checkout (`rake
# compile` puts each Ruby's build there, so builds for several Rubies live
# side by side), else where the source gem's build put it.
module Aws
  module SessionStore
    module DynamoDB
      # @api private
      module NativeLoader
        NAME = "aws_sessionstore_dynamodb_rs"
        DIR = File.expand_path("../../../#{NAME}", __dir__)

        module_function

        def load!
          minor = RUBY_VERSION[/\A\d+\.\d+/]
          if File.exist?(File.join(DIR, minor, "#{NAME}.#{RbConfig::CONFIG["DLEXT"]}"))
            require "#{NAME}/#{minor}/#{NAME}"
          elsif !(precompiled = precompiled_for).empty? && !built?
            raise LoadError, "aws-sessionstore-dynamodb-rs: this precompiled gem carries the native extension " \
                             "for Ruby #{precompiled.join(", ")}, not Ruby #{minor}. Install the source gem " \
                             "instead (gem install aws-sessionstore-dynamodb-rs --platform ruby; it builds " \
                             "with Rust's cargo)."
          else
            require_built
          end
        end

        # Whether a build for no particular Ruby (the source gem's, or an
        # older `rake compile`'s) sits at lib/aws_sessionstore_dynamodb_rs/.
        def built?
          File.exist?(File.join(DIR, "#{NAME}.#{RbConfig::CONFIG["DLEXT"]}"))
        end

        # Ruby minors with a precompiled extension next to this file.
        def precompiled_for
          Dir.glob(File.join(DIR, "*", "#{NAME}.#{RbConfig::CONFIG["DLEXT"]}")).map { |f| File.basename(File.dirname(f)) }
        end

        def require_built
          require "#{NAME}/#{NAME}"
        rescue LoadError => e
          raise LoadError, "aws-sessionstore-dynamodb-rs: the native extension is not built (#{e.message}). " \
                           "In a checkout run `rake compile`; an installed gem builds it on `gem install`."
        end
      end
    end
  end
end

Aws::SessionStore::DynamoDB::NativeLoader.load!

module Aws
  module SessionStore
    module DynamoDB
      # The Rust core. Private: use RackMiddleware, Table and
      # GarbageCollection instead.
      # @api private
      module Native
        CLIENTS = {} # rubocop:disable Style/MutableConstant
        CLIENTS_LOCK = Mutex.new
        private_constant :CLIENTS, :CLIENTS_LOCK

        # One Struct per request shape: the Rust side reads each member by
        # name (ext/aws_sessionstore_dynamodb_rs/src/ruby_api/client/request.rs),
        # so no call passes a list of positional arguments to swap.

        # Each item call but rewrite_item also takes `instrument`: when true,
        # the call returns `[result, stats]`, stats being `calls`, `attempts`,
        # `retries` and `consumed_capacity` (asked of DynamoDB only then).

        # get_item, delete_item. `consistent` is ignored by delete_item.
        ItemRequest = Struct.new(:table, :key_name, :key, :consistent, :instrument, keyword_init: true)
        # save_session: `data` nil when unchanged; `new_session` selects the
        # condition (item must not / must exist); `lock` is ours, or nil;
        # `user` nil keeps the item's user_id, false removes it, a String
        # sets it; `user_agent` a String sets it.
        SaveRequest = Struct.new(:table, :key_name, :key, :data, :created_at, :expire_at, :new_session, :lock,
                                 :user, :user_agent, :instrument, keyword_init: true)
        # move_session: the session found under `from_key` (an older form of
        # its key) written under `key` and deleted at `from_key` in one
        # transaction; `read_updated_at` is ["S" | "N", text] as read, `lock`
        # ours on the old item, or nil; `user` and `user_agent` the old
        # item's, carried over (with a user, the new key joins its record
        # in the same transaction).
        MoveRequest = Struct.new(:table, :key_name, :key, :from_key, :data, :created_at, :expire_at, :read_updated_at,
                                 :lock, :user, :user_agent, :instrument, keyword_init: true)
        # lock_session, in the official options' units.
        LockRequest = Struct.new(:table, :key_name, :key, :consistent, :expiry_ms, :retry_delay_ms, :max_wait_ms,
                                 :instrument, keyword_init: true)
        # release_lock: the lock value to remove.
        LockedItem = Struct.new(:table, :key_name, :key, :lock, :instrument, keyword_init: true)
        # track_user_session, untrack_user_session, revoke_user_session: the
        # session at `key` of the user whose user_id is `user`; `added_at`
        # (untrack) the entry's date as read.
        UserEntry = Struct.new(:table, :key_name, :user, :key, :added_at, :instrument, keyword_init: true)
        # user_session_keys, user_index_keys: the storage keys in the user's
        # record, or the user index.
        UserRequest = Struct.new(:table, :key_name, :user, :instrument, keyword_init: true)
        # session_summaries: what a list shows of the sessions at `keys`.
        SummaryRequest = Struct.new(:table, :key_name, :keys, :instrument, keyword_init: true)
        # create_table (with the user index when `user_index`), add_user_index:
        # billing_mode "provisioned" or "pay_per_request".
        TableRequest = Struct.new(:table, :key_name, :billing_mode, :read_capacity, :write_capacity, :enable_ttl,
                                  :user_index, :instrument, keyword_init: true)
        # delete_table, describe_table, remove_user_index (which also take a
        # table's name alone).
        TableName = Struct.new(:table, :instrument, keyword_init: true)
        # scan_page: whole items, `limit` per page, from `start_key` (nil: the start).
        ScanRequest = Struct.new(:table, :limit, :start_key, keyword_init: true)
        # rewrite_item: `set` and `expected` are [[name, "S" | "N", text], ...];
        # migrate counts its own work, so no `instrument`.
        RewriteRequest = Struct.new(:table, :key_name, :key, :expected, :set, keyword_init: true)
        # collect_garbage: limits in seconds (Floats), nil for none.
        GcRequest = Struct.new(:table, :key_name, :max_age, :max_stale, :segments, :operation_delay,
                               :max_deletes_per_second, :dry_run, keyword_init: true)

        # A DynamoDB number (N) no Integer or Float holds exactly: a
        # timestamp with more digits than a Float (v0.5 or hand-written
        # items). It keeps the number's own text, so a condition on it
        # compares what DynamoDB stores (`to_s`), and reads as a Float
        # wherever a value is needed (`Float(n)`, comparisons).
        class StoredNumber < Numeric
          include Comparable

          # @param text [String] the number as DynamoDB answered it
          def initialize(text)
            super()
            @text = String.new(text).freeze
            freeze
          end

          # @return [String] the number's own text
          def to_s
            @text
          end

          def to_f
            Float(@text)
          end

          def to_i
            to_f.to_i
          end

          def inspect
            "#<#{self.class.name} #{@text}>"
          end

          def coerce(other)
            [Float(other), to_f]
          end

          def <=>(other)
            other.is_a?(Numeric) ? to_f <=> other.to_f : nil
          end
        end

        @client_factory = nil

        class << self
          # The one place every store, task and CLI gets its native client
          # from: a callable taking the client options, or nil for the real
          # client. Specs of the middleware's contract and the bench's Ruby
          # glue row set an in-memory client here (spec/support/memory_client.rb).
          # @api private
          attr_accessor :client_factory
        end

        # One native client per distinct set of client options, shared by
        # every middleware, task and thread of the process: connections are
        # kept alive, and the SDK client is built once (it is rebuilt
        # automatically in a forked child).
        # @param options [Hash] from Configuration#native_client_options
        # @return [Native::Client]
        def self.client(options)
          return @client_factory.call(options) if @client_factory

          key = options.to_a.sort_by { |k, _| k.to_s }.freeze
          CLIENTS_LOCK.synchronize { CLIENTS[key] ||= Client.new(options) }
        end
      end
    end
  end
end
