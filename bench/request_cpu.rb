# frozen_string_literal: true

# Per-request wall time and process CPU for session stores, same harness:
# a counter app behind each store, 2,000 requests through Rack::MockRequest
# with the cookie carried, after a discarded pass over every store (steady
# state for all rows). Prints a markdown table. Run by no test; `rake
# bench` runs it with a redis-server and the Rust floor of its own.
#
#   DYNAMODB_ENDPOINT=http://127.0.0.1:PORT ruby -Ilib bench/request_cpu.rb [--requests N]
#     [--redis redis://127.0.0.1:PORT/0]   also Rack::Session::Redis (Debian's ruby-redis-rack)
#     [--floor-cpu-us US]                  the Rust floor's CPU per GetItem + UpdateItem pair
#                                          (examples/floor.rs): adds a "CPU vs floor" column
#     [--json FILE]                        also the means and the breakdown as JSON, for the
#                                          side-by-side table of every Ruby in `rake bench`
#     [--stores dynamodb,redis,rack]       only these stores' rows (default all three): `rake bench`
#                                          measures each store in a process of its own
require "etc"
require "json"
require "optparse"
require "securerandom"
require "rack"
require "rack/session/cookie"
require "rack/session/pool"

requests = 2000
redis_url = ENV["REDIS_URL"]
floor_cpu_us = nil
json_path = nil
stores = %w[dynamodb redis rack]
OptionParser.new do |o|
  o.on("--stores LIST", Array) { |list| stores = list }
  o.on("--requests N", Integer) { |n| requests = n }
  o.on("--redis URL") { |url| redis_url = url }
  o.on("--floor-cpu-us US", Float) { |us| floor_cpu_us = us }
  o.on("--json FILE") { |path| json_path = path }
end.parse!
# Only the process measuring this store loads it (its native runtime and
# client stay out of the others').
ours = stores.include?("dynamodb")
require "aws-sessionstore-dynamodb-rs" if ours
endpoint = ENV.fetch("DYNAMODB_ENDPOINT") { abort "set DYNAMODB_ENDPOINT (script/dynamodb-local/start)" }
secret = SecureRandom.hex(64)
native = { endpoint: endpoint, region: "us-east-1", access_key_id: "dummy", secret_access_key: "dummy" }
table = "bench-#{SecureRandom.hex(4)}"
Aws::SessionStore::DynamoDB::Table.create_table(native.merge(table_name: table, billing_mode: :pay_per_request)) if ours

COUNTER = lambda do |env|
  session = env["rack.session"]
  session["n"] = session.fetch("n", 0) + 1
  [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
end
READER = lambda do |env|
  env["rack.session"]["n"] ||= 1
  [200, { "content-type" => "text/plain" }, ["ok"]]
end
# The same two apps with a signed-in user (user_id 42), for the rows with
# user_key (doc/user-sessions.md): signed in by the warm-up's first request.
SIGNED_IN_COUNTER = lambda do |env|
  env["rack.session"]["user_id"] ||= 42
  COUNTER.call(env)
end
SIGNED_IN_READER = lambda do |env|
  env["rack.session"]["user_id"] ||= 42
  READER.call(env)
end

def cpu
  Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
end

def wall
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def percentile(sorted, p)
  sorted[[(sorted.size * p).ceil - 1, 0].max]
end

def run(name, app, requests)
  mock = Rack::MockRequest.new(app)
  cookie = nil
  walls = []
  cpus = []
  times = nil
  (requests / 10).times do # warm-up
    r = mock.get("/", "HTTP_COOKIE" => cookie.to_s)
    cookie = r["Set-Cookie"]&.split(";")&.first || cookie
  end
  before = Process.times
  requests.times do
    w = wall
    c = cpu
    r = mock.get("/", "HTTP_COOKIE" => cookie.to_s)
    cpus << cpu - c
    walls << wall - w
    cookie = r["Set-Cookie"]&.split(";")&.first || cookie
    raise "#{name}: status #{r.status}" unless r.status == 200
  end
  after = Process.times
  times = [(after.utime - before.utime) / requests, (after.stime - before.stime) / requests]
  walls.sort!
  cpus.sort!
  [name, walls, cpus].then do |n, ws, cs|
    [n, percentile(ws, 0.5), percentile(ws, 0.99), percentile(cs, 0.5), percentile(cs, 0.99), cs.sum / cs.size,
     *times]
  end
end

# What one GVL release and re-acquisition around an immediately ready native
# future costs (no I/O), per call: the GVL share of a DynamoDB call.
def gvl_round_trip_cpu(calls = 20_000)
  native = Aws::SessionStore::DynamoDB::Native
  1000.times { native.gvl_round_trip }
  c = cpu
  calls.times { native.gvl_round_trip }
  (cpu - c) / calls
end

# The store with the in-memory native client of the unit specs: the same
# middleware, serializer and locking Ruby, no DynamoDB call (the Ruby glue).
def with_memory_client
  require_relative "../spec/support/memory_client"
  Aws::SessionStore::DynamoDB::Native.client_factory = ->(_options) { MemoryClient.new }
  yield
ensure
  Aws::SessionStore::DynamoDB::Native.client_factory = nil
end

store = lambda do |app, **o|
  next unless ours

  Aws::SessionStore::DynamoDB::RackMiddleware.new(app, native.merge(table_name: table, secret_key: secret, **o))
end
# [name, app, around]: `around` sets up what the row runs with.
plain = ->(&block) { block.call }
subscribed = lambda do |&block|
  # Instrumentation: the same changed-session row with a subscriber listening
  # to every event (stats gathered, consumed capacity asked of DynamoDB); the
  # first row is the same store with nobody listening.
  listener = Aws::SessionStore::DynamoDB::Instrumentation.subscribe { |_event| nil }
  block.call
ensure
  Aws::SessionStore::DynamoDB::Instrumentation.unsubscribe(listener)
end
# Ruby 3.1 arms its timer thread on every GVL release while only one Ruby
# thread exists; a Puma process always has several. The same stores again
# with a second (sleeping) Ruby thread alive:
threaded = lambda do |&block|
  sleeper = Thread.new { sleep }
  block.call
ensure
  sleeper&.kill
end
redis_url = nil unless stores.include?("redis")
require "redis-rack" if redis_url
redis = redis_url && Rack::Session::Redis.new(COUNTER, redis_server: redis_url)
# Which store a row measures (the in-memory rows are this store's glue).
store_of = lambda do |name|
  if name.start_with?("DynamoDB")
    "dynamodb"
  else
    name.start_with?("Rack::Session::Redis") ? "redis" : "rack"
  end
end
rows_to_run = [
  ["DynamoDB store (no locking, session changes)", store.call(COUNTER, touch_interval: 0), plain],
  ["DynamoDB store (locking, session changes)", store.call(COUNTER, enable_locking: true, lock_retry_delay: 5), plain],
  ["DynamoDB store (unchanged session, write avoidance)", store.call(READER), plain],
  ["DynamoDB store (signed in, session changes), user_key",
   store.call(SIGNED_IN_COUNTER, touch_interval: 0, user_key: "user_id"), plain],
  ["DynamoDB store (signed in, unchanged session), user_key", store.call(SIGNED_IN_READER, user_key: "user_id"),
   plain],
  ["DynamoDB store (session changes), encrypt_data", store.call(COUNTER, touch_interval: 0, encrypt_data: true), plain],
  ["DynamoDB store (unchanged session), encrypt_data", store.call(READER, encrypt_data: true), plain],
  ["DynamoDB store (session changes), in-memory native client: the Ruby glue alone",
   ours && with_memory_client { store.call(COUNTER, touch_interval: 0) }, plain],
  ["DynamoDB store (unchanged session), in-memory native client: the Ruby glue alone",
   ours && with_memory_client { store.call(READER) }, plain],
  ["Rack::Session::Cookie", Rack::Session::Cookie.new(COUNTER, secret: secret), plain],
  ["Rack::Session::Pool", Rack::Session::Pool.new(COUNTER), plain],
  redis && ["Rack::Session::Redis (redis-rack, local redis-server)", redis, plain],
  ["DynamoDB store (session changes), instrumentation subscribed", store.call(COUNTER, touch_interval: 0), subscribed],
  ["DynamoDB store (session changes), a second Ruby thread alive", store.call(COUNTER, touch_interval: 0), threaded],
  ["DynamoDB store (unchanged session), a second Ruby thread alive", store.call(READER), threaded],
  redis && ["Rack::Session::Redis, a second Ruby thread alive", redis, threaded]
].compact.select { |name, app, _| app && stores.include?(store_of.call(name)) }
# Every row in steady state: one whole pass over all of them first,
# discarded. Without it the first row alone carried the warm-up of this
# process and of the server beside it on the same two cores (DynamoDB
# Local's JIT): clusters of requests at 3-5 ms of CPU, its mean ~40% above
# the same store measured later in the run.
rows_to_run.each { |name, app, around| around.call { run(name, app, requests) } }
rows = rows_to_run.map { |name, app, around| around.call { run(name, app, requests) } }
Aws::SessionStore::DynamoDB::Table.delete_table(native.merge(table_name: table)) if ours

cookie_cpu = rows.find { |r| r[0] == "Rack::Session::Cookie" }&.dig(5)
redis_cpu = rows.find { |r| r[0].start_with?("Rack::Session::Redis (") }&.dig(5)
redis_threaded_cpu = rows.find { |r| r[0].start_with?("Rack::Session::Redis,") }&.dig(5)
puts "#{requests} requests each, #{RUBY_DESCRIPTION}, #{Etc.respond_to?(:nprocessors) ? Etc.nprocessors : "?"} cores"
puts
floor_head = floor_cpu_us ? " CPU vs Rust floor |" : ""
redis_head = redis_cpu ? " CPU vs redis-rack |" : ""
cookie_head = cookie_cpu ? " CPU vs Cookie |" : ""
puts "| store | wall p50 µs | wall p99 µs | CPU p50 µs | CPU p99 µs | CPU mean µs |#{cookie_head}#{redis_head}#{floor_head}"
puts "|---|---:|---:|---:|---:|---:|#{cookie_cpu ? "---:|" : ""}#{redis_cpu ? "---:|" : ""}#{floor_cpu_us ? "---:|" : ""}"
rows.each do |n, w50, w99, c50, c99, cmean, _user, _sys|
  us = ->(s) { (s * 1e6).round }
  floor = if floor_cpu_us
            # † the unchanged session's request makes one DynamoDB call, the floor's pair two
            mark = n.include?("unchanged") ? " †" : ""
            n.start_with?("DynamoDB store") ? " #{format("%.2f×", cmean * 1e6 / floor_cpu_us)}#{mark} |" : " |"
          else
            ""
          end
  # Each row against redis-rack measured the same way (with or without the
  # second thread).
  redis = if redis_cpu
            base = n.include?("second Ruby thread") ? redis_threaded_cpu : redis_cpu
            " #{format("%.2f×", cmean / base)} |"
          else
            ""
          end
  cookie = cookie_cpu ? " #{format("%.2f×", cmean / cookie_cpu)} |" : ""
  puts "| #{n} | #{us[w50]} | #{us[w99]} | #{us[c50]} | #{us[c99]} | #{us[cmean]} |#{cookie}#{redis}#{floor}"
end

# Where the time of one request goes, in µs of CPU (means over the rows'
# requests): Rack's own request and session machinery (Rack::Session::Pool:
# the same app with an in-process store), the store's Ruby around it (the
# in-memory-client row minus Pool), the GVL release per DynamoDB call
# (measured alone), the kernel (system time of the row) and the rest of the
# user time: the SDK's pipeline and our native code (plus Ruby's time
# between the calls that the glue row does not see).
gvl = stores.include?("dynamodb") ? gvl_round_trip_cpu : 0.0
by_name = rows.to_h { |row| [row[0], row] }
pool = by_name["Rack::Session::Pool"]
breakdown = {}
# The breakdown needs this store's rows and Pool's: with --stores splitting
# them, `rake bench` works it out from the JSON of both processes.
if pool && stores.include?("dynamodb")
  pool_cpu = pool[6] + pool[7]
  puts
  puts "Where the time goes, µs of CPU per request (GVL round trip alone: #{format("%.1f", gvl * 1e6)} µs per call):"
  puts
  puts "| request | total | Rack (Pool) | Ruby glue | GVL | SDK + native | kernel |"
  puts "|---|---:|---:|---:|---:|---:|---:|"
  [["session changes", "DynamoDB store (no locking, session changes)",
    "DynamoDB store (session changes), in-memory native client: the Ruby glue alone", 2],
   ["unchanged session", "DynamoDB store (unchanged session, write avoidance)",
    "DynamoDB store (unchanged session), in-memory native client: the Ruby glue alone", 1]].each do |label, real, glue, calls|
    r = by_name.fetch(real)
    g = by_name.fetch(glue)
    user = r[6]
    sys = r[7]
    glue_cpu = g[6] + g[7] - pool_cpu
    sdk = user - (g[6] + g[7]) - calls * gvl
    us = ->(s) { format("%.0f", s * 1e6) }
    puts "| #{label} (#{calls} call#{"s" if calls > 1}) | #{us[user + sys]} | #{us[pool_cpu]} | #{us[glue_cpu]} | " \
         "#{us[calls * gvl]} | #{us[sdk]} | #{us[sys]} |"
    breakdown[label] = { "total" => user + sys, "rack" => pool_cpu, "glue" => glue_cpu, "gvl" => calls * gvl,
                         "sdk" => sdk, "kernel" => sys }.transform_values { |s| (s * 1e6).round(1) }
  end
end

if json_path
  yjit = defined?(RubyVM::YJIT) && RubyVM::YJIT.respond_to?(:enabled?) && RubyVM::YJIT.enabled?
  File.write(json_path, JSON.generate(
                          "ruby" => RUBY_DESCRIPTION, "yjit" => yjit ? true : false, "requests" => requests,
                          "cpu_mean_us" => rows.to_h { |row| [row[0], (row[5] * 1e6).round(1)] },
                          # user and system time per request, µs (the breakdown's inputs)
                          "times_us" => rows.to_h { |row| [row[0], [(row[6] * 1e6).round(1), (row[7] * 1e6).round(1)]] },
                          "gvl_us" => (gvl * 1e6).round(2), "stores" => stores,
                          "breakdown_us" => breakdown
                        ))
end
