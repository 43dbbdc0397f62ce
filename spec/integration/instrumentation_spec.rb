# frozen_string_literal: true

# Instrumentation: events for every DynamoDB call, through a plain Ruby
# subscriber and through ActiveSupport::Notifications, with the call's
# outcome, bytes, retries and consumed capacity (asked of DynamoDB only while
# someone listens) and never a session id or data.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "active_support/notifications"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"

RSpec.describe Aws::SessionStore::DynamoDB::Instrumentation do
  include_context "with a session table"
  include StoreRequestHelpers

  let(:proxy) { CountingProxy.new(DynamoDBLocalHelper.endpoint) }
  let(:events) { [] }
  let(:extra) { {} }
  let(:store) do
    Aws::SessionStore::DynamoDB::RackMiddleware.new(
      StoreRequestHelpers::COUNTER_APP,
      store_options({ endpoint: proxy.endpoint, touch_interval: 0, max_stale: 3600 }.merge(extra))
    )
  end

  after do
    described_class.reset!
    expect(proxy.errors).to be_empty
    proxy.stop
  end

  def record(*names)
    described_class.subscribe(*names) { |event| events << event }
  end

  # Every String in a payload: none may be an id, a cookie or session data.
  def strings_in(payloads)
    payloads.flat_map { |payload| payload.values.grep(String) }
  end

  it "reports reads, writes and deletes with outcome, bytes, attempts and consumed capacity; no ids, no data" do
    record
    cookie = store_request(store).cookie
    store_request(store, cookie: cookie)
    renewing = Aws::SessionStore::DynamoDB::RackMiddleware.new(lambda { |env|
      env["rack.session"]["n"] = 9
      env["rack.session.options"][:renew] = true
      [200, {}, ["ok"]]
    }, store_options(endpoint: proxy.endpoint, max_stale: 3600))
    store_request(renewing, cookie: cookie)

    names = events.map(&:name)
    # A renew deletes under every key the session may have (3 DeleteItems).
    expect(names).to eq(%w[write read write read delete delete delete write].map { |n| "#{n}.aws_sessionstore_dynamodb" })
    first_write, read = events.first(2).map(&:payload)
    expect(first_write).to include(table: table_name, outcome: :written, bytes: '{"n":1}'.bytesize,
                                   calls: 1, attempts: 1, retries: 0)
    expect(read).to include(outcome: :found, bytes: '{"n":1}'.bytesize, calls: 1)
    expect(read[:consumed_capacity]).to be > 0
    expect(events.last(4).first(3).map(&:payload)).to all(include(outcome: :deleted))
    expect(events.map(&:duration)).to all(be > 0)
    expect(strings_in(events.map(&:payload))).to eq([table_name] * events.size)
    expect(events.map(&:payload).flat_map(&:keys).uniq)
      .to contain_exactly(:table, :outcome, :bytes, :calls, :attempts, :retries, :consumed_capacity)
  end

  it "asks DynamoDB for consumed capacity only while somebody listens" do
    cookie = store_request(store).cookie
    store_request(store, cookie: cookie)
    expect(proxy.requests.map(&:last)).to all(satisfy { |body| !body.key?("ReturnConsumedCapacity") })
    record(:read)
    proxy.reset!
    store_request(store, cookie: cookie)
    get = proxy.bodies("GetItem").first
    update = proxy.bodies("UpdateItem").first
    expect(get["ReturnConsumedCapacity"]).to eq("TOTAL")
    expect(update).not_to have_key("ReturnConsumedCapacity") # writes: nobody listens
    expect(events.map(&:name)).to eq(["read.aws_sessionstore_dynamodb"])
  end

  it "counts the SDK's retries, and reports a call that gave up as an error with its class" do
    cookie = store_request(store).cookie
    record(:read)
    throttles = 1
    guard = Mutex.new
    proxy.on_request do |op, _|
      next nil unless op == "GetItem" && guard.synchronize { (throttles -= 1) >= 0 }

      [400, CountingProxy.error_body("ThrottlingException")]
    end
    store_request(store, cookie: cookie)
    expect(events.last.payload).to include(outcome: :found, calls: 1, attempts: 2, retries: 1)

    throttles = 1_000
    failing = Aws::SessionStore::DynamoDB::RackMiddleware.new(
      StoreRequestHelpers::COUNTER_APP, store_options(endpoint: proxy.endpoint, max_stale: 3600, max_attempts: 2)
    )
    store_request(failing, cookie: cookie)
    expect(events.last.payload).to include(outcome: :error,
                                           error: "Aws::SessionStore::DynamoDB::Errors::ThrottlingError")
  end

  context "with locking" do
    let(:extra) { { enable_locking: true, lock_retry_delay: 50 } }

    it "reports the lock acquisition as lock_wait, and the save that releases it as write" do
      cookie = store_request(store).cookie
      record
      store_request(store, cookie: cookie)
      expect(events.map(&:name)).to eq(%w[lock_wait.aws_sessionstore_dynamodb write.aws_sessionstore_dynamodb])
      expect(events.first.payload).to include(outcome: :acquired, calls: 1)
    end
  end

  it "reports a garbage collection run with its counters" do
    record(:gc)
    Aws::SessionStore::DynamoDB::GarbageCollection.collect_garbage(store_options(max_stale: 3600))
    expect(events.size).to eq(1)
    expect(events.first.payload).to include(table: table_name, outcome: :collected, scanned: 0, deleted: 0)
  end

  it "goes through ActiveSupport::Notifications when it is loaded" do
    seen = []
    subscriber = ActiveSupport::Notifications.subscribe("read.aws_sessionstore_dynamodb") do |*args|
      seen << ActiveSupport::Notifications::Event.new(*args)
    end
    cookie = store_request(store).cookie
    store_request(store, cookie: cookie)
    expect(seen.size).to eq(1)
    expect(seen.first.payload).to include(table: table_name, outcome: :found, calls: 1)
    expect(seen.first.payload[:consumed_capacity]).to be > 0
  ensure
    ActiveSupport::Notifications.unsubscribe(subscriber) if subscriber
  end
end
