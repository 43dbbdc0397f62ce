# frozen_string_literal: true

# Instrumentation through the middleware on the in-memory client: an event
# for every native call, through a plain Ruby subscriber and through
# ActiveSupport::Notifications, with the call's outcome, bytes and the
# client's counts (attempts, retries, consumed capacity: asked for only
# while someone listens), and never a session id or data. A GC run's event
# is in spec/integration/instrumentation_spec.rb.

require "aws-sessionstore-dynamodb-rs"
require "active_support/notifications"
require_relative "../../../../../support/memory_store"

RSpec.describe Aws::SessionStore::DynamoDB::Instrumentation do
  include_context "store on the memory client"

  let(:events) { [] }
  let(:extra) { {} }
  let(:store) do
    Aws::SessionStore::DynamoDB::RackMiddleware.new(
      StoreRequestHelpers::COUNTER_APP, store_options({ touch_interval: 0, max_stale: 3600 }.merge(extra))
    )
  end

  after { described_class.reset! }

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
    }, store_options(max_stale: 3600))
    store_request(renewing, cookie: cookie)

    names = events.map(&:name)
    # A renew deletes under every key the session may have (3 deletes).
    expect(names).to eq(%w[write read write read delete delete delete write].map { |n| "#{n}.aws_sessionstore_dynamodb" })
    first_write, read = events.first(2).map(&:payload)
    expect(first_write).to include(table: table_name, outcome: :written, bytes: '{"n":1}'.bytesize,
                                   calls: 1, attempts: 1, retries: 0)
    expect(read).to include(outcome: :found, bytes: '{"n":1}'.bytesize, calls: 1, consumed_capacity: Float)
    # The item is under its clear id; the hashed schemes' keys hold none.
    expect(events.last(4).first(3).map { |event| event.payload[:outcome] }).to eq(%i[deleted missing missing])
    expect(events.map(&:duration)).to all(be > 0)
    expect(strings_in(events.map(&:payload))).to eq([table_name] * events.size)
    expect(events.map(&:payload).flat_map(&:keys).uniq)
      .to contain_exactly(:table, :outcome, :bytes, :calls, :attempts, :retries, :consumed_capacity)
  end

  it "asks the client for counts and capacity only while somebody listens" do
    cookie = store_request(store).cookie
    store_request(store, cookie: cookie)
    expect(client.requests.map { |_, request| request.instrument }).to all(be_falsey)
    record(:read)
    client.requests.clear
    store_request(store, cookie: cookie)
    expect(requests_of(:get_item).map(&:instrument)).to eq([true])
    expect(requests_of(:save_session).map(&:instrument)).to all(be_falsey) # writes: nobody listens
    expect(events.map(&:name)).to eq(["read.aws_sessionstore_dynamodb"])
  end

  context "with a client that retried, then one that gave up" do
    let(:client) do
      Class.new(MemoryClient) do
        attr_accessor :give_up

        def get_item(request)
          raise Aws::SessionStore::DynamoDB::Errors::ThrottlingError, "slow down" if give_up

          value, stats = super
          [value, stats.merge(attempts: 2, retries: 1)]
        end
      end.new
    end

    it "reports the client's retries, and a call that gave up as an error with its class" do
      cookie = store_request(store).cookie
      record(:read)
      store_request(store, cookie: cookie)
      expect(events.last.payload).to include(outcome: :found, calls: 1, attempts: 2, retries: 1)

      client.give_up = true
      store_request(store, cookie: cookie)
      expect(events.last.payload).to include(outcome: :error,
                                             error: "Aws::SessionStore::DynamoDB::Errors::ThrottlingError")
    end
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

  it "goes through ActiveSupport::Notifications when it is loaded" do
    seen = []
    subscriber = ActiveSupport::Notifications.subscribe("read.aws_sessionstore_dynamodb") do |*args|
      seen << ActiveSupport::Notifications::Event.new(*args)
    end
    cookie = store_request(store).cookie
    store_request(store, cookie: cookie)
    expect(seen.size).to eq(1)
    expect(seen.first.payload).to include(table: table_name, outcome: :found, calls: 1, consumed_capacity: Float)
  ensure
    ActiveSupport::Notifications.unsubscribe(subscriber) if subscriber
  end
end
