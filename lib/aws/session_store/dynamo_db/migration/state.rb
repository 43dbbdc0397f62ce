# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Migration
        # The scan position of an interrupted run: which table and mode it
        # was made for, the position (or only its SHA-256 when it is a
        # cookie value) and the counts so far.
        class State
          # @param path [String, nil] nil: no state kept
          def initialize(path, config, run)
            @path = path
            @table = config.table_name
            @key_name = config.table_key
            @mode = { "dry_run" => run[:dry_run] ? true : false, "allow_marshal" => run[:allow_marshal] ? true : false,
                      "reencrypt" => run[:reencrypt] ? true : false }
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
            check_origin(saved)
            check_fields(saved)
            # A file from before `reencrypt` existed was a migrate run's.
            return if @mode.all? { |name, value| saved.fetch(name, false) == value }

            raise Errors::ConfigurationError, "migration state file #{@path} was made by a run with " \
                                              "#{describe(saved)}; this run has #{describe(@mode)}: run again " \
                                              "the same way to resume, or delete the file to start over"
          end

          # Written by this version, for this table and key.
          def check_origin(saved)
            unless saved["version"] == STATE_VERSION && saved["table"].is_a?(String)
              raise Errors::ConfigurationError, "migration state file #{@path} is not one this version wrote; " \
                                                "delete it to start over"
            end
            made_for!("table", saved["table"], @table) if saved["table"] != @table
            key_name = saved["key_name"]
            made_for!("key", key_name, @key_name) if key_name.is_a?(String) && key_name != @key_name
          end

          def made_for!(what, saved, expected)
            raise Errors::ConfigurationError, "migration state file #{@path} was made for #{what} " \
                                              "#{saved.inspect}, not #{expected.inspect}"
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
            "reencrypt" => ["true or false, or absent", ->(value, saved) { !saved.key?("reencrypt") || BOOLEAN[value, saved] }],
            "scanned" => ["an Integer of 0 or more", ->(value, _) { value.is_a?(Integer) && !value.negative? }],
            "start_key_sha256" => ["64 hex digits", ->(value, _) { value.is_a?(String) && value.match?(/\A\h{64}\z/) }],
            "start_key" => ["a non-empty String, or absent (a live session id is never kept)",
                            ->(value, saved) { saved.key?("start_key") ? value.is_a?(String) && !value.empty? : true }]
          }.freeze
          private_constant :BOOLEAN, :FIELDS

          def describe(mode)
            "#{"reencrypt, " if mode["reencrypt"]}dry_run=#{mode["dry_run"].inspect}, " \
              "allow_marshal=#{mode["allow_marshal"].inspect}"
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
