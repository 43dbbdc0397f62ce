# frozen_string_literal: true

# Lock contention on one session, against a DynamoDB endpoint (DynamoDB Local
# in development):
#
#   DYNAMODB_ENDPOINT=http://127.0.0.1:8765 ruby bench/lock_contention.rb
#
# Prints a markdown table of lock acquire latency (p50/p99, ms) with 1, 8 and
# 64 threads contending for one session's lock, then what happens to a
# counter incremented by 64 threads x 50 requests WITHOUT locking (lost
# updates). Creates and deletes its own table. Run by no test.
#
# Acquire latency is the time of one native `lock_session` call (the whole
# wait, polls and back-off included, with the GVL released), each followed
# at once by `release_lock`. With `enable_locking`, `find_session` makes the
# same `lock_session` call and the save removes the lock (like release_lock,
# in the same write as the data).
#
# Knobs (ENV): BENCH_RETRY_DELAYS_MS (lock_retry_delay values, one table
# section each; default "20,100,500", 500 being the official default),
# BENCH_SAMPLES (acquisitions per row, default 320), BENCH_THREADS (default
# "1,8,64"), BENCH_HOLD_MS (time the lock is held, default 0),
# BENCH_NOLOCK_REQUESTS (increments per thread without locking, default 50).
#
# Every waiter polls with one conditional write per lock_retry_delay, so with
# 64 waiters and a short delay the polling itself saturates a small machine:
# the table shows what that costs.

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)

require "securerandom"
require "rack"
require "rack/lint"
require "rack/mock"
require "aws-sessionstore-dynamodb-rs"
require_relative "../spec/support/store_requests"
require "etc"

module LockContentionBench
  DynamoDB = Aws::SessionStore::DynamoDB

  extend StoreRequestHelpers # seed_session

  module_function

  def endpoint
    value = ENV["DYNAMODB_ENDPOINT"].to_s
    abort "DYNAMODB_ENDPOINT is not set (e.g. http://127.0.0.1:8765)" if value.empty?
    value
  end

  def env_int(name, default)
    Integer(ENV.fetch(name, default.to_s))
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  def options(table)
    {
      table_name: table, endpoint: endpoint,
      region: ENV.fetch("AWS_REGION", "us-east-1"),
      access_key_id: ENV.fetch("AWS_ACCESS_KEY_ID", "dummy"),
      secret_access_key: ENV.fetch("AWS_SECRET_ACCESS_KEY", "dummy")
    }
  end

  # Percentile by nearest rank, in ms.
  def percentile(sorted, pct)
    return Float::NAN if sorted.empty?

    sorted[[(pct / 100.0 * sorted.size).ceil - 1, 0].max] * 1000.0
  end

  # `threads` threads take and release one session's lock until `samples`
  # acquisitions are done between them. Returns [latencies, wall seconds].
  def acquire_latencies(client, table, key, threads:, samples:, retry_ms:, hold_ms:)
    per_thread = (samples.to_f / threads).ceil
    latencies = Queue.new
    native = Aws::SessionStore::DynamoDB::Native
    lock_request = native::LockRequest.new(table: table, key_name: "session_id", key: key, consistent: true,
                                           expiry_ms: 60_000, retry_delay_ms: retry_ms, max_wait_ms: 600_000)
    go = Queue.new
    workers = Array.new(threads) do
      Thread.new do
        go.pop
        per_thread.times do
          started = monotonic
          _item, lock = client.lock_session(lock_request)
          latencies << (monotonic - started)
          sleep(hold_ms / 1000.0) if hold_ms.positive?
          client.release_lock(native::LockedItem.new(table: table, key_name: "session_id", key: key, lock: lock))
        end
      end
    end
    started = monotonic
    threads.times { go << true }
    workers.each(&:join)
    wall = monotonic - started
    [Array.new(latencies.size) { latencies.pop }.sort, wall]
  end

  # 64 threads x `per_thread` increments of one session without locking.
  def lost_updates(store_options, threads:, per_thread:)
    store = DynamoDB::RackMiddleware.new(lambda { |env|
      session = env["rack.session"]
      session["n"] = session.fetch("n") + 1
      [200, {}, [session["n"].to_s]]
    }, store_options)
    cookie = seed_session(store_options)
    mock = Rack::MockRequest.new(Rack::Lint.new(store))
    header = { "HTTP_COOKIE" => "rack.session=#{Rack::Utils.escape(cookie)}" }
    started = monotonic
    Array.new(threads) { Thread.new { per_thread.times { mock.get("/", header) } } }.each(&:join)
    wall = monotonic - started
    final = Integer(mock.get("/", header).body) - 1
    [final, wall]
  end

  def env_list(name, default)
    ENV.fetch(name, default).split(",").map { |x| Integer(x) }
  end

  def native_library
    $LOADED_FEATURES.find { |f| f.end_with?("aws_sessionstore_dynamodb_rs.so") } || ""
  end

  def debug_build?
    Aws::SessionStore::DynamoDB::Native::DEBUG_BUILD
  end

  def run
    retry_delays = env_list("BENCH_RETRY_DELAYS_MS", "20,100,500")
    samples = env_int("BENCH_SAMPLES", 320)
    hold_ms = env_int("BENCH_HOLD_MS", 0)
    nolock_requests = env_int("BENCH_NOLOCK_REQUESTS", 50)
    thread_counts = env_list("BENCH_THREADS", "1,8,64")

    table = "bench-lock-contention-#{SecureRandom.hex(4)}"
    table_options = options(table).merge(billing_mode: :pay_per_request, enable_ttl: false)
    DynamoDB::Table.create_table(table_options)
    begin
      store_options = options(table).merge(secret_key: SecureRandom.hex(32))
      config = DynamoDB::Configuration.new(store_options)
      client = DynamoDB::Native.client(config.native_client_options)
      key = seed_session(store_options)

      # Warm up: connections, credentials, the runtime.
      acquire_latencies(client, table, key, threads: 1, samples: 20, retry_ms: 100, hold_ms: 0)

      puts "Lock acquire latency on one session (lock held #{hold_ms} ms; " \
           "#{RUBY_DESCRIPTION.split(" ").first(2).join(" ")}; #{Etc.nprocessors} CPUs; " \
           "native extension #{File.size(native_library) / 1_000_000} MB#{" (debug build)" if debug_build?})"
      puts
      puts "| lock_retry_delay ms | contending threads | acquisitions | p50 ms | p99 ms | max ms | acquisitions/s |"
      puts "|---:|---:|---:|---:|---:|---:|---:|"
      retry_delays.each do |retry_ms|
        thread_counts.each do |threads|
          latencies, wall = acquire_latencies(client, table, key, threads: threads, samples: samples,
                                                                  retry_ms: retry_ms, hold_ms: hold_ms)
          puts format("| %d | %d | %d | %.1f | %.1f | %.1f | %.0f |", retry_ms, threads, latencies.size,
                      percentile(latencies, 50), percentile(latencies, 99), latencies.last * 1000.0,
                      latencies.size / wall)
          $stdout.flush
        end
      end

      threads = 64
      expected = threads * nolock_requests
      final, wall = lost_updates(store_options, threads: threads, per_thread: nolock_requests)
      puts
      puts "Without locking (enable_locking: false), #{threads} threads x #{nolock_requests} increments of one session:"
      puts
      puts "| increments | final counter | lost | lost % | wall s |"
      puts "|---:|---:|---:|---:|---:|"
      puts format("| %d | %d | %d | %.1f | %.1f |", expected, final, expected - final,
                  100.0 * (expected - final) / expected, wall)
    ensure
      DynamoDB::Table.delete_table(options(table))
    end
  end
end

LockContentionBench.run if $PROGRAM_NAME == __FILE__
