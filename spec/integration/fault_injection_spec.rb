# frozen_string_literal: true

# Faults between the store and DynamoDB: throttling, a stalled server,
# dropped connections and outages. The store talks to DynamoDB Local only
# through CountingProxy (spec/support/counting_proxy.rb), whose hook answers
# for DynamoDB, stalls, or hangs up; for an outage, Toxiproxy in front of it
# (go_down/come_back, faults: true) cuts every connection and refuses new
# ones. A real DynamoDB Local killed and restarted is in
# spec/outage_restart_spec.rb (it starts JVMs, so it has a file of its own).
#
# The proxy runs in this process, in Ruby threads. That is sound because
# every native DynamoDB call releases the GVL while it waits (see
# ext/README.md), so the proxy's threads run meanwhile; the hooks can then be
# plain blocks sharing state with the example, which a separate process
# could not offer without an IPC channel.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"

RSpec.describe "Fault injection between the store and DynamoDB" do
  include_context "with a session table"
  include StoreRequestHelpers

  let(:errors_mod) { Aws::SessionStore::DynamoDB::Errors }
  include_context "through a counting proxy"
  # Three attempts per call, so the give-up cases are quick; the defaults
  # are exercised in spec/sdk_client_spec.rb.
  let(:extra) { { max_attempts: 3 } }

  # "/" increments session["n"]; "/read" only reads it.
  let(:inner_app) { StoreRequestHelpers::COUNTER_APP }

  # touch_interval: 0 so that every request with a session writes it.
  let(:store) do
    Aws::SessionStore::DynamoDB::RackMiddleware.new(
      inner_app, store_options({ endpoint: proxy.endpoint, touch_interval: 0 }.merge(extra))
    )
  end

  def request(path = "/", cookie: nil)
    store_request(store, path, cookie: cookie)
  end

  # A session holding n = count, written through the proxy.
  def session_with(count)
    cookie = request.cookie
    (count - 1).times { request(cookie: cookie) }
    expect(stored_n(cookie)).to eq(count)
    cookie
  end

  def stored_n(cookie)
    item = raw_item(cookie)
    item && JSON.parse(item["data"]["S"])["n"]
  end

  # A passing fault on read (doc/operations.md, "Failure behaviour"): the request runs
  # with an empty stand-in session, the visitor's cookie is kept (no
  # Set-Cookie) and nothing is written; the error is one line in
  # rack.errors, and Rack adds its warning that the (stand-in) session was
  # not saved.
  def expect_stand_in(response, error_line)
    expect(response.status).to eq(200)
    expect(response.cookie).to be_nil
    expect(response.errors.lines.first).to match(error_line)
    expect(response.errors.lines.drop(1)).to all(eq(StoreRequestHelpers::RACK_SAVE_WARNING))
  end

  def throttle_body(code = "ThrottlingException")
    CountingProxy.error_body(code, "Rate of requests exceeds the allowed throughput (injected)")
  end

  # Answers the first `failures` requests of `operation` with `answer`.
  def fail_first(operation, failures, answer)
    seen = 0
    guard = Mutex.new
    proxy.on_request do |op, _body|
      next nil unless op == operation

      guard.synchronize { (seen += 1) <= failures } ? answer : nil
    end
  end

  describe "throttling (HTTP 400 with a throttling code)" do
    it "retries a throttled read with backoff and succeeds on the third attempt (max_attempts 3)" do
      cookie = session_with(1)
      proxy.reset!
      fail_first("GetItem", 2, [400, throttle_body])
      response = request(cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.body).to eq("2")
      expect(response.errors).to be_empty
      expect(proxy.operations).to eq(%w[GetItem GetItem GetItem UpdateItem])
      expect(stored_n(cookie)).to eq(2)
    end

    it "retries a throttled save (ProvisionedThroughputExceededException) and writes it" do
      cookie = session_with(1)
      proxy.reset!
      fail_first("UpdateItem", 2, [400, throttle_body("ProvisionedThroughputExceededException")])
      response = request(cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.errors).to be_empty
      expect(proxy.operations).to eq(%w[GetItem UpdateItem UpdateItem UpdateItem])
      expect(proxy.bodies("UpdateItem").map { |b| b["ExpressionAttributeValues"][":d"] }.uniq.size).to eq(1)
      expect(stored_n(cookie)).to eq(2)
    end

    it "gives up after max_attempts: ThrottlingError is soft, the request goes on with an empty stand-in session, " \
       "the cookie and the stored session are kept" do
      cookie = session_with(3)
      proxy.reset!
      proxy.on_request { |op, _| [400, throttle_body] if op == "GetItem" }
      response = request(cookie: cookie)
      expect_stand_in(response, "Aws::SessionStore::DynamoDB::Errors::ThrottlingError: ThrottlingException: " \
                                "Rate of requests exceeds the allowed throughput (injected)\n")
      expect(response.body).to eq("1") # the app saw an empty session
      expect(proxy.operations).to eq(%w[GetItem] * 3) # and nothing was written
      expect(response.elapsed).to be < 5 + 3 # operation_timeout (default 5 s), generous slack
      expect(stored_n(cookie)).to eq(3)

      proxy.on_request # throttling is over: the same cookie finds its session
      expect(request(cookie: cookie).body).to eq("4")
    end

    it "gives up on a save after max_attempts without touching the stored session" do
      cookie = session_with(3)
      proxy.reset!
      proxy.on_request { |op, _| [400, throttle_body("ProvisionedThroughputExceededException")] if op == "UpdateItem" }
      response = request(cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.body).to eq("4")
      expect(response.errors).to include("Aws::SessionStore::DynamoDB::Errors::ThrottlingError: " \
                                         "ProvisionedThroughputExceededException")
      expect(proxy.count("UpdateItem")).to eq(3)
      expect(stored_n(cookie)).to eq(3)
    end

    context "with max_attempts: 2" do
      let(:extra) { { max_attempts: 2 } }

      it "makes exactly two attempts" do
        cookie = session_with(1)
        proxy.reset!
        fail_first("GetItem", 1, [400, throttle_body])
        expect(request("/read", cookie: cookie).body).to eq("1")
        expect(proxy.count("GetItem")).to eq(2)

        proxy.reset!
        fail_first("GetItem", 2, [400, throttle_body])
        response = request("/read", cookie: cookie)
        expect(response.body).to eq("")
        expect(response.errors).to include("ThrottlingError")
        expect(proxy.count("GetItem")).to eq(2)
      end
    end

    context "with max_attempts: 1" do
      let(:extra) { { max_attempts: 1 } }

      it "does not retry" do
        cookie = session_with(1)
        proxy.reset!
        fail_first("GetItem", 1, [400, throttle_body])
        response = request("/read", cookie: cookie)
        expect(response.errors).to include("ThrottlingError")
        expect(proxy.count("GetItem")).to eq(1)
        expect(request("/read", cookie: cookie).body).to eq("1") # the next request is fine
      end
    end

    context "with raise_errors: true" do
      let(:extra) { { raise_errors: true, max_attempts: 3 } }

      it "raises ThrottlingError with DynamoDB's code and status" do
        cookie = session_with(1)
        proxy.on_request { |op, _| [400, throttle_body] if op == "GetItem" }
        expect { request("/read", cookie: cookie) }.to raise_error(errors_mod::ThrottlingError) { |e|
          expect(e.code).to eq("ThrottlingException")
          expect(e.status_code).to eq(400)
          expect(e).to be_a(errors_mod::ServiceError)
        }
      end
    end
  end

  describe "a stalled server" do
    let(:extra) { { operation_timeout: 1 } }

    it "fails a read after about operation_timeout with TimeoutError through the handler, no hang" do
      cookie = session_with(2)
      proxy.on_request { |op, _| 30 if op == "GetItem" }
      response = request("/read", cookie: cookie)
      expect_stand_in(response, /\AAws::SessionStore::DynamoDB::Errors::TimeoutError: .*timed out/)
      expect(response.body).to eq("")
      expect(response.elapsed).to be_between(0.8, 4)
      expect(stored_n(cookie)).to eq(2)
    end

    it "fails a save after about operation_timeout, keeping the stored session, then recovers" do
      cookie = session_with(2)
      proxy.on_request { |op, _| 30 if op == "UpdateItem" }
      response = request(cookie: cookie)
      expect(response.status).to eq(200)
      expect(response.errors).to include("TimeoutError")
      expect(response.elapsed).to be_between(0.8, 4)
      expect(stored_n(cookie)).to eq(2)

      proxy.on_request # the server answers again
      response = request(cookie: cookie)
      expect(response.errors).to be_empty
      expect(response.body).to eq("3")
      expect(stored_n(cookie)).to eq(3)
    end

    it "answers concurrent requests each within the bound (the wait holds no lock and no GVL)" do
      cookies = Array.new(3) { session_with(1) }
      proxy.on_request { |op, _| 30 if op == "GetItem" }
      started = monotonic
      responses = cookies.map { |c| Thread.new { request("/read", cookie: c) } }.map(&:value)
      responses.each { |response| expect_stand_in(response, /TimeoutError/) }
      expect(monotonic - started).to be < 5 # not 3 x operation_timeout one after the other
    end

    context "with raise_errors: true" do
      let(:extra) { { operation_timeout: 1, raise_errors: true } }

      it "raises Errors::TimeoutError (a NetworkError)" do
        cookie = session_with(1)
        proxy.on_request { |op, _| 30 if op == "GetItem" }
        started = monotonic
        expect { request("/read", cookie: cookie) }.to raise_error(errors_mod::TimeoutError)
        expect(monotonic - started).to be < 4
      end
    end
  end

  describe "dropped connections" do
    it "retries a read whose connection was closed without an answer" do
      cookie = session_with(1)
      proxy.reset!
      fail_first("GetItem", 1, :drop)
      response = request(cookie: cookie)
      expect(response.errors).to be_empty
      expect(response.body).to eq("2")
      expect(proxy.operations).to eq(%w[GetItem GetItem UpdateItem])
    end

    it "fails cleanly with NetworkError through the handler when every attempt is dropped" do
      cookie = session_with(2)
      proxy.reset!
      proxy.on_request { |op, _| :drop if op == "GetItem" }
      response = request("/read", cookie: cookie)
      expect_stand_in(response, /\AAws::SessionStore::DynamoDB::Errors::NetworkError: /)
      expect(response.body).to eq("")
      expect(proxy.count("GetItem")).to eq(3)
      expect(response.elapsed).to be < 8
      expect(stored_n(cookie)).to eq(2)
    end

    it "retries a save of an existing session that was written but whose answer was lost" do
      cookie = session_with(1)
      proxy.reset!
      fail_first("UpdateItem", 1, :drop_after_forward)
      response = request(cookie: cookie)
      expect(response.errors).to be_empty
      expect(response.body).to eq("2")
      expect(proxy.operations).to eq(%w[GetItem UpdateItem UpdateItem])
      expect(stored_n(cookie)).to eq(2)
    end

    it "fails a new session's first save cleanly when its answer was lost (no 500)" do
      fail_first("UpdateItem", 1, :drop_after_forward)
      response = request
      expect(response.status).to eq(200)
      expect(response.body).to eq("1")
      expect(proxy.count("UpdateItem")).to eq(2)
    end

    it "keeps a new session whose first save landed but whose answer was lost (the retry is refused by attribute_not_exists)" do
      fail_first("UpdateItem", 1, :drop_after_forward)
      response = request
      expect(response.status).to eq(200)
      expect(response.errors).to be_empty
      expect(response.cookie).not_to be_nil
      expect(stored_n(response.cookie)).to eq(1)
    end
  end

  describe "an outage" do
    let(:extra) { { operation_timeout: 2 } }
    let(:proxy) do
      skip_without_toxiproxy
      CountingProxy.new(DynamoDBLocalHelper.endpoint, faults: true)
    end

    it "fails requests cleanly while the server is unreachable; sessions committed before are intact after" do
      cookies = [1, 2, 3].map { |n| session_with(n) }
      before = cookies.map { |c| raw_item(c) }

      proxy.go_down # connections refused, kept-alive ones cut
      # Refused connections are retried with backoff; on a busy machine the
      # retries can outlast operation_timeout: TimeoutError, a NetworkError.
      unreachable = /\AAws::SessionStore::DynamoDB::Errors::(Network|Timeout)Error: /
      cookies.each do |cookie|
        response = request("/read", cookie: cookie)
        expect_stand_in(response, unreachable) # the cookie is kept
        expect(response.body).to eq("")
        expect(response.elapsed).to be < 2 + 3 # operation_timeout, generous slack
      end
      response = request(cookie: cookies.first) # the app changes its stand-in session: not saved
      expect_stand_in(response, unreachable)
      expect(response.body).to eq("1")
      expect(response.errors.lines.grep(unreachable).size).to eq(1) # the read; no save was tried
      expect(response.elapsed).to be < 2 + 3

      proxy.come_back
      expect(cookies.map { |c| raw_item(c) }).to eq(before)
      expect(cookies.map { |c| request(cookie: c).body }).to eq(%w[2 3 4])
      expect(cookies.map { |c| request(cookie: c).errors }).to all(be_empty)
      expect(cookies.map { |c| stored_n(c) }).to eq([3, 4, 5])
    end
  end
end
