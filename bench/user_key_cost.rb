# frozen_string_literal: true

# What `user_key` costs the Ruby side of a request, in instructions
# (valgrind's callgrind: stable on a noisy machine), with the in-memory
# native client of the specs so no DynamoDB call or network is counted:
# a changed and an unchanged session, signed in, with `user_key` off and
# on. Each runs with SMALL and LARGE requests; the difference divided by
# LARGE - SMALL is one request. Run by no test.
#
#   ruby bench/user_key_cost.rb [--lib DIR]... [--small N] [--large N]
#
# Each --lib (default: this checkout's lib/) is measured in turn, so a
# checkout from before `user_key` existed shows the plain path's cost then
# (its rows with user_key on are skipped). Needs valgrind, and in each
# lib a built extension (loaded for its constants; the in-memory client
# of the checkout's spec/support makes no native call).
require "optparse"
require "rbconfig"
require "tmpdir"

root = File.expand_path("..", __dir__)
libs = []
small = 100
large = 300
OptionParser.new do |o|
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
  changed, user_key, n = ARGV[0] == "changed", ARGV[1] == "on", Integer(ARGV[2])
  exit 3 if user_key && !d::OPTIONS.any? { |o| o.name == :user_key }
  client = MemoryClient.new
  d::Native.client_factory = ->(_options) { client }
  app = lambda do |env|
    session = env["rack.session"]
    session["user_id"] ||= 42
    session["n"] = session.fetch("n", 0) + 1 if changed
    [200, {}, ["ok"]]
  end
  options = { table_name: "t", secret_key: "x" * 64, region: "us-east-1", max_stale: 86_400 }
  options[:user_key] = "user_id" if user_key
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
  Dir.mktmpdir("user-key-cost") do |dir|
    out = File.join(dir, "callgrind.out")
    script = File.join(dir, "child.rb")
    File.write(script, CHILD)
    ok = system("valgrind", "--tool=callgrind", "--callgrind-out-file=#{out}", RbConfig.ruby, "-I", lib, script,
                *args, memory_client, out: File::NULL, err: File::NULL)
    next nil unless ok

    File.read(out)[/^summary: (\d+)/, 1]&.to_i
  end
end

puts "Instructions per request (callgrind, (#{large} - #{small} requests) / #{large - small}), #{RUBY_DESCRIPTION}"
puts
puts "| lib | session | user_key | instructions per request |"
puts "|---|---|---|---:|"
libs.each do |lib|
  %w[changed unchanged].product(%w[off on]).each do |changed, user_key|
    counts = [small, large].map { |n| instructions.call(lib, [changed, user_key, n.to_s]) }
    next if counts.any?(&:nil?)

    per_request = (counts[1] - counts[0]) / (large - small)
    puts "| #{lib} | #{changed} | #{user_key} | #{per_request.to_s.reverse.scan(/\d{1,3}/).join(",").reverse} |"
  end
end
