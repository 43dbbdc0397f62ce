# frozen_string_literal: true

# Fail closed: when DynamoDB fails, nobody who logged out is let back in, and
# the application's own code (instrumentation subscribers) can never change
# what the store does. Also the edges a hostile item or a rollout reaches:
# keys of both hashed_keys settings, numbers wider than a Float, nesting too
# deep for the stack, locks stamped in the future, one deadline per request.
#
# Outages go through the fault-injecting proxy (spec/support/counting_proxy.rb,
# with Toxiproxy behind it for a server that stops answering in time);
# races are two real requests through the middleware with one paused.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "active_support/notifications"
require "digest"
require "tmpdir"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"
require_relative "../support/storage_keys"

RSpec.describe "Failing closed" do
  include_context "with a session table"
  include StorageKeys
  include StoreRequestHelpers

  let(:dynamo) { Aws::SessionStore::DynamoDB }

  after { dynamo::Instrumentation.reset! }

  def keys
    all_items.map { |item| item["session_id"]["S"] }
  end

  def cookie_header(response)
    Array(response.headers["Set-Cookie"] || response.headers["set-cookie"]).join("\n")
  end

  # One app, as an app's routes: "/logout" reads the session then drops it,
  # "/blind-logout" only sets drop (the session is never loaded), "/reset"
  # is reset_session (Rack's SessionHash#destroy), "/renew" renews; anything
  # else counts, as StoreRequestHelpers::COUNTER_APP.
  ROUTES = lambda do |env|
    session = env["rack.session"]
    options = env["rack.session.options"]
    case env["PATH_INFO"]
    when "/logout" then session.fetch("n", 0) && (options[:drop] = true)
    when "/blind-logout" then options[:drop] = true
    when "/reset" then session.fetch("n", 0) && session.destroy
    when "/renew" then options[:renew] = true
    else return StoreRequestHelpers::COUNTER_APP.call(env)
    end
    [200, { "content-type" => "text/plain" }, ["done"]]
  end

  def app(**options)
    middleware(ROUTES, **options)
  end

  describe "a logout while DynamoDB fails its deletes" do
    let(:proxy) { CountingProxy.new }
    let(:options) { { endpoint: proxy.endpoint, max_attempts: 2, operation_timeout: 2 } }

    after do
      expect(proxy.errors).to be_empty
      proxy.stop
    end

    def failing_deletes
      proxy.on_request do |operation, _body|
        [500, CountingProxy.error_body("InternalServerError", "injected")] if operation == "DeleteItem"
      end
    end

    def logged_in(server)
      cookie = store_request(server).cookie
      expect(store_request(server, cookie: cookie).body).to eq("2")
      cookie
    end

    [false, true].each do |locking|
      it "clears the cookie and refuses the stolen copy once DynamoDB answers#{" (locking)" if locking}" do
        server_a = app(**options, enable_locking: locking)
        server_b = app(**options, enable_locking: locking) # another process
        cookie = logged_in(server_a)

        failing_deletes
        logout = store_request(server_a, "/logout", cookie: cookie)
        expect(logout.status).to eq(200)
        expect(logout.body).to eq("done")
        expect(logout.errors).to match(/ServiceError/)
        expect(cookie_header(logout)).to match(/\Arack\.session=;/).and match(/max-age=0/i)
        expect(raw_item(cookie)).not_to be_nil # DynamoDB refused the delete

        # The stolen copy, at the process that took the logout, while the
        # deletes still fail: refused.
        stolen = store_request(server_a, cookie: cookie)
        expect(stolen.body).to eq("1")
        expect(stolen.cookie).not_to eq(cookie)

        # DynamoDB answers again: the next request this process serves
        # (anybody's: here a new visitor's) deletes it, and every server
        # refuses the stolen copy.
        proxy.on_request { nil }
        store_request(server_a)
        expect(raw_item(cookie)).to be_nil
        again = store_request(server_b, cookie: cookie)
        expect(again.body).to eq("1")
        expect(again.cookie).not_to eq(cookie)
      end
    end

    it "without reading the session first: the same, and deleted at the stolen copy's own request" do
      server = app(**options)
      cookie = logged_in(server)
      failing_deletes
      logout = store_request(server, "/blind-logout", cookie: cookie)
      expect(cookie_header(logout)).to match(/\Arack\.session=;/)
      proxy.on_request { nil }
      stolen = store_request(server, cookie: cookie)
      expect(stolen.body).to eq("1")
      expect(raw_item(cookie)).to be_nil
    end

    it "replaces the cookie on reset_session, and refuses the old one" do
      server = app(**options)
      cookie = logged_in(server)
      failing_deletes
      reset = store_request(server, "/reset", cookie: cookie)
      expect(reset.status).to eq(200)
      expect(reset.cookie).not_to be_nil
      expect(reset.cookie).not_to eq(cookie)
      expect(reset.errors).to match(/ServiceError/)
      proxy.on_request { nil }
      expect(store_request(server, cookie: cookie).body).to eq("1")
      expect(raw_item(cookie)).to be_nil
    end

    it "raises with raise_errors, and still refuses the session afterwards" do
      server = app(**options, raise_errors: true)
      cookie = logged_in(server)
      failing_deletes
      expect { store_request(server, "/logout", cookie: cookie) }.to raise_error(dynamo::Errors::ServiceError)
      expect(store_request(server, cookie: cookie).body).to eq("1")
    end
  end

  describe "instrumentation subscribers" do
    let(:locking) { { enable_locking: true, lock_retry_delay: 50, lock_max_wait_time: 1 } }

    before { dynamo::Warnings.forget!(:subscriber) }

    def notifications(pattern, listener)
      subscriber = ActiveSupport::Notifications.subscribe(pattern, listener)
      yield
    ensure
      ActiveSupport::Notifications.unsubscribe(subscriber) if subscriber
    end

    # An ActiveSupport listener object with start and finish.
    def listener(on_start: nil, on_finish: nil)
      Class.new do
        define_method(:start) { |_name, _id, payload| on_start&.call(payload) }
        define_method(:finish) { |_name, _id, payload| on_finish&.call(payload) }
      end.new
    end

    [{}, { enable_locking: true, lock_retry_delay: 50, lock_max_wait_time: 1 }].each do |opts|
      it "one that freezes the payload changes nothing#{" (locking)" if opts[:enable_locking]}" do
        cookie = store_request(counter(**opts)).cookie
        notifications(/aws_sessionstore_dynamodb\z/, listener(on_start: :freeze.to_proc)) do
          responses = []
          expect { 2.times { responses << store_request(counter(**opts), cookie: cookie) } }
            .not_to output.to_stderr
          expect(responses.map(&:body)).to eq(%w[2 3])
          expect(responses.map(&:cookie)).to all(be_nil)
          expect(responses.map(&:errors)).to all(eq(""))
          expect(raw_item(cookie)).not_to have_key("locked_at")
        end
      end
    end

    it "one that mutates its payload changes no other subscriber's, nor the store's" do
      seen = []
      dynamo::Instrumentation.subscribe(:read) { |event| seen << event.payload[:outcome] }
      cookie = store_request(counter).cookie
      notifications("read.aws_sessionstore_dynamodb",
                    listener(on_start: ->(p) { p.clear }, on_finish: ->(p) { p.replace(outcome: :bogus) })) do
        expect(store_request(counter, cookie: cookie).body).to eq("2")
      end
      expect(seen).to eq([:found])
    end

    it "a plain one raising NotImplementedError on lock_wait: the request goes on, the lock is released" do
      cookie = store_request(counter(**locking)).cookie
      dynamo::Instrumentation.subscribe(:lock_wait) { raise NotImplementedError, "not here" }
      response = nil
      expect { response = store_request(counter(**locking), cookie: cookie) }
        .to output(/subscriber raised NotImplementedError: not here.*the store went on/).to_stderr
      expect(response.status).to eq(200)
      expect(response.body).to eq("2")
      expect(raw_item(cookie)).not_to have_key("locked_at")
    end

    it "an ActiveSupport one raising a custom Exception on lock_wait: the same" do
      custom = Class.new(Exception) # rubocop:disable Lint/InheritException
      cookie = store_request(counter(**locking)).cookie
      raising = listener(on_finish: ->(_) { raise custom, "custom" })
      notifications("lock_wait.aws_sessionstore_dynamodb", raising) do
        response = nil
        expect { response = store_request(counter(**locking), cookie: cookie) }
          .to output(/subscriber raised/).to_stderr
        expect(response.body).to eq("2")
        expect(raw_item(cookie)).not_to have_key("locked_at")
      end
    end

    it "a signal raised in one still stops the request, and the lock taken is released" do
      cookie = store_request(counter(**locking)).cookie
      dynamo::Instrumentation.subscribe(:lock_wait) { raise Interrupt }
      expect { store_request(counter(**locking), cookie: cookie) }.to raise_error(Interrupt)
      expect(raw_item(cookie)).not_to have_key("locked_at")
    end
  end

  describe "a hashed_keys rollout" do
    # A session moved to its hashed key by a server with hashed_keys on.
    def moved_session
      cookie = store_request(counter).cookie
      expect(store_request(counter(hashed_keys: true), cookie: cookie).body).to eq("2")
      expect(keys).to eq([hashed(cookie)])
      cookie
    end

    %w[/logout /blind-logout].each do |path|
      it "a logout at a server still off ends a moved session everywhere (#{path})" do
        cookie = moved_session
        store_request(app, path, cookie: cookie)
        expect(keys).to be_empty
        expect(store_request(counter(hashed_keys: true), cookie: cookie).body).to eq("1")
      end
    end

    it "a renew at a server still off leaves no copy under the hashed key" do
      cookie = moved_session
      store_request(app, "/renew", cookie: cookie)
      expect(keys).not_to include(hashed(cookie))
      expect(store_request(counter(hashed_keys: true), cookie: cookie).body).to eq("1")
    end

    it "switched back off: a logout ends sessions under either hashed scheme" do
      cookie = store_request(counter(hashed_keys: true)).cookie
      now = Time.now.to_f.to_s
      other = signed(SecureRandom.hex(16))
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => first_scheme(other) }, "data" => { "S" => '{"n":5}' },
                                        "created_at" => { "S" => now }, "updated_at" => { "S" => now })
      [cookie, other].each { |c| store_request(app, "/blind-logout", cookie: c) }
      expect(keys).to be_empty
    end
  end

  describe "a v0.5 updated_at with more digits than a Float holds" do
    it "is compared as stored: the session moves to its hashed key and its saves land" do
      cookie = signed(SecureRandom.hex(16))
      stamp = "#{Time.now.to_i}.1234567890123456789" # a Float keeps ~17 digits
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => cookie }, "data" => { "S" => '{"n":5}' },
                                        "created_at" => { "N" => stamp }, "updated_at" => { "N" => stamp })
      expect(store_request(counter(hashed_keys: true), cookie: cookie).body).to eq("6")
      expect(keys).to eq([hashed(cookie)])
      moved = raw_item(hashed(cookie))
      expect(moved["created_at"]).to eq("S" => stamp) # carried over digit for digit
      expect(store_request(counter(hashed_keys: true), cookie: cookie).body).to eq("7")
    end

    it "is compared as stored with locking too" do
      cookie = signed(SecureRandom.hex(16))
      stamp = "#{Time.now.to_i}.9876543210987654321"
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => cookie }, "data" => { "S" => '{"n":1}' },
                                        "created_at" => { "N" => stamp }, "updated_at" => { "N" => stamp })
      options = { hashed_keys: true, enable_locking: true }
      expect(store_request(counter(**options), cookie: cookie).body).to eq("2")
      expect(keys).to eq([hashed(cookie)])
      expect(store_request(counter(**options), cookie: cookie).body).to eq("3")
    end
  end

  describe "a lock stamped in the future" do
    let(:options) { { enable_locking: true, lock_retry_delay: 50, lock_max_wait_time: 0.5, lock_expiry_time: 2000 } }

    def lock_at(cookie, stamp)
      raw_dynamodb.call("UpdateItem", "TableName" => table_name, "Key" => { "session_id" => { "S" => cookie } },
                                      "UpdateExpression" => "SET locked_at = :l",
                                      "ExpressionAttributeValues" => { ":l" => { "S" => stamp } })
    end

    it "more than lock_expiry_time ahead: taken over at once, and the event says why" do
      cookie = store_request(counter(**options)).cookie
      lock_at(cookie, (Time.now.to_f + 3600).to_s)
      takeovers = []
      dynamo::Instrumentation.subscribe(:lock_wait) { |event| takeovers << event.payload[:takeover] }
      response = store_request(counter(**options), cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.body).to eq("2")
      expect(takeovers).to eq([:future])
      expect(raw_item(cookie)).not_to have_key("locked_at")
    end

    it "within lock_expiry_time ahead: still held (a clock a little fast)" do
      cookie = store_request(counter(**options)).cookie
      lock_at(cookie, (Time.now.to_f + 1.5).to_s)
      expect { store_request(counter(**options), cookie: cookie) }
        .to raise_error(dynamo::Errors::LockWaitTimeoutError)
    end

    it "an expired one is reported as expired" do
      cookie = store_request(counter(**options)).cookie
      lock_at(cookie, (Time.now.to_f - 3600).to_s)
      takeovers = []
      dynamo::Instrumentation.subscribe(:lock_wait) { |event| takeovers << event.payload[:takeover] }
      expect(store_request(counter(**options), cookie: cookie).body).to eq("2")
      expect(takeovers).to eq([:expired])
    end
  end

  describe "one deadline per request" do
    let(:proxy) do
      skip_without_toxiproxy
      CountingProxy.new(faults: true)
    end
    let(:options) do
      { endpoint: proxy.endpoint, enable_locking: true, operation_timeout: 1, max_attempts: 1, lock_expiry_time: 2000 }
    end

    after { proxy.stop }

    # Reads (and locks) the session, then DynamoDB stops answering before
    # the save: every call from then on reaches it 3 s late, past
    # operation_timeout.
    def outage_after_read(env)
      env["rack.session"]["n"]
      proxy.reset!
      proxy.delay_all(3)
      env["rack.session"]["n"] = 9
      [200, { "content-type" => "text/plain" }, ["ok"]]
    end

    it "a locked request whose save times out makes no second call (the lock is left to expire)" do
      cookie = store_request(app(**options)).cookie
      response = store_request(middleware(method(:outage_after_read), **options), cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.errors).to match(/TimeoutError/)
      # The save, and nothing after it: no release waiting out a second timeout.
      expect(proxy.operations).to eq(["UpdateItem"])
    end

    it "a logout after a failed read makes no second call either, and still ends the session" do
      server = app(**options.merge(enable_locking: false))
      cookie = logged_in_through(server)
      proxy.delay_all(3)
      response = store_request(server, "/logout", cookie: cookie)
      expect(response.status).to eq(200)
      expect(proxy.operations).to eq(["GetItem"])
      expect(cookie_header(response)).to match(/\Arack\.session=;/)
      proxy.delay_all(nil)
      expect(store_request(server, cookie: cookie).body).to eq("1")
    end

    def logged_in_through(server)
      cookie = store_request(server).cookie
      proxy.reset!
      cookie
    end
  end

  describe "migrate's state file and summary" do
    let(:state) { File.join(Dir.mktmpdir("migrate-state"), "state.json") }

    def migrate(**run)
      dynamo::Migration.migrate(store_options.merge(state_file: state).merge(run))
    end

    def put(key, data, timestamps)
      now = Time.now.to_f
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => key }, "data" => { "S" => data },
                                        "created_at" => { timestamps => now.to_s },
                                        "updated_at" => { timestamps => now.to_s })
    end

    def state_with(fields)
      File.write(state, JSON.generate({ "version" => 1, "table" => table_name, "key_name" => "session_id",
                                        "dry_run" => false, "allow_marshal" => false, "scanned" => 100,
                                        "start_key_sha256" => Digest::SHA256.hexdigest("k"),
                                        "start_key" => "k" }.merge(fields)))
    end

    {
      { "start_key" => 42 } => /start_key must be a non-empty String.*\(is an Integer\)/,
      { "scanned" => "lots" } => /scanned must be an Integer of 0 or more \(is a String\)/,
      { "scanned" => -1 } => /scanned must be an Integer of 0 or more \(is negative\)/,
      { "dry_run" => "no" } => /dry_run must be true or false \(is a String\)/,
      { "start_key_sha256" => nil } => /start_key_sha256 must be 64 hex digits \(is missing\)/,
      { "start_key" => "other" } => /start_key_sha256 must be the SHA-256 of start_key/,
      { "key_name" => "id" } => /made for key "id", not "session_id"/
    }.each do |fields, message|
      it "refuses #{fields.inspect} in one line, and changes nothing" do
        put(signed("a" * 32), '{"n":1}', "N")
        before = all_items
        state_with(fields)
        expect { migrate }.to raise_error(dynamo::Errors::ConfigurationError) { |error|
          expect(error.message).to match(message)
          expect(error.message.lines.size).to eq(1)
        }
        expect(all_items).to eq(before)
      end
    end

    it "counts Marshal data it keeps as such, never as already v4" do
      put(signed("a" * 32), [Marshal.dump("n" => 1)].pack("m*"), "S") # v4 timestamps, Marshal data
      put(signed("b" * 32), '{"n":2}', "S")
      result = migrate
      expect(result.to_h).to include(scanned: 2, v4: 1, marshal_data: 1, marshal_kept: 1, rewritten: 0)
      expect(result.summary).to include("already v4 1", "Marshal kept 1")
    end
  end

  describe "data nested deeper than the stack allows" do
    let(:levels) { 200_000 }

    it "is a corrupt session through the handler (JSON): fresh session, item untouched" do
      cookie = signed(SecureRandom.hex(16))
      now = Time.now.to_f.to_s
      item = { "session_id" => { "S" => cookie }, "data" => { "S" => "{\"a\":#{"[" * levels}#{"]" * levels}}" },
               "created_at" => { "S" => now }, "updated_at" => { "S" => now } }
      raw_dynamodb.put_item(table_name, item)
      response = store_request(counter, cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.body).to eq("1")
      expect(response.cookie).not_to eq(cookie)
      expect(response.errors).to match(/CorruptSessionError.*nested deeper than 1000 levels/)
      expect(raw_item(cookie)).to eq(item)
      expect { store_request(counter(raise_errors: true), cookie: cookie) }
        .to raise_error(dynamo::Errors::CorruptSessionError)
    end

    it "is a corrupt session through the handler (Marshal), with locking the lock released" do
      cookie = signed(SecureRandom.hex(16))
      now = Time.now.to_f.to_s
      stream = "\x04\b{\x06I\"\x06a\x06:\x06ET#{"[\x06" * (levels / 2)}[\x00".b # Base64 fits in an item
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => cookie }, "data" => { "S" => [stream].pack("m*") },
                                        "created_at" => { "S" => now }, "updated_at" => { "S" => now })
      response = store_request(counter(serializer: :marshal, enable_locking: true), cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.body).to eq("1")
      expect(response.errors).to match(/CorruptSessionError/)
      expect(raw_item(cookie)).not_to have_key("locked_at")
      expect(raw_item(cookie)["data"]).to eq("S" => [stream].pack("m*"))
    end
  end
end
