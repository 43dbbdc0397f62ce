# frozen_string_literal: true

# What the OpenTelemetry instrumentation costs a request, in process CPU
# µs, each way in its own process: OpenTelemetry absent; the API alone (the
# instrumentation installed, its tracer the API's no-op one); the SDK with
# a span processor and an exporter (SimpleSpanProcessor into an in-memory
# exporter, cleared as it goes), without and with the store's
# instrumentation. With OpenTelemetry, each request runs under a server
# span, as opentelemetry-instrumentation-rack's, whose cost is counted too:
# the store's own share is the last column minus the one before. A changed and an unchanged session, on the
# specs' in-memory client, which reports its operations as the real client
# does: no network is measured, only the store's work and the spans'. Run
# by no test.
#
#   ruby bench/opentelemetry_cost.rb [--requests N] [--rounds N]
#
# Needs the OpenTelemetry API and SDK on the load path (RUBYLIB, or the
# vendored copies beside this workplace: ../shared/vendor/ruby).
require "optparse"
require "open3"
require "rbconfig"
require "tmpdir"

root = File.expand_path("..", __dir__)
requests = 3000
rounds = 3
callgrind = false
OptionParser.new do |o|
  o.on("--requests N", Integer) { |n| requests = n }
  o.on("--rounds N", Integer) { |n| rounds = n }
  # Instructions per request instead (valgrind's callgrind, runs of
  # REQUESTS / 10 and REQUESTS requests): stable on a noisy machine.
  o.on("--callgrind") { callgrind = true }
end.parse!

require_relative "../spec/support/opentelemetry"
vendor = OpenTelemetrySupport::GEMS.map { |gem| File.join(OpenTelemetrySupport::VENDOR, gem, "lib") }
otel_paths = ENV.fetch("RUBYLIB", "").split(":").grep(/opentelemetry/)
otel_paths = vendor if otel_paths.empty?

CHILD = <<~'RUBY'
  mode, changed, n = ARGV[0], ARGV[1] == "changed", Integer(ARGV[2])
  require "opentelemetry-api" if mode == "api"
  if mode.start_with?("sdk")
    require "opentelemetry/sdk"
    require "logger"
    OpenTelemetry.logger = Logger.new(File::NULL)
    ENV["OTEL_TRACES_EXPORTER"] = "none"
    EXPORTER = OpenTelemetry::SDK::Trace::Export::InMemorySpanExporter.new
    OpenTelemetry::SDK.configure do |c|
      c.add_span_processor(OpenTelemetry::SDK::Trace::Export::SimpleSpanProcessor.new(EXPORTER))
    end
  end
  require "aws-sessionstore-dynamodb-rs"
  require "rack/mock"
  require ENV.fetch("MEMORY_CLIENT")
  d = Aws::SessionStore::DynamoDB
  d::Telemetry.register
  d::Telemetry.instance.install({}) if %w[api sdk].include?(mode)
  client = MemoryClient.new
  d::Native.client_factory = ->(_options) { client }
  app = lambda do |env|
    session = env["rack.session"]
    changed ? session["n"] = session.fetch("n", 0) + 1 : session["n"] ||= 1
    [200, {}, ["ok"]]
  end
  store = d::RackMiddleware.new(app, table_name: "t", secret_key: "x" * 64, region: "us-east-1", max_stale: 86_400)
  mock = Rack::MockRequest.new(store)
  cookie = nil
  # Each request under a server span, as opentelemetry-instrumentation-rack
  # starts one (with the API alone, a no-op one).
  tracer = defined?(OpenTelemetry) ? OpenTelemetry.tracer_provider.tracer("bench") : nil
  request = lambda do
    next mock.get("/", "HTTP_COOKIE" => cookie.to_s) unless tracer

    tracer.in_span("GET /", kind: :server) { mock.get("/", "HTTP_COOKIE" => cookie.to_s) }
  end
  run = lambda do |count|
    count.times do
      r = request.call
      cookie = r["Set-Cookie"]&.split(";")&.first || cookie
      EXPORTER.reset if defined?(EXPORTER)
    end
  end
  run.call(200) # warm-up
  cpu = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
  run.call(n)
  puts((Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - cpu) * 1e6 / n)
RUBY

child = lambda do |mode, changed, count, wrapper = []|
  paths = mode == "absent" ? [] : otel_paths # sdk_request: the SDK, the store not instrumented
  out, err, status = Open3.capture3({ "MEMORY_CLIENT" => File.join(root, "spec/support/memory_client.rb") },
                                    *wrapper, RbConfig.ruby, "-I", File.join(root, "lib"),
                                    *paths.flat_map { |path| ["-I", path] }, "-e", CHILD, mode, changed, count.to_s)
  abort("#{mode} #{changed}: #{err}") unless status.success?
  out
end

instructions = lambda do |mode, changed, count|
  Dir.mktmpdir("otel-cost") do |dir|
    file = File.join(dir, "callgrind.out")
    child.call(mode, changed, count, ["valgrind", "--tool=callgrind", "--callgrind-out-file=#{file}"])
    Integer(File.read(file)[/^summary: (\d+)/, 1])
  end
end

measure = lambda do |mode, changed|
  if callgrind
    small = requests / 10
    next (instructions.call(mode, changed, requests) - instructions.call(mode, changed, small)) / (requests - small)
  end

  samples = Array.new(rounds) { Float(child.call(mode, changed, requests)) }
  samples.sort[samples.size / 2]
end

unit = callgrind ? "instructions" : "µs"
puts(if callgrind
       "Instructions per request (callgrind), #{RUBY_DESCRIPTION}"
     else
       "Process CPU per request, median of #{rounds} processes of #{requests} requests, #{RUBY_DESCRIPTION}"
     end)
puts
puts "| session | OpenTelemetry absent | API only | SDK + exporter, store not instrumented | SDK + exporter |"
puts "|---|---:|---:|---:|---:|"
%w[changed unchanged].each do |changed|
  cells = %w[absent api sdk_request sdk].map do |mode|
    value = measure.call(mode, changed)
    callgrind ? "#{value.to_s.reverse.scan(/\d{1,3}/).join(",").reverse} #{unit}" : format("%.1f µs", value)
  end
  puts "| #{changed} | #{cells.join(" | ")} |"
end
