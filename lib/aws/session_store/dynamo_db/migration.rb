# frozen_string_literal: true

require "json"
require "digest"
require "fileutils"

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
        def migrate(options = {})
          options = options.transform_keys(&:to_sym)
          run = options.slice(:dry_run, :allow_marshal, :state_file, :max_writes_per_second)
          config = Configuration.new(options.reject { |k, _| run.key?(k) })
          client = Native.client(config.native_client_options)
          state = State.new(state_path(run[:state_file], config.table_name), config, run)
          start_key = state.resume
          result = Result.new(scanned: 0, v4: 0, v05_timestamps: 0, marshal_data: 0, marshal_kept: 0,
                              marshal_not_json: 0, rewritten: 0, changed_meanwhile: 0,
                              dry_run: run[:dry_run] ? true : false, resumed: state.resumed?)
          pace = run[:max_writes_per_second] && (1.0 / run[:max_writes_per_second])
          loop do
            items, start_key = client.scan_page(Native::ScanRequest.new(table: config.table_name,
                                                                        limit: PAGE_SIZE, start_key: start_key))
            items.each { |item| migrate_item(client, config, item, run, result, pace) }
            state.save(start_key, result)
            yield result if block_given?
            break unless start_key
          end
          result
        end

        # The state file used when none is named: one per table, in the
        # current directory.
        def default_state_file(table)
          File.join(Dir.pwd, ".aws-sessionstore-dynamodb-migrate.#{table}.json")
        end

        def state_path(option, table)
          option == :default ? default_state_file(table) : option
        end

        def migrate_item(client, config, item, run, result, pace)
          result.scanned += 1
          expected, set, legacy = rewrite_for(item, run[:allow_marshal], result)
          if set.empty?
            # Marshal data kept as it is is counted as such, not as v4.
            result.v4 += 1 unless legacy
            return
          end
          return result.rewritten += 1 if run[:dry_run]

          request = Native::RewriteRequest.new(table: config.table_name, key_name: config.table_key,
                                               key: item.dig(config.table_key, 1), expected: expected, set: set)
          if client.rewrite_item(request)
            result.rewritten += 1
          else
            result.changed_meanwhile += 1
          end
          sleep(pace) if pace
        end

        # [expected, set, legacy] for one item's rewrite; legacy: whether it
        # has a v0.5 shape at all (rewritten or not).
        def rewrite_for(item, allow_marshal, result)
          expected = []
          set = []
          numeric = %w[created_at updated_at].select { |name| item.dig(name, 0) == "N" }
          unless numeric.empty?
            result.v05_timestamps += 1
            numeric.each do |name|
              expected << [name, "N", item[name][1]]
              set << [name, "S", Float(item[name][1]).to_s]
            end
          end
          type, data = item["data"]
          marshal = type == "S" && data.start_with?(MARSHAL_PREFIX)
          if marshal
            result.marshal_data += 1
            json = allow_marshal ? marshal_to_json(data) : nil
            if json
              expected << ["data", "S", data]
              set << ["data", "S", json]
            elsif allow_marshal
              result.marshal_not_json += 1
            else
              result.marshal_kept += 1
            end
          end
          [expected, set, !numeric.empty? || marshal]
        end

        # The session as JSON, or nil unless JSON holds exactly the same.
        def marshal_to_json(data)
          session = Marshal.load(data.unpack1("m*")) # rubocop:disable Security/MarshalLoad
          return nil unless session.is_a?(Hash)

          json = JSON.generate(session)
          JSON.parse(json) == session ? json : nil
        rescue StandardError
          nil
        end

        # The scan position of an interrupted run: which table and mode it
        # was made for, the position (or only its SHA-256 when it is a
        # cookie value) and the counts so far.
        class State
          # @param path [String, nil] nil: no state kept
          def initialize(path, config, run)
            @path = path
            @table = config.table_name
            @key_name = config.table_key
            @mode = { "dry_run" => run[:dry_run] ? true : false, "allow_marshal" => run[:allow_marshal] ? true : false }
            @resumed = false
            @scanned_before = 0
          end

          def resumed?
            @resumed
          end

          # The key to start the scan from (nil: the start), after checking
          # that the file was made by a run like this one.
          # @raise [Errors::ConfigurationError] for a corrupt file or another
          #   table or mode
          def resume
            return nil unless @path && File.exist?(@path)

            saved = parse
            check(saved)
            @resumed = true
            start_key, where = position(saved)
            # Counted on from where it stopped (from 0 when it starts over).
            @scanned_before = start_key ? saved["scanned"] : 0
            warn "migration: resuming #{@table} from #{@path} (#{saved["scanned"]} items scanned before; #{where})"
            start_key
          end

          # Keeps the position after a page; removes the file at the end.
          def save(start_key, result)
            return unless @path
            return FileUtils.rm_f(@path) unless start_key

            write(JSON.generate(@mode.merge("version" => STATE_VERSION, "table" => @table, "key_name" => @key_name,
                                            "scanned" => @scanned_before + result.scanned,
                                            **stored_key(start_key))))
          end

          private

          def parse
            saved = JSON.parse(File.read(@path))
            raise TypeError, "not a JSON object" unless saved.is_a?(Hash)

            saved
          rescue JSON::ParserError, TypeError, EncodingError, SystemCallError => e
            raise Errors::ConfigurationError,
                  "migration state file #{@path} is unreadable (#{e.class}); delete it to start over"
          end

          def check(saved)
            unless saved["version"] == STATE_VERSION && saved["table"].is_a?(String)
              raise Errors::ConfigurationError, "migration state file #{@path} is not one this version wrote; " \
                                                "delete it to start over"
            end
            if saved["table"] != @table
              raise Errors::ConfigurationError, "migration state file #{@path} was made for table " \
                                                "#{saved["table"].inspect}, not #{@table.inspect}"
            end
            if saved["key_name"].is_a?(String) && saved["key_name"] != @key_name
              raise Errors::ConfigurationError, "migration state file #{@path} was made for key " \
                                                "#{saved["key_name"].inspect}, not #{@key_name.inspect}"
            end
            check_fields(saved)
            return if @mode.all? { |name, value| saved[name] == value }

            raise Errors::ConfigurationError, "migration state file #{@path} was made by a run with " \
                                              "#{describe(saved)}; this run has #{describe(@mode)}: run again " \
                                              "the same way to resume, or delete the file to start over"
          end

          # Every field as this version writes it, or a one-line error naming
          # the first that is not.
          def check_fields(saved)
            wrong = FIELDS.find { |name, (_, valid)| !valid.call(saved[name], saved) }
            wrong ||= ["start_key_sha256", ["the SHA-256 of start_key"]] if mismatched_key?(saved)
            return unless wrong

            name, (expected,) = wrong
            raise Errors::ConfigurationError, "migration state file #{@path}: #{name} must be #{expected} " \
                                              "(is #{kind(saved[name])}); delete it to start over"
          end

          def mismatched_key?(saved)
            key = saved["start_key"]
            key.is_a?(String) && Digest::SHA256.hexdigest(key) != saved["start_key_sha256"]
          end

          # A value's kind for an error message, never its content (it may
          # be a session id).
          def kind(value)
            case value
            when nil then "missing"
            when true, false then value.to_s
            when Integer then value.negative? ? "negative" : "an Integer"
            else "a #{value.class}"
            end
          end

          BOOLEAN = ->(value, _) { [true, false].include?(value) }
          FIELDS = {
            "key_name" => ["a String", ->(value, _) { value.is_a?(String) && !value.empty? }],
            "dry_run" => ["true or false", BOOLEAN],
            "allow_marshal" => ["true or false", BOOLEAN],
            "scanned" => ["an Integer of 0 or more", ->(value, _) { value.is_a?(Integer) && !value.negative? }],
            "start_key_sha256" => ["64 hex digits", ->(value, _) { value.is_a?(String) && value.match?(/\A\h{64}\z/) }],
            "start_key" => ["a non-empty String, or absent (a live session id is never kept)",
                            ->(value, saved) { saved.key?("start_key") ? value.is_a?(String) && !value.empty? : true }]
          }.freeze
          private_constant :BOOLEAN, :FIELDS

          def describe(mode)
            "dry_run=#{mode["dry_run"].inspect}, allow_marshal=#{mode["allow_marshal"].inspect}"
          end

          # [start key or nil, words for the resume line]
          def position(saved)
            key = saved["start_key"]
            if key.is_a?(String)
              [{ @key_name => key }, "from the saved position"]
            else
              [nil, "the position was a live session id, so only its hash was kept: scanning again from the " \
                    "start; items already rewritten are counted as v4"]
            end
          end

          def stored_key(start_key)
            key = start_key[@key_name].to_s
            stored = { "start_key_sha256" => Digest::SHA256.hexdigest(key) }
            key.match?(COOKIE_SHAPED) ? stored : stored.merge("start_key" => key)
          end

          # Written to a temporary file beside it, 0600, then renamed: a
          # crash never leaves half a file, and nobody else can read it.
          def write(text)
            tmp = "#{@path}.#{Process.pid}.tmp"
            FileUtils.rm_f(tmp)
            File.open(tmp, File::WRONLY | File::CREAT | File::EXCL, 0o600) { |f| f.write(text) }
            File.rename(tmp, @path)
          ensure
            FileUtils.rm_f(tmp) if tmp && File.exist?(tmp)
          end
        end
      end
    end
  end
end
