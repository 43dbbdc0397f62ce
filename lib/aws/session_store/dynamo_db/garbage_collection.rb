# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Deletes expired sessions. The scan and the deletes run in Rust: a
      # parallel scan whose filter matches timestamps of every gem version
      # (strings since v3, numbers before) and returns keys only, deletes in
      # BatchWriteItems of 25, UnprocessedItems retried with backoff.
      #
      # A session is garbage when its `created_at` is older than `max_age`
      # OR its `updated_at` is older than `max_stale` (seconds). Stub items
      # (only a key and `locked_at`, left by the official gem's locking) are
      # garbage when their lock is older than `max_stale` (else `max_age`).
      #
      # DynamoDB's TTL on `expire_at` deletes expired items for free within
      # days; this is for tables without TTL, or to enforce `max_age`.
      module GarbageCollection
        # What a run did.
        # @!attribute scanned [Integer] items the scan read
        # @!attribute matched [Integer] items that were garbage
        # @!attribute deleted [Integer] items deleted (0 on a dry run)
        # @!attribute elapsed [Float] seconds
        # @!attribute consumed_capacity [Float] capacity units the server
        #   reported for scans and deletes (0.0 when it reports none)
        # @!attribute dry_run [Boolean]
        # @!attribute skipped [String, nil] why nothing was done, if so
        Result = Struct.new(:scanned, :matched, :deleted, :elapsed, :consumed_capacity, :dry_run, :skipped,
                            keyword_init: true) do
          # @return [String] one line for logs.
          def summary
            return "garbage collection skipped: #{skipped}" if skipped

            verb = dry_run ? "would delete" : "deleted"
            format("garbage collection: scanned %<s>d, %<v>s %<m>d, in %<e>.2f s (%<c>.1f capacity units)",
                   s: scanned, v: verb, m: dry_run ? matched : deleted, e: elapsed, c: consumed_capacity)
          end
        end

        # Segments of the parallel scan when `gc_segments` is not set.
        DEFAULT_SEGMENTS = 4

        module_function

        # Deletes expired sessions.
        # @param options [Hash] Configuration options: `max_age`, `max_stale`,
        #   `gc_segments`, `gc_operation_delay` (seconds before each scan page
        #   and each batch), `gc_max_deletes_per_second`, plus the table and
        #   client options. `dry_run: true` counts without deleting.
        #   `logger:` (anything with #info) gets the summary line.
        # @yieldparam progress [Hash] counters, about four times a second;
        #   return `false` from the block to stop between batches.
        # @return [Result]
        def collect_garbage(options = {}, &progress)
          options = options.transform_keys(&:to_sym)
          dry_run = options.delete(:dry_run) ? true : false
          logger = options.delete(:logger)
          config = Configuration.new(options)
          request = gc_request(config, dry_run)
          stats = run(config, request, progress)
          result = Result.new(**stats.slice(*Result.members), skipped: nil)
          log(logger, result)
          result
        end

        # The native run, as the `gc` event.
        def run(config, request, progress)
          Instrumentation.instrument(:gc, config.table_name) do |payload|
            Native.client(config.native_client_options).collect_garbage(request, progress).tap do |counters|
              # :operations go to the trace's spans, not the event.
              payload&.merge!(counters.slice(:scanned, :matched, :deleted, :consumed_capacity, :dry_run, :operations),
                              outcome: :collected)
            end
          end
        end
        private_class_method :run

        def gc_request(config, dry_run)
          Native::GcRequest.new(
            table: config.table_name, key_name: config.table_key, max_age: config.max_age&.to_f,
            max_stale: stale_limit(config), segments: Integer(config.gc_segments || DEFAULT_SEGMENTS),
            operation_delay: config.gc_operation_delay.to_f,
            max_deletes_per_second: config.gc_max_deletes_per_second&.to_f, dry_run: dry_run
          )
        end
        private_class_method :gc_request

        # Sessions are written at most every touch interval while in use, so
        # `updated_at` may lag by that much: never collect a live session.
        # Unused for longer than max_stale (default 30 days), plus the touch
        # interval: a session in use may go that long without a write.
        def stale_limit(config)
          (config.effective_max_stale + config.effective_touch_interval).to_f
        end
        private_class_method :stale_limit

        def log(logger, result)
          logger&.info(result.summary)
        end
        private_class_method :log
      end
    end
  end
end
