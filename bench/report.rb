# frozen_string_literal: true

# The whole performance and cost report, as one markdown document: what
# `rake bench` runs once the extension is built with the release profile.
#
#   ruby bench/report.rb        # after `rake compile:release`; prefer `rake bench`
#
# Starts on loopback what it needs and stops it afterwards: its own DynamoDB
# Local (script/dynamodb-local/start, state in tmp/bench/dynamodb-local) and a
# redis-server on a free port. Builds and runs the Rust floor
# (ext/aws_sessionstore_dynamodb_rs/examples/floor.rs), then the benches in
# bench/, each in its own process with a time limit. A section that fails
# shows its error and the others still run. The report goes to stdout and to
# tmp/bench/report.md; progress and logs go to stderr and tmp/bench/.
#
# ENV: BENCH_GC_ITEMS (expired items for bench/gc.rb, default 20000; 100000
# for the full figure), BENCH_REQUESTS (per store, default 2000),
# BENCH_SECONDS (wrk duration per thread count, default 10), BENCH_RUBIES and
# BENCH_RUBY_ROUNDS (the side-by-side section: "3.3 3.4 4.0", 3),
# BENCH_SECTIONS (a comma-separated list of words: only the sections whose
# title holds one, e.g. "every Ruby").

require "etc"
require "fileutils"
require "io/wait"
require "json"
require "rbconfig"
require "securerandom"
require "socket"
require "time"
require_relative "support"

module BenchReport
  ROOT = File.expand_path("..", __dir__)
  OUT = File.join(ROOT, "tmp", "bench")
  STATE = File.join(OUT, "dynamodb-local")
  REDIS_DIR = File.join(OUT, "redis")
  CRATE = "aws_sessionstore_dynamodb_rs"
  # The checkout is shared with ongoing work (a `rake compile` may swap the
  # in-place extension for a dev build at any time), so every bench runs
  # from a snapshot taken at the start: lib/ (the release build of the
  # extension copied from cargo's target dir), bench/ and spec/support/.
  TREE = File.join(OUT, "tree")
  LIB = File.join(TREE, "lib")

  extend BenchSupport

  module_function

  def progress(message)
    warn "bench: #{message}"
  end

  def base_env
    {
      "AWS_EC2_METADATA_DISABLED" => "true", "AWS_ACCESS_KEY_ID" => "dummy",
      "AWS_SECRET_ACCESS_KEY" => "dummy", "AWS_REGION" => "us-east-1",
      "DYNAMODB_LOCAL_STATE" => STATE, "BENCH_LOG_DIR" => OUT,
      "PATH" => "#{File.join(Dir.home, ".cargo", "bin")}:#{ENV.fetch("PATH", "")}"
    }
  end

  # Runs argv with a time limit, stdout to a String and stderr to a log
  # file. Kills its whole process group on timeout.
  # @return [Array(String, Process::Status, String)] stdout, status, stderr tail
  def run(argv, name:, timeout:, env: {}, chdir: TREE)
    err_path = File.join(OUT, "#{name}.stderr.log")
    reader, writer = IO.pipe
    pid = Process.spawn(base_env.merge(env), *argv, chdir: chdir, out: writer, err: err_path, in: File::NULL,
                                                    pgroup: true)
    writer.close
    out = +""
    deadline = monotonic + timeout
    timed_out = false
    loop do
      left = deadline - monotonic
      if left <= 0 || !reader.wait_readable(left)
        timed_out = true
        break
      end
      out << reader.readpartial(65_536)
    rescue EOFError
      break
    end
    if timed_out
      Process.kill("TERM", -pid) rescue nil # rubocop:disable Style/RescueModifier
      sleep 2
      Process.kill("KILL", -pid) rescue nil # rubocop:disable Style/RescueModifier
    end
    _, status = Process.wait2(pid)
    pid = nil
    out.force_encoding(Encoding::UTF_8)
    tail = File.exist?(err_path) ? File.readlines(err_path).last(25).join : ""
    raise SectionError.new("timed out after #{timeout} s", out, tail) if timed_out

    [out, status, tail]
  ensure
    reader&.close
    kill_group(pid)
  end

  # A failed section: what it printed so far and the end of its stderr.
  class SectionError < StandardError
    attr_reader :out, :tail

    def initialize(message, out = "", tail = "")
      super(message)
      @out = out
      @tail = tail
    end
  end

  # Like run, but a non-zero exit is a SectionError. @return [String] stdout.
  def run!(argv, name:, timeout:, env: {}, chdir: TREE)
    out, status, tail = run(argv, name: name, timeout: timeout, env: env, chdir: chdir)
    raise SectionError.new("#{argv.first(3).join(" ")} … exited with #{status.exitstatus || status}", out, tail) \
      unless status.success?

    out
  end

  def command_line(argv)
    IO.popen(argv, err: %i[child out], &:read).to_s.strip
  rescue SystemCallError => e
    "(#{e.message})"
  end

  def snapshot
    FileUtils.rm_rf(TREE)
    FileUtils.mkdir_p(File.join(TREE, "spec"))
    %w[lib bench].each { |dir| FileUtils.cp_r(File.join(ROOT, dir), TREE) }
    FileUtils.cp_r(File.join(ROOT, "spec", "support"), File.join(TREE, "spec"))
    Dir[File.join(LIB, "**", "*.{so,tmp}")].each { |f| FileUtils.rm_f(f) }
    target = ENV.fetch("CARGO_TARGET_DIR", File.join(ROOT, "target"))
    built = File.join(target, "release", "lib#{CRATE}.so")
    raise "#{built} is missing: run `rake compile:release` (or `rake bench`)" unless File.exist?(built)

    FileUtils.mkdir_p(File.join(LIB, CRATE))
    FileUtils.cp(built, File.join(LIB, CRATE, "#{CRATE}.so"))
  end

  # --- services -----------------------------------------------------------

  def start_dynamodb
    out = run!(["script/dynamodb-local/start", "--owner", Process.pid.to_s],
               name: "dynamodb-local-start", timeout: 180, chdir: ROOT)
    endpoint = out[%r{DYNAMODB_ENDPOINT=(http://\S+)}, 1] or raise "no endpoint from script/dynamodb-local/start"
    pid = Integer(File.read(File.join(STATE, "pid")).strip)
    [endpoint, pid]
  end

  def stop_dynamodb
    system(base_env, "script/dynamodb-local/stop", chdir: ROOT, out: File::NULL, err: File::NULL)
  end

  # A leftover from a run killed before its cleanup: only a live pid whose
  # command line is redis-server is signalled.
  def stop_leftover_redis
    pidfile = File.join(REDIS_DIR, "redis.pid")
    pid = Integer(File.read(pidfile).strip, exception: false) if File.exist?(pidfile)
    if pid && File.exist?("/proc/#{pid}/cmdline") && File.read("/proc/#{pid}/cmdline").include?("redis-server")
      Process.kill("TERM", pid) rescue nil # rubocop:disable Style/RescueModifier
      50.times { File.exist?("/proc/#{pid}") ? sleep(0.1) : break }
    end
    FileUtils.rm_f(pidfile)
  end

  def start_redis
    FileUtils.mkdir_p(REDIS_DIR)
    stop_leftover_redis
    port = free_port
    pid = Process.spawn("redis-server", "--bind", "127.0.0.1", "--port", port.to_s, "--save", "",
                        "--appendonly", "no", "--dir", REDIS_DIR, "--pidfile", File.join(REDIS_DIR, "redis.pid"),
                        "--daemonize", "no", "--protected-mode", "yes",
                        out: File.join(OUT, "redis.log"), err: %i[child out], pgroup: true)
    deadline = monotonic + 15
    loop do
      begin
        TCPSocket.new("127.0.0.1", port).tap do |s|
          s.write("PING\r\n")
          ok = s.wait_readable(1) && s.gets.to_s.start_with?("+PONG")
          s.close
          return [port, pid] if ok
        end
      rescue SystemCallError
        nil
      end
      raise "redis-server exited (see tmp/bench/redis.log)" if Process.wait(pid, Process::WNOHANG)
      raise "redis-server did not answer within 15 s" if monotonic > deadline

      sleep 0.1
    end
  end

  def stop_redis(pid)
    stop_process(pid, group: false)
  end

  # --- the report ---------------------------------------------------------

  def extension_profile
    so = Dir[File.join(LIB, CRATE, "#{CRATE}.so")].first
    return "not built" unless so

    mb = (File.size(so) / 1_048_576.0).round(1)
    "#{debug_build?(LIB) ? "DEV (debug) build — run `rake compile:release`" : "release build"}, #{mb} MiB"
  end

  # A dev-profile build carries DWARF sections: look for .debug_info among
  # the ELF section names (the release profile strips them).
  def header
    git = command_line(%W[git -C #{ROOT} rev-parse --short HEAD])
    dirty = command_line(%W[git -C #{ROOT} status --porcelain]).empty? ? "" : " (with uncommitted changes)"
    <<~MD
      # aws-sessionstore-dynamodb-rs: performance and cost

      | | |
      |---|---|
      | date | #{Time.now.utc.iso8601} |
      | nproc | #{command_line(["nproc"])} (shared: other work on this machine adds noise) |
      | load average at start | #{File.read("/proc/loadavg").split.first(3).join(" ")} |
      | ruby | #{RUBY_DESCRIPTION} |
      | rustc | #{command_line(%w[rustc -V])} |
      | native extension | #{extension_profile} |
      | commit | #{git}#{dirty} |
      | DynamoDB | DynamoDB Local 3.1.0 (in memory, loopback), started for this run |
      | other | #{command_line(%w[puma -V])}; #{command_line(%w[wrk -v]).lines.first.to_s.strip}; #{command_line(%w[redis-server --version]).split(" sha=").first} |
    MD
  end

  # BENCH_SECTIONS="every Ruby,floor": only the sections whose title
  # contains one of these (case-insensitive); all when unset.
  def wanted?(title)
    words = ENV.fetch("BENCH_SECTIONS", "").split(",").map(&:strip).reject(&:empty?)
    words.empty? || words.any? { |w| title.downcase.include?(w.downcase) }
  end

  def section(report, title)
    return unless wanted?(title)

    progress("#{title}…")
    started = monotonic
    body = begin
      yield.to_s.strip
    rescue SectionError => e
      failure(e, e.out, e.tail)
    rescue StandardError, ScriptError => e
      failure(e, "", e.backtrace&.first(8)&.join("\n"))
    end
    elapsed = monotonic - started
    progress(format("%s: %.0f s", title, elapsed))
    body = body.dup.force_encoding(Encoding::UTF_8).scrub
    report << "## #{title}\n\n#{body}\n\n_(section took #{format("%.0f", elapsed)} s)_\n\n"
  end

  def failure(error, out, tail)
    text = +"**FAILED**: #{error.class}: #{error.message}\n"
    text << "\nPrinted before it failed:\n\n#{out.strip}\n" unless out.to_s.strip.empty?
    text << "\n```text\n#{tail.to_s.strip}\n```\n" unless tail.to_s.strip.empty?
    text
  end

  def floor(endpoint, pairs)
    require File.join(ROOT, "spec", "support", "raw_dynamodb")
    raw = RawDynamoDB.new(endpoint)
    table = "bench-floor-#{SecureRandom.hex(4)}"
    raw.create_table(table)
    begin
      built = monotonic
      run!(%w[cargo build --quiet --release --example floor --features multi-thread-runtime -p] + [CRATE],
           name: "floor-build", timeout: 1800, chdir: ROOT)
      build_seconds = monotonic - built
      target = ENV.fetch("CARGO_TARGET_DIR", File.join(ROOT, "target"))
      binary = File.join(target, "release", "examples", "floor")
      results = %w[current multi].map do |flavor|
        JSON.parse(run!([binary, endpoint, table, pairs.to_s, flavor], name: "floor-#{flavor}", timeout: 600).lines.last)
      end
    ensure
      raw.delete_table(table)
      raw.close
    end
    rows = results.map do |r|
      name = r["runtime"] == "multi" ? "multi-thread runtime (2 workers)" : "current-thread runtime (**the floor**)"
      values = %w[wall_p50_us wall_p99_us wall_mean_us cpu_p50_us cpu_p99_us cpu_mean_us].map { |k| r[k].round }
      "| #{name} | #{values.join(" | ")} |"
    end
    text = <<~MD
      The same GetItem (consistent read) + conditional UpdateItem (`updated_at`, `data`) a request of the
      middleware makes, issued straight from Rust with aws-sdk-dynamodb (release build, the extension's SDK
      client builder and allocator, `block_on` per pair from the calling thread), #{pairs} pairs after a warm-up, against
      the same DynamoDB Local: `cargo run --release --example floor --features multi-thread-runtime -- <endpoint> <table> <n> [current|multi]`.
      Process CPU is getrusage(RUSAGE_SELF), every thread included. (Building the example took
      #{format("%.0f", build_seconds)} s of this section: cargo rebuilds it, optimised, whenever the crate changed.)

      | runtime | wall p50 µs | wall p99 µs | wall mean µs | CPU p50 µs | CPU p99 µs | CPU mean µs |
      |---|---:|---:|---:|---:|---:|---:|
      #{rows.join("\n")}
    MD
    [text, results.first["cpu_mean_us"]]
  end

  # --- every Ruby ---------------------------------------------------------

  # The Rubies besides this one that script/matrix/bench-ruby runs
  # bench/request_cpu.rb on: 3.3 and 3.4 in their Debian folders, 4.0 from
  # its kit (BENCH_RUBIES="" for none).
  def other_rubies
    ENV.fetch("BENCH_RUBIES", "3.3 3.4 4.0").split
  end

  # Each store is measured in a process of its own (bench/request_cpu.rb
  # --stores): one store's objects, JIT-compiled code and threads never
  # share a heap or a VM with another's.
  STORE_PROCESSES = %w[dynamodb redis rack].freeze

  # The variants measured side by side: [label, argv or the reason it can't
  # run]. Rubies 3.3, 3.4 and 4.0 go through script/matrix/bench-ruby, this one
  # straight, each with YJIT too where it is built in.
  def ruby_variants(redis, requests)
    common = ["--requests", requests.to_s, "--redis", redis]
    host = [RbConfig.ruby, "-I", LIB, "bench/request_cpu.rb", *common]
    variants = [[RUBY_VERSION, host]]
    variants << ["#{RUBY_VERSION} + YJIT",
                 defined?(RubyVM::YJIT) ? [RbConfig.ruby, "--yjit", *host.drop(1)] : "built without YJIT"]
    other_rubies.each do |minor|
      variants << [minor, ["script/matrix/bench-ruby", minor, *common.first(2)]]
      variants << ["#{minor} + YJIT", ["script/matrix/bench-ruby", minor, *common.first(2), "--yjit"]]
    end
    variants
  end

  # Rounds of one bench/request_cpu.rb run per variant, interleaved (the
  # machine's load drifts over minutes; every variant sees each stretch of
  # it), against the same DynamoDB Local and redis-server:
  # { label => [parsed JSON per round] or the reason it was not measured }.
  def every_ruby_runs(env, redis_port, requests, rounds)
    redis = "redis://127.0.0.1:#{redis_port}/0"
    results = Hash.new { |h, k| h[k] = [] }
    rounds.times do |round|
      ruby_variants(redis, requests).each do |label, argv|
        next results[label] = argv if argv.is_a?(String)
        next if results[label].is_a?(String)

        progress("every Ruby: round #{round + 1}/#{rounds}, #{label}")
        results[label] = measure_variant(argv, label, round, env.merge("REDIS_URL" => redis), results[label])
      end
    end
    results
  end

  # One round of a variant: a process per store, their JSON merged.
  # @return [Array<Hash>, String] the runs so far, or why it was not measured
  def measure_variant(argv, label, round, env, runs)
    parts = STORE_PROCESSES.map do |stores|
      name = "request_cpu-#{label.tr(" +", "_")}-#{stores}"
      json = File.join(OUT, "#{name}-#{round}.json")
      FileUtils.rm_f(json)
      out, status, tail = run(argv + ["--stores", stores, "--json", json], name: name, timeout: 2400, env: env,
                                                                           chdir: argv.first.start_with?("script/") ? ROOT : TREE)
      next JSON.parse(File.read(json)) if status.success? && File.exist?(json)
      return "built without YJIT" if status.exitstatus == 3

      reason = tail.lines.grep(/bench-ruby|debian-ruby|kit-ruby|Error/).last || out.lines.last
      return "not measured (#{stores}): #{reason.to_s.strip}"
    end
    runs << merge_parts(parts)
  end

  # The stores' runs as one: every row's means, and where a changed
  # request's time goes (from this store's rows and Pool's, as
  # bench/request_cpu.rb works it out when it runs them all).
  def merge_parts(parts)
    merged = parts.first.slice("ruby", "yjit", "requests")
    merged["cpu_mean_us"] = parts.map { |p| p.fetch("cpu_mean_us") }.reduce(:merge)
    times = parts.map { |p| p.fetch("times_us") }.reduce(:merge)
    gvl = parts.sum { |p| p.fetch("gvl_us", 0.0) }
    pool = times.fetch("Rack::Session::Pool").sum
    merged["breakdown_us"] = [
      ["session changes", "DynamoDB store (no locking, session changes)",
       "DynamoDB store (session changes), in-memory native client: the Ruby glue alone", 2],
      ["unchanged session", "DynamoDB store (unchanged session, write avoidance)",
       "DynamoDB store (unchanged session), in-memory native client: the Ruby glue alone", 1]
    ].to_h do |label, real, glue, calls|
      user, sys = times.fetch(real)
      glue_total = times.fetch(glue).sum
      [label, { "total" => user + sys, "rack" => pool, "glue" => glue_total - pool, "gvl" => calls * gvl,
                "sdk" => user - glue_total - (calls * gvl), "kernel" => sys }.transform_values { |v| v.round(1) }]
    end
    merged
  end

  def median(values)
    sorted = values.sort
    (sorted[(sorted.size - 1) / 2] + sorted[sorted.size / 2]) / 2.0
  end

  REDIS_ROW = "Rack::Session::Redis (redis-rack, local redis-server)"
  REDIS_THREADED_ROW = "Rack::Session::Redis, a second Ruby thread alive"
  RUBY_ROWS = [
    ["session changes (GetItem + UpdateItem)", "DynamoDB store (no locking, session changes)", REDIS_ROW],
    ["unchanged session (GetItem)", "DynamoDB store (unchanged session, write avoidance)", REDIS_ROW],
    ["session changes, a second Ruby thread alive", "DynamoDB store (session changes), a second Ruby thread alive",
     REDIS_THREADED_ROW],
    ["unchanged session, a second Ruby thread alive",
     "DynamoDB store (unchanged session), a second Ruby thread alive", REDIS_THREADED_ROW],
    ["redis-rack (one thread / two)", REDIS_ROW, REDIS_THREADED_ROW],
    ["Rack::Session::Cookie", "Rack::Session::Cookie", nil],
    ["Rack::Session::Pool", "Rack::Session::Pool", nil]
  ].freeze

  # One cell: the median over the rounds of the row's mean CPU and of its
  # ratio to redis-rack in the same run (the ratio of medians would mix runs).
  def ruby_cell(runs, label, name, base)
    cpu = ->(name_) { median(runs.map { |r| r.fetch("cpu_mean_us").fetch(name_) }).round }
    return "#{cpu.call(name)} / #{cpu.call(base)}" if label.start_with?("redis-rack")
    return cpu.call(name).to_s unless base

    ratio = median(runs.map { |r| r.fetch("cpu_mean_us").fetch(name) / r.fetch("cpu_mean_us").fetch(base) })
    format("%d (**%.2f×**)", cpu.call(name), ratio)
  end

  def every_ruby(env, redis_port, requests)
    return "No redis-server: nothing to compare with." unless redis_port

    rounds = Integer(ENV.fetch("BENCH_RUBY_ROUNDS", "3"))
    results = every_ruby_runs(env, redis_port, requests, rounds)
    measured = results.reject { |_, r| r.is_a?(String) || r.empty? }
    heads = measured.map { |_, runs| "Ruby #{runs.first["ruby"][/\d+\.\d+\.\d+/]}#{" + YJIT" if runs.first["yjit"]}" }
    text = +"Process CPU per request, µs: the median over #{rounds} interleaved rounds of each row's mean " \
            "(#{requests} requests), and in bold the median of its ratio to redis-rack measured in the same " \
            "run (with or without the second thread):\n\n"
    text << "| request | #{heads.join(" | ")} |\n|---|#{"---:|" * measured.size}\n"
    RUBY_ROWS.each do |label, name, base|
      text << "| #{label} | #{measured.map { |_, runs| ruby_cell(runs, label, name, base) }.join(" | ")} |\n"
    end
    %w[rack glue gvl sdk kernel].zip(["Rack (Pool)", "Ruby glue", "GVL", "SDK + native", "kernel"]).each do |key, label|
      values = measured.map { |_, runs| median(runs.map { |r| r.dig("breakdown_us", "session changes", key) }).round }
      text << "| session changes: #{label} | #{values.join(" | ")} |\n"
    end
    text << "\n"
    measured.each { |label, runs| text << "- #{label}: #{runs.first["ruby"]}#{" (YJIT on)" if runs.first["yjit"]}\n" }
    results.select { |_, r| r.is_a?(String) }.each { |label, why| text << "- #{label}: #{why}\n" }
    text << "\nEach store runs in a process of its own (this store, redis-rack, Cookie and Pool), per Ruby and " \
            "round. Rubies 3.3 and 3.4 run in their Debian folders (script/matrix/debian-ruby), 4.0 from its kit " \
            "(script/matrix/kit-ruby), through script/matrix/bench-ruby with the release build " \
            "script/matrix/native-gems makes for them, on Debian 12's Rack 2.2 and redis-rack 2.1 like this Ruby, " \
            "so every column measures the same code. BENCH_RUBY_ROUNDS sets the rounds, BENCH_RUBIES the other " \
            "Rubies (\"3.3 3.4 4.0\").\n"
    text
  end

  def main
    FileUtils.mkdir_p(OUT)
    started = monotonic
    snapshot
    requests = Integer(ENV.fetch("BENCH_REQUESTS", "2000"))
    seconds = Integer(ENV.fetch("BENCH_SECONDS", "10"))
    gc_items = Integer(ENV.fetch("BENCH_GC_ITEMS", "20000"))
    report = +header
    report << "\n"
    redis_pid = nil
    begin
      progress("starting DynamoDB Local (state: #{STATE})")
      endpoint, dynamodb_pid = start_dynamodb
      env = { "DYNAMODB_ENDPOINT" => endpoint }
      progress("DynamoDB Local at #{endpoint}; starting redis-server")
      redis_port, redis_pid = begin
        start_redis
      rescue StandardError => e
        report << "redis-server did not start (#{e.message}): the redis-rack row is missing.\n\n"
        nil
      end

      floor_cpu = nil
      section(report, "Floor: the same DynamoDB calls from Rust") do
        text, floor_cpu = floor(endpoint, requests)
        text
      end

      section(report, "Per-request wall time and process CPU (#{requests} requests, counter app, cookie carried)") do
        argv = [RbConfig.ruby, "-I", LIB, "bench/request_cpu.rb", "--requests", requests.to_s]
        argv += ["--redis", "redis://127.0.0.1:#{redis_port}/0"] if redis_port
        argv += ["--floor-cpu-us", floor_cpu.to_s] if floor_cpu
        out = run!(argv, name: "request_cpu", timeout: 900, env: env)
        note = <<~MD
          Each request goes through the middleware with Rack::MockRequest (no HTTP server), so CPU is the
          session store's plus Rack's. Every row is measured after a discarded pass over all of them, so
          none carries the warm-up of the process or of the server beside it. "No locking" and "locking" rows change the session on every request
          (GetItem + UpdateItem; with locking a conditional lock UpdateItem + the saving UpdateItem); the
          "unchanged session" row only reads it (write avoidance: no write within the touch interval).
          "CPU vs Rust floor" is the store's mean CPU per request over the floor's mean CPU per
          GetItem + UpdateItem pair #{floor_cpu ? "(#{floor_cpu.round} µs)" : "(floor missing)"}: what the Ruby side
          (Rack, the middleware, serialization) and the Ruby↔Rust bridge (GVL release, conversions) add
          to the bare SDK calls. † The unchanged session's request makes one call (GetItem), not a pair.
        MD
        "#{out.strip}\n\n#{note}"
      end

      section(report, "Per request on every Ruby, side by side") do
        every_ruby(env, redis_port, requests)
      end

      section(report, "Thread scaling: one Puma process, DynamoDB 5 ms away") do
        run!([RbConfig.ruby, "bench/thread_scaling.rb", "--threads", "1,4,8,16", "--seconds", seconds.to_s,
              "--delay-ms", "5", "--dynamodb-pid", dynamodb_pid.to_s], name: "thread_scaling", timeout: 600, env: env)
      end

      section(report, "Writes per 100 requests that do not change the session") do
        run!([RbConfig.ruby, "bench/writes.rb", "--requests", "100"], name: "writes", timeout: 300, env: env)
      end

      section(report, "Require time and memory") do
        run!([RbConfig.ruby, "bench/require_cost.rb", "--runs", "5"], name: "require_cost", timeout: 300, env: env)
      end

      section(report, "Lock acquire latency (bench/lock_contention.rb)") do
        run!([RbConfig.ruby, "bench/lock_contention.rb"],
             name: "lock_contention", timeout: 900, env: env.merge("BENCH_THREADS" => "1,8,64"))
      end

      section(report, "Garbage collection throughput (bench/gc.rb, #{gc_items} items, DynamoDB 20 ms away)") do
        out = run!([RbConfig.ruby, "bench/gc.rb", "--items", gc_items.to_s, "--delay-ms", "20"],
                   name: "gc", timeout: 2400, env: env)
        suffix = gc_items == 100_000 ? "" : "\n\nThe full figure: `BENCH_GC_ITEMS=100000 rake bench`."
        "#{out.strip}#{suffix}"
      end
    rescue StandardError => e
      report << "## Set-up failed\n\n#{failure(e, e.respond_to?(:out) ? e.out : "", e.respond_to?(:tail) ? e.tail : "")}\n"
    ensure
      stop_redis(redis_pid)
      stop_dynamodb
    end

    compile = ENV["BENCH_COMPILE_SECONDS"]
    report << format("Total runtime: %.0f s (starting and stopping the services and building the floor " \
                     "included)%s.\n", monotonic - started,
                     compile ? "; before it, script/bench-setup and `rake compile:release` took #{compile} s" : "")
    File.write(File.join(OUT, "report.md"), report)
    progress("report written to #{File.join(OUT, "report.md")}")
    puts report
  end
end

BenchReport.main if $PROGRAM_NAME == __FILE__
