# frozen_string_literal: true

# GC throughput: this gem's native garbage collection vs. a plain Ruby
# single-threaded Scan + BatchWriteItem loop, on the same DynamoDB server.
# Prints a markdown table. Run by no test.
#
#   DYNAMODB_ENDPOINT=http://127.0.0.1:8000 ruby bench/gc.rb [--items N] [--segments N] [--delay-ms MS]
#
# With --delay-ms (rake bench: 20), both run behind Toxiproxy (its own
# process, built by script/toxiproxy), which delays every request by that
# much, as real DynamoDB's
# BatchWriteItem takes tens of milliseconds; a first native run straight
# against the server measures the server's own delete rate, the ceiling.
# Creates and deletes its own table. Credentials are "dummy" (DynamoDB Local).

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "optparse"
require "securerandom"
require_relative "../spec/support/raw_dynamodb"
require_relative "support"
require "aws-sessionstore-dynamodb-rs"

items = 100_000
segments = 4
delay_ms = nil
OptionParser.new do |o|
  o.banner = "Usage: ruby bench/gc.rb [--items N] [--segments N] [--delay-ms MS]"
  o.on("--items N", Integer, "expired items per run (default 100000)") { |v| items = v }
  o.on("--segments N", Integer, "gem's parallel scan segments (default 4)") { |v| segments = v }
  o.on("--delay-ms MS", Float, "run both GCs behind a proxy adding MS to every request") { |v| delay_ms = v }
end.parse!

endpoint = ENV.fetch("DYNAMODB_ENDPOINT") { abort "set DYNAMODB_ENDPOINT" }
raw = RawDynamoDB.new(endpoint)

table = "bench-gc-#{SecureRandom.hex(4)}"

def vm_hwm_kib
  BenchSupport.status_kib("VmHWM")
end

def monotonic
  BenchSupport.monotonic
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
      requests = raw.call("BatchWriteItem", "RequestItems" => requests)["UnprocessedItems"] until requests.nil? || requests.empty?
      deleted += keys.size
    end
    start_key = page["LastEvaluatedKey"]
    break unless start_key
  end
  deleted
end

# One native collection of `items` freshly seeded expired items through
# `via`. @return [Array] a table row
def native_row(name, endpoint, via, table, items, segments)
  seed(endpoint, table, items)
  hwm_before = vm_hwm_kib
  result = Aws::SessionStore::DynamoDB::GarbageCollection.collect_garbage(
    table_name: table, endpoint: via, region: "us-east-1", access_key_id: "dummy",
    secret_access_key: "dummy", max_stale: 86_400, gc_segments: segments
  )
  raise "gem deleted #{result.deleted} of #{items}" unless result.deleted == items

  [name, result.deleted, result.elapsed, vm_hwm_kib, hwm_before]
end

rows = []
proxy_pid = nil
begin
  raw.create_table(table)
  via = endpoint
  if delay_ms
    warn "server's own delete rate (native GC, no delay)..."
    rows << native_row("aws-sessionstore-dynamodb-rs, no delay (the server's delete rate)", endpoint, endpoint,
                       table, items, segments)
    via, proxy_pid = BenchSupport.delayed_endpoint(endpoint, delay_ms)
  end
  warn "gem GC of #{items} items#{" behind #{delay_ms} ms" if delay_ms}..."
  rows << native_row("aws-sessionstore-dynamodb-rs (#{segments} segments)", endpoint, via, table, items, segments)

  warn "re-seeding #{items} items; plain Ruby GC..."
  seed(endpoint, table, items)
  hwm_before = vm_hwm_kib
  t = monotonic
  through = RawDynamoDB.new(via)
  deleted = ruby_gc(through, table, Time.now.to_f - 86_400)
  elapsed = monotonic - t
  raise "plain Ruby deleted #{deleted} of #{items}" unless deleted == items

  rows << ["plain Ruby Scan + BatchWriteItem (1 thread)", deleted, elapsed, vm_hwm_kib, hwm_before]
ensure
  Process.kill("TERM", -proxy_pid) if proxy_pid
  raw.delete_table(table)
end

puts "GC of #{items} expired items, DynamoDB at #{endpoint}" \
     "#{", every request delayed #{delay_ms.round} ms by a Toxiproxy latency toxic" if delay_ms}, Ruby #{RUBY_VERSION}"
puts
puts "| implementation | deleted | seconds | items/s | peak RSS (VmHWM) after run | VmHWM before run |"
puts "|---|---:|---:|---:|---:|---:|"
rows.each do |name, count, secs, hwm, before|
  puts format("| %s | %d | %.2f | %.0f | %.1f MiB | %.1f MiB |", name, count, secs, count / secs, hwm / 1024.0,
              before / 1024.0)
end
puts
puts "VmHWM is the process's peak RSS so far (it never goes down), so later rows include earlier runs' peaks."
if delay_ms
  server, gem, loop_row = rows.map { |_, count, secs| count / secs }
  goal = [8 * loop_row, 0.9 * server].min
  puts
  puts format("Behind the proxy: the gem's rate is %.1fx the Ruby loop's and %.0f%% of the server's own rate; " \
              "goal min(8x loop, 90%% of the server) = %.0f items/s: %s.", gem / loop_row, 100 * gem / server,
              goal, gem >= goal ? "met" : "not met")
end
