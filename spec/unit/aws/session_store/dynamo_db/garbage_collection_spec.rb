# frozen_string_literal: true

require "stringio"
require "logger"
require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/store_environment"

# GarbageCollection's Ruby half: the request it hands the native scan (the
# limits, segments, pacing), the Result and its summary, the logger and
# the gc event. The scan and deletes run in Rust and MemoryClient has no
# such call, so a recording client stands in; what a run deletes is in
# spec/integration/garbage_collection_spec.rb.
RSpec.describe Aws::SessionStore::DynamoDB::GarbageCollection do
  include_context "with a clean store environment"

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:counters) do
    { scanned: 40, matched: 6, deleted: 6, elapsed: 0.5, consumed_capacity: 12.5, dry_run: false }
  end
  let(:client) do
    answer = counters
    Class.new do
      attr_reader :requests, :progress

      define_method(:collect_garbage) do |request, progress|
        (@requests ||= []) << request
        @progress = progress
        answer.merge(dry_run: request.dry_run)
      end
    end.new
  end

  before { dynamo::Native.client_factory = ->(_options) { client } }
  after { dynamo::Native.client_factory = nil }

  def request
    client.requests.fetch(0).to_h
  end

  describe "the request" do
    it "collects only sessions unused for 30 days plus an hour when no limit is set (never everything)" do
      described_class.collect_garbage(table_name: "t1")
      expect(request).to eq(table: "t1", key_name: "session_id", max_age: nil, max_stale: (30 * 86_400) + 3600.0,
                            segments: 4, operation_delay: 0.0, max_deletes_per_second: nil, dry_run: false)
    end

    it "adds the touch interval to max_stale: a session in use may go that long without a write" do
      described_class.collect_garbage(max_stale: 1000, max_age: 7200)
      expect(request).to include(max_stale: 1050.0, max_age: 7200.0) # 5% of 1000
      described_class.collect_garbage(max_stale: 1000, touch_interval: 0)
      expect(client.requests.last.max_stale).to eq(1000.0)
    end

    it "passes segments, pacing and the dry run as given, String keys too" do
      described_class.collect_garbage("gc_segments" => 2, "gc_operation_delay" => 0.25,
                                      "gc_max_deletes_per_second" => 50, "dry_run" => true)
      expect(request).to include(segments: 2, operation_delay: 0.25, max_deletes_per_second: 50.0, dry_run: true)
    end

    it "reads limits from ENV" do
      ENV["AWS_DYNAMO_DB_SESSION_MAX_AGE"] = "600"
      ENV["AWS_DYNAMO_DB_SESSION_GC_SEGMENTS"] = "8"
      described_class.collect_garbage
      expect(request).to include(max_age: 600.0, segments: 8)
    end

    it "hands the progress block to the scan" do
      block = proc { |_stats| true }
      described_class.collect_garbage(&block)
      expect(client.progress).to equal(block)
    end

    it "refuses bad limits before scanning" do
      expect { described_class.collect_garbage(max_stale: -1) }.to raise_error(dynamo::Errors::ConfigurationError)
      expect { described_class.collect_garbage(gc_segments: 0) }.to raise_error(dynamo::Errors::ConfigurationError)
      expect(client.requests).to be_nil
    end
  end

  describe "the result" do
    it "carries the counters and a summary line, also given to the logger" do
      log = StringIO.new
      result = described_class.collect_garbage(logger: Logger.new(log))
      expect(result.to_h).to eq(counters.merge(skipped: nil))
      expect(result.summary).to eq("garbage collection: scanned 40, deleted 6, in 0.50 s (12.5 capacity units)")
      expect(log.string).to include(result.summary)
    end

    it "says 'would delete' with the matched count on a dry run" do
      result = described_class.collect_garbage(dry_run: true)
      expect(result.summary).to eq("garbage collection: scanned 40, would delete 6, in 0.50 s (12.5 capacity units)")
    end

    it "says why when skipped" do
      result = described_class::Result.new(skipped: "no table")
      expect(result.summary).to eq("garbage collection skipped: no table")
    end
  end

  it "publishes one gc event with the counters, never ids" do
    events = []
    handle = dynamo::Instrumentation.subscribe(:gc) { |event| events << event.payload }
    described_class.collect_garbage(table_name: "t1")
    expect(events).to eq([{ table: "t1", scanned: 40, matched: 6, deleted: 6, consumed_capacity: 12.5,
                            dry_run: false, outcome: :collected }])
  ensure
    dynamo::Instrumentation.unsubscribe(handle) if handle
  end
end
