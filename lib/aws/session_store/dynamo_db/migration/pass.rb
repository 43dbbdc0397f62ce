# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Migration
        # One run's work on each item scanned: what to rewrite, the
        # conditional rewrite, the counts ({Result}).
        # @api private
        class Pass
          def self.empty_result(run, state)
            Result.new(scanned: 0, v4: 0, v05_timestamps: 0, marshal_data: 0, marshal_kept: 0,
                       marshal_not_json: 0, rewritten: 0, changed_meanwhile: 0,
                       dry_run: run[:dry_run] ? true : false, resumed: state.resumed?)
          end

          # @param run [Hash] the run's own options (`dry_run`,
          #   `allow_marshal`, `max_writes_per_second`).
          def initialize(client, config, run, result)
            @client = client
            @config = config
            @run = run
            @result = result
            @pace = run[:max_writes_per_second] && (1.0 / run[:max_writes_per_second])
          end

          def migrate_item(item)
            @result.scanned += 1
            expected, set, legacy = rewrite_for(item)
            if set.empty?
              # Marshal data kept as it is is counted as such, not as v4.
              @result.v4 += 1 unless legacy
              return
            end
            return @result.rewritten += 1 if @run[:dry_run]

            rewrite(item, expected, set)
          end

          def inspect
            "#<#{self.class.name} #{@config.table_name}>"
          end

          private

          # One conditional rewrite, then the pause `max_writes_per_second` asks.
          def rewrite(item, expected, set)
            key_name = @config.table_key
            request = Native::RewriteRequest.new(table: @config.table_name, key_name: key_name,
                                                 key: item.dig(key_name, 1), expected: expected, set: set)
            if @client.rewrite_item(request)
              @result.rewritten += 1
            else
              @result.changed_meanwhile += 1
            end
            sleep(@pace) if @pace
          end

          # [expected, set, legacy] for one item's rewrite; legacy: whether it
          # has a v0.5 shape at all (rewritten or not).
          def rewrite_for(item)
            expected = []
            set = []
            numeric = rewrite_timestamps(item, expected, set)
            marshal = rewrite_marshal(item, expected, set)
            [expected, set, numeric || marshal]
          end

          # v0.5's numeric timestamps, as v4's strings. @return [Boolean] any
          def rewrite_timestamps(item, expected, set)
            numeric = %w[created_at updated_at].select { |name| item.dig(name, 0) == "N" }
            return false if numeric.empty?

            @result.v05_timestamps += 1
            numeric.each do |name|
              expected << [name, "N", item[name][1]]
              set << [name, "S", Float(item[name][1]).to_s]
            end
            true
          end

          # Marshal data, as JSON when allowed and JSON holds it exactly.
          # @return [Boolean] whether the data is Marshal data
          def rewrite_marshal(item, expected, set)
            type, data = item["data"]
            return false unless type == "S" && data.start_with?(MARSHAL_PREFIX)

            @result.marshal_data += 1
            json = @run[:allow_marshal] ? marshal_to_json(data) : nil
            if json
              expected << ["data", "S", data]
              set << ["data", "S", json]
            elsif @run[:allow_marshal]
              @result.marshal_not_json += 1
            else
              @result.marshal_kept += 1
            end
            true
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
        end
      end
    end
  end
end
