# frozen_string_literal: true

# DynamoDB writes (cost) of requests that do not change the session: one
# session is created, then 100 requests read it without changing it, through
# spec/support/counting_proxy.rb (a loopback proxy counting DynamoDB
# operations). Prints a markdown table of operations per 100 such requests
# with touch_interval at its default and at 0 (rewrite on every request, as
# the official gem does), and with locking. Run by no test; `rake bench`
# runs it.
#
#   DYNAMODB_ENDPOINT=http://127.0.0.1:PORT ruby -Ilib bench/writes.rb [--requests N]

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "optparse"
require "securerandom"
require "rack"
require "rack/mock"
require "aws-sessionstore-dynamodb-rs"
require_relative "../spec/support/counting_proxy"

requests = 100
OptionParser.new { |o| o.on("--requests N", Integer) { |n| requests = n } }.parse!
endpoint = ENV.fetch("DYNAMODB_ENDPOINT") { abort "set DYNAMODB_ENDPOINT (script/dynamodb-local/start)" }
native = { region: "us-east-1", access_key_id: "dummy", secret_access_key: "dummy" }
table = "bench-writes-#{SecureRandom.hex(4)}"
Aws::SessionStore::DynamoDB::Table.create_table(native.merge(endpoint: endpoint, table_name: table,
                                                             billing_mode: :pay_per_request))

# The first request sets the session; every later one only reads it.
READER = lambda do |env|
  env["rack.session"]["user_id"] ||= 42
  [200, { "content-type" => "text/plain" }, ["ok"]]
end

def measure(proxy, app, requests)
  mock = Rack::MockRequest.new(app)
  first = mock.get("/")
  raise "first request: status #{first.status}" unless first.status == 200

  cookie = first["Set-Cookie"].split(";").first
  proxy.reset!
  requests.times do
    r = mock.get("/", "HTTP_COOKIE" => cookie)
    raise "status #{r.status}" unless r.status == 200
    raise "the session changed id" if r["Set-Cookie"] && r["Set-Cookie"].split(";").first != cookie
  end
  ops = proxy.operations.tally
  ops.default = 0
  ops
end

rows = []
proxy = CountingProxy.new(endpoint)
begin
  store = lambda do |**o|
    Aws::SessionStore::DynamoDB::RackMiddleware.new(
      READER, native.merge(endpoint: proxy.endpoint, table_name: table, secret_key: SecureRandom.hex(32), **o)
    )
  end
  rows << ["touch_interval default (nil: 60 s here, no expiry set)", measure(proxy, store.call, requests)]
  rows << ["touch_interval default, max_stale 1 day (interval 4320 s → capped at 3600 s)",
           measure(proxy, store.call(max_stale: 86_400), requests)]
  rows << ["touch_interval 0 (write on every request)", measure(proxy, store.call(touch_interval: 0), requests)]
  rows << ["enable_locking (lock + release on every request)", measure(proxy, store.call(enable_locking: true), requests)]
  errors = proxy.errors
  raise "counting proxy errors: #{errors.map(&:inspect).join(", ")}" unless errors.empty?
ensure
  proxy.stop
  Aws::SessionStore::DynamoDB::Table.delete_table(native.merge(endpoint: endpoint, table_name: table))
end

scale = 100.0 / requests
fmt = ->(n) { (n * scale) == (n * scale).round ? (n * scale).round.to_s : format("%.1f", n * scale) }
puts "#{requests} requests that leave the session unchanged (after the one that created it), " \
     "operations counted at the proxy, per 100 requests:"
puts
puts "| configuration | UpdateItem (writes) | GetItem | other | all |"
puts "|---|---:|---:|---:|---:|"
rows.each do |name, ops|
  other = ops.reject { |op, _| %w[UpdateItem GetItem].include?(op) }.values.sum
  puts "| #{name} | #{fmt[ops["UpdateItem"]]} | #{fmt[ops["GetItem"]]} | #{fmt[other]} | #{fmt[ops.values.sum]} |"
end
puts
puts "The official gem rewrites the whole item (data included) on every request: 100 writes per 100."
