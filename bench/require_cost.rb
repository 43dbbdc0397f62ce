# frozen_string_literal: true

# What loading the gem costs a process: `require "aws-sessionstore-dynamodb-rs"`
# in a fresh Ruby, then also the first client connect, against a bare
# `ruby -e 0` and `require "rack"` (the gem's only runtime dependency). Each
# variant runs in 5 fresh processes (--runs), medians reported. Prints a
# markdown table. Run by no test; `rake bench` runs it.
#
#   [DYNAMODB_ENDPOINT=http://127.0.0.1:PORT] ruby bench/require_cost.rb [--runs N]
#
# Columns: process wall (spawn to exit, Ruby's own boot included), the time
# of the variant's statements measured inside the process, and the
# process's RSS (VmRSS) and peak RSS (VmHWM) at the end. "added" is the
# difference from `ruby -e 0`'s median. The connect rows need
# DYNAMODB_ENDPOINT: "connect" builds the native SDK client (runtime,
# credentials, endpoint resolver: no network), "first GetItem" then makes one
# call (a table that does not exist, so the answer is an error, but the
# connection, signing and the round trip all happen).

require "optparse"
require "rbconfig"

runs = 5
OptionParser.new { |o| o.on("--runs N", Integer) { |n| runs = n } }.parse!
lib = File.expand_path("../lib", __dir__)
endpoint = ENV["DYNAMODB_ENDPOINT"].to_s

# Printed by every child at the end: its statements' time and memory (no
# library loaded for it, so the baseline stays a bare `ruby -e 0`).
REPORT = <<~RUBY
  __s = File.read("/proc/self/status")
  STDOUT.write([__t, __s[/^VmRSS:\\s+(\\d+)/, 1], __s[/^VmHWM:\\s+(\\d+)/, 1]].join(" "))
RUBY

def child(body)
  <<~RUBY
    __t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    #{body}
    __t = Process.clock_gettime(Process::CLOCK_MONOTONIC) - __t0
    #{REPORT}
  RUBY
end

CONNECT = <<~RUBY
  __config = Aws::SessionStore::DynamoDB::Configuration.new(
    endpoint: ENV.fetch("DYNAMODB_ENDPOINT"), region: "us-east-1",
    access_key_id: "dummy", secret_access_key: "dummy")
  __client = Aws::SessionStore::DynamoDB::Native.client(__config.native_client_options)
  __client.connect
RUBY

GET = <<~RUBY
  begin
    __client.get_item(Aws::SessionStore::DynamoDB::Native::ItemRequest.new(
      table: "bench-require-no-such-table", key_name: "session_id", key: "x", consistent: true
    ))
  rescue Aws::SessionStore::DynamoDB::Errors::ResourceNotFoundError
    nil
  end
RUBY

variants = [
  ["ruby -e 0", nil],
  ['require "rack"', 'require "rack"'],
  ['require "aws-sessionstore-dynamodb-rs"', 'require "aws-sessionstore-dynamodb-rs"']
]
unless endpoint.empty?
  variants << ["require + connect (native client built)", "require \"aws-sessionstore-dynamodb-rs\"\n#{CONNECT}"]
  variants << ["require + connect + first GetItem", "require \"aws-sessionstore-dynamodb-rs\"\n#{CONNECT}#{GET}"]
end

def median(values)
  sorted = values.sort
  mid = sorted.size / 2
  sorted.size.odd? ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0
end

results = variants.map do |name, body|
  # `ruby -e 0` itself, with only the report added at exit.
  script = body ? child(body) : "__t = 0.0\n#{REPORT}"
  samples = Array.new(runs) do
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    out = IO.popen([RbConfig.ruby, "-I", lib, "-e", script], &:read)
    wall = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    raise "#{name}: exit #{$?.exitstatus}" unless $?.success?

    inside, rss, hwm = out.split.map { |v| Float(v) }
    [wall, inside, rss, hwm]
  end
  [name, *samples.transpose.map { |column| median(column) }]
end

_, base_wall, _, base_rss, base_hwm = results.first
puts "Fresh `#{RbConfig.ruby}` processes (#{RUBY_DESCRIPTION}), median of #{runs} runs each"
puts
puts "| variant | process wall ms | added ms | statements ms | VmRSS MiB | added MiB | VmHWM MiB | added MiB |"
puts "|---|---:|---:|---:|---:|---:|---:|---:|"
results.each do |name, wall, inside, rss, hwm|
  puts format("| %s | %.1f | %+.1f | %.1f | %.1f | %+.1f | %.1f | %+.1f |", name, wall * 1000, (wall - base_wall) * 1000,
              inside * 1000, rss / 1024.0, (rss - base_rss) / 1024.0, hwm / 1024.0, (hwm - base_hwm) / 1024.0)
end
so = Dir[File.join(lib, "aws_sessionstore_dynamodb_rs", "*.so")].first
puts
puts "Native extension: #{File.basename(so)}, #{(File.size(so) / 1_048_576.0).round(1)} MiB on disk." if so
