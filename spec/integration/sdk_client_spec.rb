# frozen_string_literal: true

# The one aws-sdk-dynamodb client behind every call: where it sends
# requests (the SDK's endpoint sources, with the `endpoint` option on top),
# and the SDK machinery it is configured with rather than re-implementing:
# one identity cache, retries, timeouts over DNS/connect/TLS, clock-skew
# correction, cancellation. Region rules (FIPS, dual-stack, partitions) are
# checked without network in
# ext/aws_sessionstore_dynamodb_rs/tests/endpoint_resolution.rs.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "open3"
require "rbconfig"
require "socket"
require "time"
require "timeout"
require "tmpdir"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"

RSpec.describe "The SDK client" do
  include_context "with a session table"
  include StoreRequestHelpers

  let(:native) { Aws::SessionStore::DynamoDB::Native }
  let(:errors) { Aws::SessionStore::DynamoDB::Errors }
  let(:lib) { File.expand_path("../../lib", __dir__) }

  # A loopback port nothing listens on.
  def dead_endpoint
    server = TCPServer.new("127.0.0.1", 0)
    "http://127.0.0.1:#{server.addr[1]}"
  ensure
    server&.close
  end

  # Runs `code` in a fresh Ruby with `env` (nil values unset) and returns
  # its stdout, failing with its stderr when it exits non-zero.
  def child(code, env)
    out, err, status = Open3.capture3(env, RbConfig.ruby, "-I", lib, "-e", code)
    expect(status).to be_success, "child failed (#{status}):\n#{err}"
    out
  end

  # Creates a table, writes a session and reads it back through the store,
  # all with no endpoint option unless `options` has one: where the
  # requests go is up to the environment given.
  def round_trip_in_child(env, options = {})
    code = <<~RUBY
      require "aws-sessionstore-dynamodb-rs"
      require "rack/mock"
      store = Aws::SessionStore::DynamoDB
      opts = #{options.merge(table_name: "#{table_name}-child", operation_timeout: 3, max_attempts: 2).inspect}
      p store::Table.create_table(opts)
      app = ->(env) { env["rack.session"]["n"] = env["rack.session"].fetch("n", 0) + 1; [200, {}, [env["rack.session"]["n"].to_s]] }
      mw = store::RackMiddleware.new(app, opts.merge(secret_key: "s" * 64))
      first = Rack::MockRequest.new(mw).get("/")
      cookie = first.headers["Set-Cookie"].to_s[/rack\\.session=[^;]*/]
      second = Rack::MockRequest.new(mw).get("/", "HTTP_COOKIE" => cookie)
      puts "body=\#{second.body}"
    RUBY
    out = child(code, env)
    expect(raw_dynamodb.get_item("#{table_name}-child", "session_id" => { "S" => "missing" })).to be_a(Hash)
    out
  ensure
    begin
      raw_dynamodb.delete_table("#{table_name}-child")
    rescue StandardError
      nil # not created: the expectation above already failed
    end
  end

  describe "endpoint sources, highest first: the endpoint option, AWS_ENDPOINT_URL_DYNAMODB, " \
           "AWS_ENDPOINT_URL, the profile" do
    let(:local) { DynamoDBLocalHelper.endpoint }
    let(:unset) { { "AWS_ENDPOINT_URL" => nil, "AWS_ENDPOINT_URL_DYNAMODB" => nil, "AWS_CONFIG_FILE" => nil } }

    it "sends tables and sessions to AWS_ENDPOINT_URL_DYNAMODB" do
      out = round_trip_in_child(unset.merge("AWS_ENDPOINT_URL_DYNAMODB" => local))
      expect(out).to include("body=2")
    end

    it "prefers AWS_ENDPOINT_URL_DYNAMODB to AWS_ENDPOINT_URL" do
      out = round_trip_in_child(unset.merge("AWS_ENDPOINT_URL_DYNAMODB" => local, "AWS_ENDPOINT_URL" => dead_endpoint))
      expect(out).to include("body=2")
    end

    it "prefers the endpoint option to both variables" do
      env = unset.merge("AWS_ENDPOINT_URL_DYNAMODB" => dead_endpoint, "AWS_ENDPOINT_URL" => dead_endpoint)
      out = round_trip_in_child(env, endpoint: local)
      expect(out).to include("body=2")
    end

    it "reads the profile's [services] section, and AWS_ENDPOINT_URL wins over the profile" do
      Dir.mktmpdir do |dir|
        config = File.join(dir, "config")
        File.write(config, <<~INI)
          [profile local]
          region = us-east-1
          services = here
          [services here]
          dynamodb =
            endpoint_url = #{local}
          [profile elsewhere]
          region = us-east-1
          endpoint_url = #{dead_endpoint}
        INI
        out = round_trip_in_child(unset.merge("AWS_CONFIG_FILE" => config, "AWS_PROFILE" => "local"))
        expect(out).to include("body=2")
        out = round_trip_in_child(unset.merge("AWS_CONFIG_FILE" => config, "AWS_PROFILE" => "elsewhere",
                                              "AWS_ENDPOINT_URL" => local))
        expect(out).to include("body=2")
      end
    end
  end

  describe "credentials" do
    it "are loaded once per process and shared by every thread (one identity cache)" do
      Dir.mktmpdir do |dir|
        calls = File.join(dir, "calls")
        script = File.join(dir, "credentials")
        File.write(script, <<~SH)
          #!/bin/sh
          echo call >> '#{calls}'
          printf '{"Version": 1, "AccessKeyId": "dummy", "SecretAccessKey": "dummy"}'
        SH
        File.chmod(0o755, script)
        config = File.join(dir, "config")
        File.write(config, "[profile counted]\nregion = us-east-1\ncredential_process = #{script}\n")
        code = <<~RUBY
          require "aws-sessionstore-dynamodb-rs"
          client = Aws::SessionStore::DynamoDB::Native::Client.new(endpoint: #{DynamoDBLocalHelper.endpoint.inspect}, profile: "counted")
          request = ->(key) { Aws::SessionStore::DynamoDB::Native::ItemRequest.new(table: #{table_name.inspect}, key_name: "session_id", key: key, consistent: true) }
          8.times.map { |t| Thread.new { 5.times { |i| client.get_item(request.call("k\#{t}-\#{i}")) } } }.each(&:join)
          puts "ok"
        RUBY
        env = { "AWS_CONFIG_FILE" => config, "AWS_ACCESS_KEY_ID" => nil, "AWS_SECRET_ACCESS_KEY" => nil,
                "AWS_SESSION_TOKEN" => nil, "AWS_PROFILE" => nil }
        expect(child(code, env)).to eq("ok\n")
        expect(File.readlines(calls).size).to eq(1)
      end
    end
  end

  describe "through a fault-injecting proxy" do
    include_context "through a counting proxy"
    let(:app) { StoreRequestHelpers::COUNTER_APP }

    # Default retry and timeout settings: only the endpoint and table given.
    def store
      @store ||= Aws::SessionStore::DynamoDB::RackMiddleware.new(
        app, store_options(endpoint: proxy.endpoint, touch_interval: 0)
      )
    end

    def signed_at(message)
      Time.strptime(message.header("X-Amz-Date").to_s, "%Y%m%dT%H%M%S%Z")
    end

    it "corrects its clock after a 'Signature expired' answer dated 10 minutes ahead, and the call succeeds" do
      cookie = store_request(store).cookie
      server_time = Time.now + 600
      dates = []
      answered = false
      proxy.reset!
      proxy.on_request do |op, _body, message|
        next nil unless op == "GetItem"

        dates << signed_at(message)
        next nil if answered

        answered = true
        [400, CountingProxy.error_body("InvalidSignatureException",
                                       "Signature expired: #{Time.now.utc.strftime("%Y%m%dT%H%M%SZ")} is now earlier " \
                                       "than #{server_time.utc.strftime("%Y%m%dT%H%M%SZ")} (15 min.)"),
         { "Date" => server_time.httpdate }]
      end
      response = store_request(store, cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.body).to eq("2")
      expect(response.errors).to eq("")
      expect(dates.size).to eq(2)
      expect(dates.last - Time.now).to be_within(60).of(600)
    end

    it "retries a 500 and a 503, then succeeds" do
      cookie = store_request(store).cookie
      proxy.reset!
      answers = [[500, CountingProxy.error_body("InternalServerError")],
                 [503, CountingProxy.error_body("ServiceUnavailable")]]
      guard = Mutex.new
      proxy.on_request { |op, _| guard.synchronize { answers.shift } if op == "GetItem" }
      response = store_request(store, cookie: cookie)
      expect(response.body).to eq("2")
      expect(response.errors).to eq("")
      expect(proxy.count("GetItem")).to eq(3)
    end

    it "rides out one second of throttling with the default settings" do
      cookie = store_request(store).cookie
      proxy.reset!
      until_time = nil
      guard = Mutex.new
      proxy.on_request do |op, _|
        next nil unless op == "GetItem"

        throttled = guard.synchronize do
          until_time ||= monotonic + 1.0
          monotonic < until_time
        end
        [400, CountingProxy.error_body("ThrottlingException", "Rate exceeded (injected)")] if throttled
      end
      response = store_request(store, cookie: cookie)
      expect(response.body).to eq("2")
      expect(response.errors).to eq("")
      expect(response.elapsed).to be >= 1.0
      expect(proxy.count("GetItem")).to be >= 2
    end

    it "gives up on a table throttled for longer than operation_timeout with TimeoutError, at that timeout" do
      # max_attempts 10: Configuration's default (the native client alone
      # would take the SDK's 3).
      client = native::Client.new(native_options.merge(endpoint: proxy.endpoint, operation_timeout: 2.0,
                                                       max_attempts: 10))
      proxy.on_request { |op, _| [400, CountingProxy.error_body("ThrottlingException")] if op == "GetItem" }
      started = monotonic
      expect { native_get(client, table_name, "k") }
        .to raise_error(errors::TimeoutError, /operation timeout/)
      expect(monotonic - started).to be_between(1.9, 3.2) # not 10 attempts of backoff past it
      expect(proxy.count("GetItem")).to be_between(2, 10)
    end

    it "cancels an interrupted call; the next call on the client gets its own answer, not the late one" do
      client = native::Client.new(native_options.merge(endpoint: proxy.endpoint))
      %w[a b].each do |key|
        raw_dynamodb.put_item(table_name, "session_id" => { "S" => key }, "data" => { "S" => "data-#{key}" })
      end
      stalled = false
      proxy.on_request do |op, body|
        next nil unless op == "GetItem" && body.dig("Key", "session_id", "S") == "a" && !stalled

        stalled = true
        1.5
      end
      started = monotonic
      expect { Timeout.timeout(0.3) { native_get(client, table_name, "a") } }
        .to raise_error(Timeout::Error)
      expect(monotonic - started).to be < 1.0
      expect(native_get(client, table_name, "b")["data"]).to eq("data-b")
      sleep 1.5 # the stalled answer arrives on the abandoned connection meanwhile
      expect(native_get(client, table_name, "b")["data"]).to eq("data-b")
      expect(native_get(client, table_name, "a")["data"]).to eq("data-a")
    end
  end

  describe "the operation timeout" do
    it "bounds a TLS handshake that never completes (TimeoutError, not a hang)" do
      server = TCPServer.new("127.0.0.1", 0)
      held = []
      acceptor = Thread.new { loop { held << server.accept } }
      client = native::Client.new(native_options.merge(endpoint: "https://127.0.0.1:#{server.addr[1]}",
                                                       operation_timeout: 1.0, connect_timeout: 30.0))
      started = monotonic
      expect { native_get(client, table_name, "k") }.to raise_error(errors::TimeoutError)
      expect(monotonic - started).to be_between(0.9, 2.2) # not connect_timeout (30 s)
      expect(held).not_to be_empty
    ensure
      acceptor&.kill
      held&.each(&:close)
      server&.close
    end
  end
end
