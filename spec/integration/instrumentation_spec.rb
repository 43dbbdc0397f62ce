# frozen_string_literal: true

# Instrumentation of what only DynamoDB shows: the SDK's retries as the
# native client counts them (throttling through a proxy), and a garbage
# collection run's event with its counters. The events of every call the
# middleware makes run on the in-memory client
# (spec/unit/aws/session_store/dynamo_db/rack_middleware/instrumentation_spec.rb).

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"

RSpec.describe Aws::SessionStore::DynamoDB::Instrumentation do
  include_context "with a session table"
  include StoreRequestHelpers

  let(:proxy) { CountingProxy.new(DynamoDBLocalHelper.endpoint) }
  let(:events) { [] }
  let(:store) do
    Aws::SessionStore::DynamoDB::RackMiddleware.new(
      StoreRequestHelpers::COUNTER_APP, store_options(endpoint: proxy.endpoint, touch_interval: 0, max_stale: 3600)
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

  it "reports a garbage collection run with its counters" do
    record(:gc)
    Aws::SessionStore::DynamoDB::GarbageCollection.collect_garbage(store_options(max_stale: 3600))
    expect(events.size).to eq(1)
    expect(events.first.payload).to include(table: table_name, outcome: :collected, scanned: 0, deleted: 0)
  end
end
