# frozen_string_literal: true

require "json"
require "digest"
require "fileutils"
require_relative "migration/state"
require_relative "migration/pass"
require_relative "migration/reencrypt_pass"

module Aws
  module SessionStore
    module DynamoDB
      # Rewrites items the v0.5 gem left (timestamps as numbers, data as
      # Base64 Marshal) to the format official v4 and this gem write, in
      # place, without logging anyone out:
      #
      # - `created_at` / `updated_at` stored as N become the same time as S
      #   (Ruby's `Float#to_s`, as the official gem writes it);
      # - Marshal `data` becomes JSON, only with `allow_marshal: true` and
      #   only when JSON holds exactly the same session (no Symbols, Times or
      #   other objects JSON would turn into Strings); otherwise it is kept
      #   and counted.
      #
      # Each rewrite is conditional on the replaced attributes still holding
      # what the scan read, so an item a request changed meanwhile is
      # skipped, never clobbered. A state file (one per table, mode 0600,
      # replaced atomically) keeps the scan position after every page, so an
      # interrupted run resumes where it stopped; it holds no live session
      # id: a position that is a cookie value is kept only as its SHA-256,
      # and the resumed run then scans again from the start (rewrites are
      # idempotent: items already rewritten count as v4). A state file is
      # resumed only by a run of the same table and mode.
      #
      # Marshal.load on the table's data runs whatever object graph the
      # item's writer chose: anyone able to write to the table could run
      # code in this process. Only allow it for a table your own servers
      # wrote.
      module Migration
        # Counts of one run. `v05_timestamps` and `marshal_data` count the
        # items found in those shapes (an item may be both); `rewritten`
        # the items written (would be, on a dry run).
        Result = Struct.new(:scanned, :v4, :v05_timestamps, :marshal_data, :marshal_kept, :marshal_not_json,
                            :rewritten, :changed_meanwhile, :dry_run, :resumed, keyword_init: true) do
          def summary
            verb = dry_run ? "would rewrite" : "rewrote"
            "migration: scanned #{scanned}, #{verb} #{rewritten} " \
              "(N timestamps #{v05_timestamps}, Marshal data #{marshal_data}; already v4 #{v4}; " \
              "Marshal kept #{marshal_kept}#{" (needs --allow-marshal)" if marshal_kept.positive? && !dry_run}, " \
              "not representable as JSON #{marshal_not_json}; changed meanwhile #{changed_meanwhile})"
          end
        end

        MARSHAL_PREFIX = "BA" # Base64 of Marshal's "\x04\x08"
        PAGE_SIZE = 100
        STATE_VERSION = 1
        # A signed session id, as cookies carry it: never stored in clear.
        COOKIE_SHAPED = /\A\h{32}--[0-9a-zA-Z]+\z/

        module_function

        # @param options [Hash] Configuration options (table, client), plus:
        # @option options [Boolean] :dry_run count only
        # @option options [Boolean] :allow_marshal decode Marshal data (see above)
        # @option options [String, :default] :state_file where the scan
        #   position is kept (:default: {.default_state_file}); nil: nowhere
        # @option options [Numeric] :max_writes_per_second pacing; nil: none
        # @yieldparam result [Result] the counts so far, after each page
        # @return [Result]
        def migrate(options = {}, &block)
          run_pass(options, Pass, &block)
        end

        # Re-encrypts every session (`encrypt_data`): data stored unencrypted
        # or under a previous key is sealed under the current one (the first
        # of `encryption_keys`), by the same conditional rewrites, state
        # file, dry run and pacing as {.migrate}; the default state file is
        # `.aws-sessionstore-dynamodb-reencrypt.TABLE.json`.
        # @return [ReencryptPass::Result]
        def reencrypt(options = {}, &block)
          run_pass(options.merge(reencrypt: true), ReencryptPass, &block)
        end

        # One run of `pass_class` over every item, from the saved position.
        def run_pass(options, pass_class)
          run, config = split_options(options)
          client = Native.client(config.native_client_options)
          state = state_for(run, config)
          start_key = state.resume
          result = pass_class.empty_result(run, state)
          pass = pass_class.new(client, config, run, result)
          each_page(client, config, start_key) do |items, next_key|
            items.each { |item| pass.migrate_item(item) }
            state.save(next_key, result)
            yield result if block_given?
          end
          result
        end
        private_class_method :run_pass

        def state_for(run, config)
          State.new(state_path(run[:state_file], config.table_name, run[:reencrypt]), config, run)
        end
        private_class_method :state_for

        # [this run's own options, Configuration of the rest]
        def split_options(options)
          options = options.transform_keys(&:to_sym)
          run = options.slice(:dry_run, :allow_marshal, :state_file, :max_writes_per_second, :reencrypt)
          [run, Configuration.new(options.reject { |k, _| run.key?(k) })]
        end
        private_class_method :split_options

        # Yields each scan page's items and the key to go on from (nil after
        # the last page).
        def each_page(client, config, start_key)
          loop do
            items, start_key = client.scan_page(Native::ScanRequest.new(table: config.table_name,
                                                                        limit: PAGE_SIZE, start_key: start_key))
            yield items, start_key
            break unless start_key
          end
        end
        private_class_method :each_page

        # The state file used when none is named: one per table, in the
        # current directory.
        def default_state_file(table, reencrypt: false)
          File.join(Dir.pwd, ".aws-sessionstore-dynamodb-#{reencrypt ? "reencrypt" : "migrate"}.#{table}.json")
        end

        def state_path(option, table, reencrypt)
          if option == :default
            default_state_file(table, reencrypt: reencrypt ? true : false)
          else
            option
          end
        end
      end
    end
  end
end
