# frozen_string_literal: true

# Throughput of one Puma process as its thread count grows, with every
# DynamoDB call 5 ms away: bench/app/config.ru (a session counter behind this
# gem's middleware) under Puma (single mode, 1, 4, 8, 16 threads), its
# DynamoDB endpoint being a Toxiproxy server (a separate process, built by
# script/toxiproxy, adding --delay-ms to every request) in front of DynamoDB
# Local. Driven by wrk,
# one connection per Puma thread, every request carrying the cookie of one
# session created beforehand (so each request is a GetItem and an UpdateItem).
# Since the GVL is released during each DynamoDB call, throughput should grow
# with threads until the CPU runs out. Prints a markdown table. Run by no
# test; `rake bench` runs it.
#
#   DYNAMODB_ENDPOINT=http://127.0.0.1:PORT ruby bench/thread_scaling.rb
#     [--threads 1,4,8,16] [--seconds 10] [--delay-ms 5] [--dynamodb-pid PID]
#
# --dynamodb-pid adds DynamoDB Local's CPU to the table. Needs `puma` and
# `wrk` (Debian packages). Every process it starts is stopped at the end.

require "etc"
require "fileutils"
require "io/wait"
require "net/http"
require "optparse"
require "rbconfig"
require "securerandom"
require "socket"
require "uri"
require_relative "support"

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)

module ThreadScaling
  ROOT = File.expand_path("..", __dir__)
  CLK_TCK = 100.0 # USER_HZ on Linux

  extend BenchSupport

  module_function

  # [busy, total] jiffies of the whole machine.
  def machine_jiffies
    fields = File.read("/proc/stat")[/^cpu\s+(.*)$/, 1].split.map(&:to_i)
    idle = fields[3] + fields[4].to_i
    total = fields.first(8).sum
    [total - idle, total]
  end

  # CPU seconds used so far by a process (its threads included), or nil.
  def process_cpu(pid)
    return nil unless pid

    stat = File.read("/proc/#{pid}/stat")
    fields = stat[(stat.rindex(")") + 2)..].split
    (fields[11].to_i + fields[12].to_i) / CLK_TCK
  rescue Errno::ENOENT, Errno::ESRCH
    nil
  end

  # Runs argv, at most `timeout` seconds. @return [String] its stdout.
  def capture(argv, timeout:)
    reader, writer = IO.pipe
    pid = Process.spawn(*argv, out: writer, err: %i[child out], pgroup: true)
    writer.close
    out = +""
    deadline = monotonic + timeout
    loop do
      raise "#{argv.first} still running after #{timeout} s" unless reader.wait_readable([deadline - monotonic, 0].max)

      out << reader.readpartial(65_536)
    rescue EOFError
      break
    end
    Process.wait(pid)
    raise "#{argv.join(" ")} exited #{$?.exitstatus}:\n#{out}" unless $?.success?

    pid = nil
    out
  ensure
    reader&.close
    kill_group(pid)
  end

  def get(port, cookie = nil)
    http = Net::HTTP.new("127.0.0.1", port)
    http.open_timeout = 1
    http.read_timeout = 10
    headers = cookie ? { "Cookie" => cookie } : {}
    http.start { |h| h.get("/", headers) }
  end

  def wait_until_up(port, pid, seconds: 60)
    deadline = monotonic + seconds
    loop do
      raise "puma exited during start (see its log)" if Process.wait(pid, Process::WNOHANG)

      begin
        return if get(port).code == "200"
      rescue SystemCallError, IOError, Net::ReadTimeout, Net::OpenTimeout
        nil
      end
      raise "puma did not answer within #{seconds} s" if monotonic > deadline

      sleep 0.2
    end
  end

  def to_ms(value, unit)
    value.to_f * { "us" => 0.001, "ms" => 1.0, "s" => 1000.0, "m" => 60_000.0 }.fetch(unit)
  end

  def parse_wrk(out)
    latency = ->(pct) { out[/^\s+#{pct}%\s+([\d.]+)(us|ms|s|m)\s*$/] && to_ms(Regexp.last_match(1), Regexp.last_match(2)) }
    {
      rps: Float(out[%r{^Requests/sec:\s+([\d.]+)}, 1]),
      requests: Integer(out[/^\s+(\d+) requests in/, 1]),
      p50: latency.call(50), p99: latency.call(99),
      non2xx: out[/Non-2xx or 3xx responses: (\d+)/, 1].to_i,
      socket_errors: out[/Socket errors: (.*)$/, 1]
    }
  end

  def main(argv)
    threads = [1, 4, 8, 16]
    seconds = 10
    delay_ms = 5.0
    dynamodb_pid = nil
    OptionParser.new do |o|
      o.on("--threads LIST") { |v| threads = v.split(",").map { |t| Integer(t) } }
      o.on("--seconds S", Integer) { |v| seconds = v }
      o.on("--delay-ms MS", Float) { |v| delay_ms = v }
      o.on("--dynamodb-pid PID", Integer) { |v| dynamodb_pid = v }
    end.parse!(argv)
    endpoint = ENV.fetch("DYNAMODB_ENDPOINT") { abort "set DYNAMODB_ENDPOINT (script/dynamodb-local/start)" }
    log_dir = ENV.fetch("BENCH_LOG_DIR", File.join(ROOT, "tmp", "bench"))
    FileUtils.mkdir_p(log_dir)

    require "aws-sessionstore-dynamodb-rs"
    table = "bench-threads-#{SecureRandom.hex(4)}"
    native = { endpoint: endpoint, region: "us-east-1", access_key_id: "dummy", secret_access_key: "dummy" }
    Aws::SessionStore::DynamoDB::Table.create_table(native.merge(table_name: table, billing_mode: :pay_per_request))

    proxy_endpoint, proxy_pid = BenchSupport.delayed_endpoint(endpoint, delay_ms)

    rows = threads.map do |count|
      port = free_port
      env = { "RUBYLIB" => File.join(ROOT, "lib"), "BENCH_SECRET" => SecureRandom.hex(32), "BENCH_TABLE" => table,
              "BENCH_ENDPOINT" => proxy_endpoint }
      puma = Process.spawn(env, "puma", "--no-config", "-e", "production", "-t", "#{count}:#{count}",
                           "-b", "tcp://127.0.0.1:#{port}", File.join(__dir__, "app", "config.ru"),
                           out: File.join(log_dir, "puma-#{count}.log"), err: %i[child out], pgroup: true)
      begin
        wait_until_up(port, puma)
        cookie = get(port)["Set-Cookie"].split(";").first
        url = "http://127.0.0.1:#{port}/"
        wrk = ["wrk", "-t", "1", "-c", count.to_s, "--timeout", "5s", "--latency", "-H", "Cookie: #{cookie}"]
        capture(wrk + ["-d", "2s", url], timeout: 30) # warm-up: connections, threads

        busy0, total0 = machine_jiffies
        cpu0 = [puma, proxy_pid, dynamodb_pid].map { |pid| process_cpu(pid) }
        started = monotonic
        out = capture(wrk + ["-d", "#{seconds}s", url], timeout: seconds + 30)
        elapsed = monotonic - started
        cpu1 = [puma, proxy_pid, dynamodb_pid].map { |pid| process_cpu(pid) }
        busy1, total1 = machine_jiffies
        result = parse_wrk(out)
        cpu_pct = cpu0.zip(cpu1).map { |a, b| a && b ? 100.0 * (b - a) / elapsed : nil }
        result.merge(threads: count, puma_cpu: cpu_pct[0], proxy_cpu: cpu_pct[1], dynamodb_cpu: cpu_pct[2],
                     machine_busy: 100.0 * (busy1 - busy0) / [total1 - total0, 1].max,
                     puma_cpu_ms: cpu0[0] && cpu1[0] ? 1000.0 * (cpu1[0] - cpu0[0]) / [result[:requests], 1].max : nil)
      ensure
        stop_process(puma)
      end
    end

    pct = ->(v) { v ? format("%.0f%%", v) : "–" }
    ms = ->(v) { v ? format("%.1f", v) : "–" }
    puts "One Puma process (single mode), #{seconds} s of wrk per point, one connection per thread, " \
         "every DynamoDB call delayed #{delay_ms.round} ms by a Toxiproxy latency toxic (own process); " \
         "#{Etc.nprocessors} CPUs shared by Puma, wrk, the proxy and DynamoDB Local. CPU % is of one core."
    puts
    puts "| Puma threads | requests/s | p50 ms | p99 ms | errors | Puma CPU | Puma CPU ms/request | " \
         "Toxiproxy CPU | DynamoDB Local CPU | machine busy |"
    puts "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    rows.each do |r|
      errors = r[:non2xx].to_s
      errors += " (socket: #{r[:socket_errors]})" if r[:socket_errors]
      puts format("| %d | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |", r[:threads], r[:rps], ms[r[:p50]], ms[r[:p99]],
                  errors, pct[r[:puma_cpu]], r[:puma_cpu_ms] ? format("%.2f", r[:puma_cpu_ms]) : "–",
                  pct[r[:proxy_cpu]], pct[r[:dynamodb_cpu]], format("%.0f%%", r[:machine_busy]))
    end
    one = rows.find { |r| r[:threads] == 1 }
    eight = rows.find { |r| r[:threads] == 8 }
    if one && eight
      puts
      puts format("8 threads vs 1: %.2f× the throughput (ideal, with the GVL released and CPU to spare: 8×).",
                  eight[:rps] / one[:rps])
    end
  ensure
    stop_process(proxy_pid) if proxy_pid
    Aws::SessionStore::DynamoDB::Table.delete_table(native.merge(table_name: table)) if table && defined?(Aws::SessionStore)
  end
end

ThreadScaling.main(ARGV) if $PROGRAM_NAME == __FILE__
