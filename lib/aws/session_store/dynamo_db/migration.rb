# frozen_string_literal: true

require "json"

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
      # skipped, never clobbered. A state file keeps the scan position after
      # every page, so an interrupted run resumes where it stopped.
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

        module_function

        # @param options [Hash] Configuration options (table, client), plus:
        # @option options [Boolean] :dry_run count only
        # @option options [Boolean] :allow_marshal decode Marshal data (see above)
        # @option options [String] :state_file where the scan position is kept
        # @option options [Numeric] :max_writes_per_second pacing; nil: none
        # @yieldparam result [Result] the counts so far, after each page
        # @return [Result]
        def migrate(options = {})
          options = options.transform_keys(&:to_sym)
          run = options.slice(:dry_run, :allow_marshal, :state_file, :max_writes_per_second)
          config = Configuration.new(options.reject { |k, _| run.key?(k) })
          client = Native.client(config.native_client_options)
          start_key = read_state(run[:state_file])
          result = Result.new(scanned: 0, v4: 0, v05_timestamps: 0, marshal_data: 0, marshal_kept: 0,
                              marshal_not_json: 0, rewritten: 0, changed_meanwhile: 0,
                              dry_run: run[:dry_run] ? true : false, resumed: !start_key.nil?)
          pace = run[:max_writes_per_second] && (1.0 / run[:max_writes_per_second])
          loop do
            items, start_key = client.scan_page(Native::ScanRequest.new(table: config.table_name,
                                                                        limit: PAGE_SIZE, start_key: start_key))
            items.each { |item| migrate_item(client, config, item, run, result, pace) }
            write_state(run[:state_file], start_key)
            yield result if block_given?
            break unless start_key
          end
          result
        end

        def migrate_item(client, config, item, run, result, pace)
          result.scanned += 1
          expected, set = rewrite_for(item, run[:allow_marshal], result)
          if set.empty?
            result.v4 += 1 if expected.empty?
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

        # [expected, set] for one item's rewrite (both empty: already v4).
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
          if type == "S" && data.start_with?(MARSHAL_PREFIX)
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
          [expected, set]
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

        def read_state(path)
          return nil unless path && File.file?(path)

          JSON.parse(File.read(path))["start_key"]
        end

        def write_state(path, start_key)
          return unless path

          if start_key
            File.write(path, JSON.generate("start_key" => start_key))
          elsif File.exist?(path)
            File.delete(path) # finished: nothing to resume
          end
        end
      end
    end
  end
end
