# frozen_string_literal: true

require "spec_helper"
require "base64"
require "aws-sessionstore-dynamodb-rs"

# Garbage collection against DynamoDB Local, on one 10,000-item table shared
# by the examples (seeded once; examples that delete put the deleted items
# back). DynamoDB Local deletes ~700 items/s, so the garbage is kept small.
RSpec.describe Aws::SessionStore::DynamoDB::GarbageCollection do
  GC_SPEC_MAX_AGE = 5 * 86_400 # seconds
  GC_SPEC_MAX_STALE = 86_400

  # How many items of each kind the big table holds (10,000 in all).
  GC_SPEC_KINDS = {
    old_created: 300,   # created 10 days ago, updated a minute ago: max_age garbage
    stale: 300,         # created 3 days ago, updated 2 days ago: max_stale garbage
    old_and_stale: 100, # both
    old_stub: 20,       # session_id + locked_at 10 days ago (official gem's lock stub)
    fresh_stub: 20,     # session_id + locked_at 10 s ago
    live: 9_260         # created an hour ago, updated a minute ago
  }.freeze

  # The shared table and what was seeded into it.
  shared = {}
  let(:shared) { shared }

  def self.timestamp(seconds_ago, index)
    value = Time.now.to_f - seconds_ago
    index.even? ? { "S" => value.to_s } : { "N" => value.to_s }
  end

  def self.data(index)
    if index % 3 == 0
      { "S" => Base64.strict_encode64(Marshal.dump({ "user" => index })) }
    else
      { "S" => JSON.generate({ "user" => index }) }
    end
  end

  def self.item(kind, index)
    key = { "session_id" => { "S" => format("%s-%05d-%s", kind, index, SecureRandom.hex(4)) } }
    case kind
    when :old_stub then key.merge("locked_at" => timestamp(10 * 86_400, index))
    when :fresh_stub then key.merge("locked_at" => timestamp(10, index))
    else
      created, updated = {
        old_created: [10 * 86_400, 60], stale: [3 * 86_400, 2 * 86_400],
        old_and_stale: [10 * 86_400, 2 * 86_400], live: [3600, 60]
      }.fetch(kind)
      key.merge("created_at" => timestamp(created, index), "updated_at" => timestamp(updated, index + 1),
                "data" => data(index))
    end
  end

  # The kinds that are garbage for these options.
  def self.garbage_kinds(max_age:, max_stale:)
    kinds = %i[old_stub]
    kinds += %i[old_created old_and_stale] if max_age
    kinds += %i[stale old_and_stale] if max_stale
    kinds.uniq
  end

  # batch_put in parallel, one RawDynamoDB (connection) per thread.
  def self.put_all(table, items)
    items.each_slice((items.size / 4) + 1).map do |slice|
      Thread.new { RawDynamoDB.new(DynamoDBLocalHelper.endpoint).tap { |c| c.batch_put(table, slice) }.close }
    end.each(&:join)
  end

  before(:all) do
    shared[:table] = DynamoDBLocalHelper.unique_table_name("gc-spec")
    DynamoDBLocalHelper.raw_client.create_table(shared[:table])
    shared[:kinds] = {}
    shared[:items] = GC_SPEC_KINDS.flat_map do |kind, count|
      Array.new(count) { |i| self.class.item(kind, i).tap { |it| shared[:kinds][it["session_id"]["S"]] = kind } }
    end
    self.class.put_all(shared[:table], shared[:items])
  end

  after(:all) { DynamoDBLocalHelper.raw_client.delete_table(shared[:table]) if shared[:table] }

  let(:raw_dynamodb) { DynamoDBLocalHelper.raw_client }
  let(:owner) { self.class }
  let(:table_name) { shared[:table] }

  def gc_options(extra = {})
    native_options.merge(table_name: table_name, gc_segments: 4).merge(extra)
  end

  def remaining_keys(table = table_name)
    raw_dynamodb.scan_all(table, "ProjectionExpression" => "session_id").map { |item| item["session_id"]["S"] }
  end

  def keys_of(kinds)
    shared[:items].map { |item| item["session_id"]["S"] }.select { |key| kinds.include?(shared[:kinds][key]) }
  end

  def all_keys
    shared[:items].map { |item| item["session_id"]["S"] }
  end

  # Puts back whatever a run deleted (same keys, same timestamps).
  def reseed!
    missing = all_keys - remaining_keys
    items = shared[:items].select { |item| missing.include?(item["session_id"]["S"]) }
    owner.put_all(table_name, items) unless items.empty?
    expect(remaining_keys.size).to eq(10_000)
  end

  # Whether a progress hash queued so far shows deletes (Queue has no
  # #pop(timeout:) on Ruby 3.1): drains it into @drained, kept in order).
  def seen_any_deleted?(queue)
    @drained ||= []
    @drained << queue.pop until queue.empty?
    @drained.any? { |stats| stats[:deleted].positive? }
  end

  it "seeds 10,000 items of every form" do
    expect(shared[:items].size).to eq(10_000)
    expect(remaining_keys.size).to eq(10_000)
  end

  {
    "max_age alone" => { max_age: GC_SPEC_MAX_AGE, max_stale: nil },
    "max_stale alone" => { max_age: nil, max_stale: GC_SPEC_MAX_STALE },
    "max_age and max_stale (either expires)" => { max_age: GC_SPEC_MAX_AGE, max_stale: GC_SPEC_MAX_STALE }
  }.each do |label, limits|
    context "with #{label}" do
      after { reseed! }

      it "deletes exactly the expired sessions and stubs; a second run deletes nothing" do
        garbage = keys_of(owner.garbage_kinds(**limits))
        result = described_class.collect_garbage(gc_options(limits.compact))
        expect(result).to be_a(described_class::Result)
        expect(result).to have_attributes(scanned: 10_000, matched: garbage.size, deleted: garbage.size,
                                          dry_run: false, skipped: nil)
        expect(result.elapsed).to be > 0
        expect(result.consumed_capacity).to be > 0
        expect(result.summary).to match(/scanned 10000, deleted #{garbage.size}, in/)
        expect(remaining_keys).to match_array(all_keys - garbage)

        again = described_class.collect_garbage(gc_options(limits.compact))
        expect(again).to have_attributes(scanned: 10_000 - garbage.size, matched: 0, deleted: 0)
      end
    end
  end

  it "counts the matches on a dry run and deletes nothing" do
    garbage = keys_of(owner.garbage_kinds(max_age: GC_SPEC_MAX_AGE, max_stale: GC_SPEC_MAX_STALE))
    lines = []
    logger = Object.new.tap { |l| l.define_singleton_method(:info) { |msg| lines << msg } }
    result = described_class.collect_garbage(gc_options(max_age: GC_SPEC_MAX_AGE, max_stale: GC_SPEC_MAX_STALE, dry_run: true,
                                                        logger: logger))
    expect(result).to have_attributes(scanned: 10_000, matched: garbage.size, deleted: 0, dry_run: true)
    expect(result.summary).to include("would delete #{garbage.size}")
    expect(lines).to eq([result.summary])
    expect(remaining_keys.size).to eq(10_000)
  end

  it "applies the 30-day default idle lifetime when neither max_age nor max_stale is set (never 'everything')" do
    result = described_class.collect_garbage(gc_options)
    # Nothing in this table is unused for 30 days (the oldest items, 10 days).
    expect(result).to have_attributes(scanned: 10_000, matched: 0, deleted: 0, skipped: nil)
    expect(remaining_keys.size).to eq(10_000)
  end

  context "with a progress block" do
    after { reseed! }

    it "passes increasing counters, and returning false stops early" do
      seen = []
      result = described_class.collect_garbage(gc_options(max_age: GC_SPEC_MAX_AGE, gc_max_deletes_per_second: 200)) do |stats|
        seen << stats
        stats[:deleted] < 50
      end
      expect(seen).not_to be_empty
      expect(seen.first.keys).to include(:scanned, :matched, :deleted, :elapsed, :consumed_capacity, :dry_run)
      %i[scanned matched deleted elapsed].each do |counter|
        values = seen.map { |stats| stats[counter] }
        expect(values).to eq(values.sort), "#{counter} went down: #{values.inspect}"
      end
      expect(seen.map { |s| s[:elapsed] }.uniq.size).to eq(seen.size)
      expect(result.deleted).to be >= 50
      expect(result.deleted).to be < result.matched
      expect(remaining_keys.size).to eq(10_000 - result.deleted)
    end

    it "stops between batches on Thread#raise, reports :interrupted, and lets the exception through" do
      stop_error = Class.new(StandardError)
      seen = Queue.new
      worker = Thread.new do
        described_class.collect_garbage(gc_options(max_age: GC_SPEC_MAX_AGE, gc_max_deletes_per_second: 200)) do |stats|
          seen << stats
          true
        end
      end
      worker.report_on_exception = false
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 10
      until seen_any_deleted?(seen)
        raise "no deletes within 10 s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

        sleep 0.02
      end
      worker.raise(stop_error, "stop now")
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      expect { worker.value }.to raise_error(stop_error, "stop now")
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 2
      @drained << seen.pop until seen.empty?
      final = @drained.last
      expect(final).to include(interrupted: true)
      expect(final[:deleted]).to be_positive
      expect(final[:deleted]).to be < final[:matched]
      expect(remaining_keys.size).to eq(10_000 - final[:deleted])
    end
  end

  describe "throttling" do
    let(:small_table) { DynamoDBLocalHelper.unique_table_name("gc-throttle") }

    before { raw_dynamodb.create_table(small_table) }
    after { raw_dynamodb.delete_table(small_table) }

    let(:small_items) do
      Array.new(400) { |i| owner.item(:old_created, i) } + Array.new(50) { |i| owner.item(:live, i) }
    end

    def seed_small
      owner.put_all(small_table, small_items)
    end

    it "slows deletes down to gc_max_deletes_per_second" do
      seed_small
      fast = described_class.collect_garbage(gc_options(table_name: small_table, max_age: GC_SPEC_MAX_AGE))
      seed_small
      slow = described_class.collect_garbage(gc_options(table_name: small_table, max_age: GC_SPEC_MAX_AGE,
                                                        gc_max_deletes_per_second: 200))
      expect([fast.deleted, slow.deleted]).to eq([400, 400])
      expect(slow.elapsed).to be >= 1.5
      expect(slow.elapsed).to be > fast.elapsed + 0.7
      expect(remaining_keys(small_table).size).to eq(50)
    end
  end
end
