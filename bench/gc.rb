# frozen_string_literal: true

# GC throughput: this gem's native garbage collection vs. a plain Ruby
# single-threaded Scan + BatchWriteItem loop, on the same DynamoDB server.
# Prints a markdown table. Run by no test.
#
#   DYNAMODB_ENDPOINT=http://127.0.0.1:8000 ruby bench/gc.rb [--items N] [--segments N]
#
# Creates and deletes its own table. Credentials are "dummy" (DynamoDB Local).

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "optparse"
require "securerandom"
require_relative "../spec/support/raw_dynamodb"
require "aws-sessionstore-dynamodb-rs"

items = 100_000
segments = 4
OptionParser.new do |o|
  o.banner = "Usage: ruby bench/gc.rb [--items N] [--segments N]"
  o.on("--items N", Integer, "expired items per run (default 100000)") { |v| items = v }
  o.on("--segments N", Integer, "gem's parallel scan segments (default 4)") { |v| segments = v }
end.parse!

endpoint = ENV.fetch("DYNAMODB_ENDPOINT") { abort "set DYNAMODB_ENDPOINT" }
raw = RawDynamoDB.new(endpoint)
table = "bench-gc-#{SecureRandom.hex(4)}"

def vm_hwm_kib
  File.read("/proc/self/status")[/^VmHWM:\s+(\d+)\s+kB/, 1].to_i
end

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

# Expired sessions (created and updated two days ago), put by 4 threads.
def seed(endpoint, table, count)
  old = (Time.now.to_f - (2 * 86_400)).to_s
  slices = (0...count).each_slice((count / 4) + 1).to_a
  slices.map do |range|
    Thread.new do
      client = RawDynamoDB.new(endpoint)
      range.each_slice(1000) do |chunk|
        client.batch_put(table, chunk.map do |i|
          { "session_id" => { "S" => format("s%08d-%s", i, SecureRandom.hex(8)) },
            "created_at" => { "S" => old }, "updated_at" => { "S" => old },
            "data" => { "S" => "{\"user_id\":#{i},\"cart\":[1,2,3]}" } }
        end)
      end
      client.close
    end
  end.each(&:join)
end

# A straightforward plain-Ruby GC: one Scan page at a time, keys only,
# BatchWriteItem deletes of 25 with UnprocessedItems retried.
def ruby_gc(raw, table, cutoff)
  deleted = 0
  start_key = nil
  loop do
    payload = { "TableName" => table, "ProjectionExpression" => "session_id",
                "FilterExpression" => "updated_at < :c",
                "ExpressionAttributeValues" => { ":c" => { "S" => cutoff.to_s } } }
    payload["ExclusiveStartKey"] = start_key if start_key
    page = raw.call("Scan", payload)
    page.fetch("Items", []).each_slice(25) do |keys|
      requests = { table => keys.map { |key| { "DeleteRequest" => { "Key" => key } } } }
      until requests.nil? || requests.empty?
        requests = raw.call("BatchWriteItem", "RequestItems" => requests)["UnprocessedItems"]
      end
      deleted += keys.size
    end
    start_key = page["LastEvaluatedKey"]
    break unless start_key
  end
  deleted
end

rows = []
begin
  raw.create_table(table)
  $stderr.puts "seeding #{items} items..."
  t = monotonic
  seed(endpoint, table, items)
  $stderr.puts format("seeded in %.1f s; gem GC...", monotonic - t)

  hwm_before = vm_hwm_kib
  result = Aws::SessionStore::DynamoDB::GarbageCollection.collect_garbage(
    table_name: table, endpoint: endpoint, region: "us-east-1", access_key_id: "dummy",
    secret_access_key: "dummy", max_stale: 86_400, gc_segments: segments
  )
  raise "gem deleted #{result.deleted} of #{items}" unless result.deleted == items

  rows << ["aws-sessionstore-dynamodb-rs (#{segments} segments)", result.deleted, result.elapsed, vm_hwm_kib, hwm_before]

  $stderr.puts "re-seeding #{items} items; plain Ruby GC..."
  seed(endpoint, table, items)
  hwm_before = vm_hwm_kib
  t = monotonic
  deleted = ruby_gc(raw, table, Time.now.to_f - 86_400)
  elapsed = monotonic - t
  raise "plain Ruby deleted #{deleted} of #{items}" unless deleted == items

  rows << ["plain Ruby Scan + BatchWriteItem (1 thread)", deleted, elapsed, vm_hwm_kib, hwm_before]
ensure
  raw.delete_table(table)
end

puts "GC of #{items} expired items, DynamoDB at #{endpoint}, Ruby #{RUBY_VERSION}"
puts
puts "| implementation | deleted | seconds | items/s | peak RSS (VmHWM) after run | VmHWM before run |"
puts "|---|---:|---:|---:|---:|---:|"
rows.each do |name, count, secs, hwm, before|
  puts format("| %s | %d | %.2f | %.0f | %.1f MiB | %.1f MiB |", name, count, secs, count / secs, hwm / 1024.0,
              before / 1024.0)
end
puts
puts "VmHWM is the process's peak RSS so far (it never goes down), so the second row includes the first run's peak."
