# frozen_string_literal: true

# Soak: many requests through the store in one process, watching memory.
# Prints figures; asserts nothing. Run by no test.
#
#   DYNAMODB_ENDPOINT=http://127.0.0.1:8000 ruby bench/soak.rb [--requests N] [--stress N] [--full-stress N] [--clients N]
#
# A counter app behind the middleware, driven with Rack::MockRequest by
# --clients simulated browsers carrying their cookies. The mix: mostly
# increments, some reads; every 997th request renews, every 1009th drops
# (that client starts over), every 101st presents a forged cookie. VmRSS
# (/proc/self/status) is read after a warm-up of 5,000 requests (or half the
# run, if shorter) and at the end. Then requests run under GC.stress, to
# shake out objects the native layer might use without marking them: a few
# hundred with a minor GC at every allocation (GC.stress = 1), and a handful
# with a full GC at every allocation (GC.stress = true, about 2 s a request).
#
# Creates and deletes its own table. Credentials are "dummy" (DynamoDB Local).

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "optparse"
require "securerandom"
require "rack"
require "rack/mock"
require_relative "../spec/support/raw_dynamodb"
require_relative "support"
require "aws-sessionstore-dynamodb-rs"

requests = 100_000
stress = 300
full_stress = 5
clients = 50
OptionParser.new do |o|
  o.banner = "Usage: ruby bench/soak.rb [--requests N] [--stress N] [--full-stress N] [--clients N]"
  o.on("--requests N", Integer, "requests of the soak (default 100000)") { |v| requests = v }
  o.on("--stress N", Integer, "requests under GC.stress = 1, minor GCs (default 300; 0 skips)") { |v| stress = v }
  o.on("--full-stress N", Integer, "requests under GC.stress = true, full GCs (default 5; 0 skips)") { |v| full_stress = v }
  o.on("--clients N", Integer, "browsers carrying a cookie (default 50)") { |v| clients = v }
end.parse!
abort "--requests must be positive" unless requests.positive?

endpoint = ENV.fetch("DYNAMODB_ENDPOINT") { abort "set DYNAMODB_ENDPOINT" }
raw = RawDynamoDB.new(endpoint)
table = "bench-soak-#{SecureRandom.hex(4)}"

def vm_rss_kib
  BenchSupport.status_kib("VmRSS")
end

def monotonic
  BenchSupport.monotonic
end

def mib(kib)
  format("%.1f MiB", kib / 1024.0)
end

app = lambda do |env|
  session = env["rack.session"]
  case env["PATH_INFO"]
  when "/read" then session["n"]
  when "/renew" then env["rack.session.options"][:renew] = true
  when "/drop" then env["rack.session.options"][:drop] = true
  else session["n"] = session.fetch("n", 0) + 1
  end
  [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
end

store = Aws::SessionStore::DynamoDB::RackMiddleware.new(
  app,
  endpoint: endpoint, region: "us-east-1", access_key_id: "dummy", secret_access_key: "dummy",
  table_name: table, secret_key: SecureRandom.hex(32), max_stale: 3600
)
mock = Rack::MockRequest.new(store)
jar = Array.new(clients)
stats = Hash.new(0)

one = lambda do |i|
  c = i % clients
  path, cookie =
    if (i % 101).zero? then ["/", "#{"0" * 32}--#{SecureRandom.hex(16)}"]
    elsif (i % 997).zero? then ["/renew", jar[c]]
    elsif (i % 1009).zero? then ["/drop", jar[c]]
    elsif (i % 7).zero? then ["/read", jar[c]]
    else
      ["/", jar[c]]
    end
  response = mock.get(path, cookie ? { "HTTP_COOKIE" => "rack.session=#{cookie}" } : {})
  stats[response.status] += 1
  stats[:error_lines] += response.errors.lines.size
  set = response.headers["Set-Cookie"].to_s[/\Arack\.session=([^;]*)/, 1]
  jar[c] = path == "/drop" ? nil : (set || jar[c]) unless (i % 101).zero?
end

begin
  raw.create_table(table)
  warmup = [5_000, requests / 2].min
  started = monotonic
  warmup.times { |i| one.call(i) }
  GC.start
  rss_warm = vm_rss_kib
  soak_started = monotonic
  (warmup...requests).each { |i| one.call(i) }
  soak_elapsed = monotonic - soak_started
  GC.start
  rss_end = vm_rss_kib
  total = monotonic - started

  puts "soak: #{requests} requests (#{warmup} warm-up), #{clients} clients, table #{table}"
  puts "  statuses: #{stats.reject { |k, _| k == :error_lines }.sort.map { |k, v| "#{k}: #{v}" }.join(", ")}; " \
       "rack.errors lines: #{stats[:error_lines]} (forged cookies: #{(requests - 1) / 101 + 1})"
  puts "  VmRSS after warm-up: #{mib(rss_warm)}, at the end: #{mib(rss_end)}, " \
       "growth #{format("%+.1f", (rss_end - rss_warm) * 100.0 / rss_warm)}%"
  puts "  throughput: #{format("%.0f", requests / total)} requests/s overall, " \
       "#{format("%.0f", (requests - warmup) / soak_elapsed)} requests/s after warm-up " \
       "(#{format("%.1f", total)} s)"
  puts "  items in the table: #{raw.scan_all(table).size}"

  statuses = -> { stats.reject { |k, _| k == :error_lines }.sort.map { |k, v| "#{k}: #{v}" }.join(", ") }
  offset = requests
  [[stress, 1, "GC.stress = 1 (minor GC at every allocation)"],
   [full_stress, true, "GC.stress = true (full GC at every allocation)"]].each do |count, mode, label|
    next unless count.positive?

    stress_started = monotonic
    GC.stress = mode
    begin
      count.times { |i| one.call(offset + i) }
    ensure
      GC.stress = false
    end
    offset += count
    puts "#{label}: #{count} requests OK in #{format("%.1f", monotonic - stress_started)} s (statuses so far: #{statuses.call})"
  end
ensure
  raw.delete_table(table)
end
