# frozen_string_literal: true

# What an opt-in option costs the Ruby side of a request, in instructions
# (valgrind's callgrind: stable on a noisy machine), with the in-memory
# native client of the specs so no DynamoDB call or network is counted
# (the extension's own work, such as encrypt_data's sealing, is counted):
# a changed and an unchanged session, signed in, with the option off and
# on. Each runs with SMALL and LARGE requests; the difference divided by
# LARGE - SMALL is one request. Run by no test.
#
#   ruby bench/option_cost.rb --option user_key|encrypt_data [--lib DIR]... [--small N] [--large N]
#
# Each --lib (default: this checkout's lib/) is measured in turn, so a
# checkout from before the option existed shows the plain path's cost then
# (its rows with the option on are skipped). Needs valgrind, and in each
# lib a built extension.
require "optparse"
require "rbconfig"
require "tmpdir"

root = File.expand_path("..", __dir__)
libs = []
small = 100
large = 300
option = "user_key"
OptionParser.new do |o|
  o.on("--option NAME", %w[user_key encrypt_data]) { |name| option = name }
  o.on("--lib DIR") { |dir| libs << File.expand_path(dir) }
  o.on("--small N", Integer) { |n| small = n }
  o.on("--large N", Integer) { |n| large = n }
end.parse!
libs = [File.join(root, "lib")] if libs.empty?

CHILD = <<~'RUBY'
  require "rack"
  require "rack/mock"
  require "aws-sessionstore-dynamodb-rs"
  require ARGV[3]
  d = Aws::SessionStore::DynamoDB
  changed, on, n, option = ARGV[0] == "changed", ARGV[1] == "on", Integer(ARGV[2]), ARGV[4].to_sym
  exit 3 if on && d::OPTIONS.none? { |o| o.name == option }
  client = MemoryClient.new
  d::Native.client_factory = ->(_options) { client }
  app = lambda do |env|
    session = env["rack.session"]
    session["user_id"] ||= 42
    session["n"] = session.fetch("n", 0) + 1 if changed
    [200, {}, ["ok"]]
  end
  options = { table_name: "t", secret_key: "x" * 64, region: "us-east-1", max_stale: 86_400 }
  options[option] = { user_key: "user_id", encrypt_data: true }.fetch(option) if on
  mock = Rack::MockRequest.new(d::RackMiddleware.new(app, options))
  cookie = nil
  (20 + n).times do
    r = mock.get("/", "HTTP_COOKIE" => cookie.to_s)
    cookie = r["Set-Cookie"]&.split(";")&.first || cookie
  end
RUBY

# Each checkout's own in-memory client, beside its lib/.
instructions = lambda do |lib, args|
  memory_client = File.expand_path("../spec/support/memory_client.rb", lib)
  Dir.mktmpdir("option-cost") do |dir|
    out = File.join(dir, "callgrind.out")
    script = File.join(dir, "child.rb")
    File.write(script, CHILD)
    ok = system("valgrind", "--tool=callgrind", "--callgrind-out-file=#{out}", RbConfig.ruby, "-I", lib, script,
                *args, memory_client, option, out: File::NULL, err: File::NULL)
    next nil unless ok

    File.read(out)[/^summary: (\d+)/, 1]&.to_i
  end
end

puts "Instructions per request (callgrind, (#{large} - #{small} requests) / #{large - small}), #{RUBY_DESCRIPTION}"
puts
puts "| lib | session | #{option} | instructions per request |"
puts "|---|---|---|---:|"
libs.each do |lib|
  %w[changed unchanged].product(%w[off on]).each do |changed, on|
    counts = [small, large].map { |n| instructions.call(lib, [changed, on, n.to_s]) }
    next if counts.any?(&:nil?)

    per_request = (counts[1] - counts[0]) / (large - small)
    puts "| #{lib} | #{changed} | #{on} | #{per_request.to_s.reverse.scan(/\d{1,3}/).join(",").reverse} |"
  end
end
