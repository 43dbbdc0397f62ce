# frozen_string_literal: true

# Run by the Ruby under test (script/matrix/native-gems test), with the platform gem
# installed in an empty GEM_HOME and no cargo on PATH: loads the gem, serves
# sessions through the middleware against DynamoDB Local
# (DYNAMODB_ENDPOINT), with locking, and prints what it saw, one
# `name: value` line each, for spec/platform_gems/platform_gems_check.rb.
# No RSpec here: under qemu every library loaded costs seconds.

require "aws-sessionstore-dynamodb-rs"
require "rack"
require "rack/mock"
require "securerandom"

def say(name, value)
  puts "#{name}: #{value}"
  $stdout.flush
end

say "ruby", "#{RUBY_VERSION} #{RUBY_PLATFORM}"
say "loaded", $LOADED_FEATURES.grep(%r{/aws_sessionstore_dynamodb_rs\.so\z}).join(" ")
say "gem", Gem.loaded_specs["aws-sessionstore-dynamodb-rs"]&.full_name
say "cargo on PATH", (ENV["PATH"].to_s.split(File::PATH_SEPARATOR).any? { |d| File.executable?(File.join(d, "cargo")) })

ddb = Aws::SessionStore::DynamoDB
table = "platform-gem-#{SecureRandom.hex(4)}"
options = { table_name: table, secret_key: SecureRandom.hex(64), endpoint: ENV.fetch("DYNAMODB_ENDPOINT"),
            region: "us-east-1", access_key_id: "dummy", secret_access_key: "dummy", enable_locking: true }
ddb::Table.create_table(options)
native = ddb::Native::Client.new(endpoint: options[:endpoint], region: "us-east-1",
                                 access_key_id: "dummy", secret_access_key: "dummy")
raw = lambda do |key|
  native.get_item(ddb::Native::ItemRequest.new(table: table, key_name: "session_id", key: key, consistent: true))
end

begin
  cookie = nil
  lock_seen = nil
  app = lambda do |env|
    session = env["rack.session"]
    if env["PATH_INFO"] == "/write"
      session["visits"] = 1
      session["text"] = "z\u00fcrich #{RUBY_PLATFORM}"
    else
      # The request holds the session's lock while the app runs.
      session["visits"] += 1
      item = raw.call(cookie)
      lock_seen = item.is_a?(Hash) && item.key?("locked_at")
    end
    [200, { "content-type" => "text/plain" }, ["#{session["visits"]} #{session["text"]}"]]
  end
  mock = Rack::MockRequest.new(ddb::RackMiddleware.new(app, options))

  first = mock.get("/write")
  cookie = Rack::Utils.unescape(first.headers["Set-Cookie"][/rack\.session=([^;]+)/, 1])
  second = mock.get("/read", "HTTP_COOKIE" => "rack.session=#{Rack::Utils.escape(cookie)}")
  say "first", first.body
  say "read back", second.body
  say "lock held in request", lock_seen
  after = raw.call(cookie)
  say "lock released", after.is_a?(Hash) && !after.key?("locked_at")
ensure
  ddb::Table.delete_table(options) if ddb::Table.respond_to?(:delete_table)
end
say "done", "ok"
