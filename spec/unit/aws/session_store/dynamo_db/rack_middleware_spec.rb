# frozen_string_literal: true

# The middleware's contract without DynamoDB: the store and the locking
# strategies against an in-memory native client (spec/support/memory_client.rb)
# given to them through Native.client_factory, the one place they get a
# client from (the shared context in spec/support/memory_store.rb). More
# of it, by area, is in rack_middleware/ and locking/; what only DynamoDB
# shows stays in spec/integration.

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/memory_store"

RSpec.describe Aws::SessionStore::DynamoDB::RackMiddleware do
  include_context "store on the memory client"

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:secret) { StoreSpecHelpers::SECRET }

  def store(app = StoreRequestHelpers::COUNTER_APP, **options)
    described_class.new(app, store_options({ max_stale: 3600 }.merge(options)))
  end

  it "loads and writes: a new session is written once, then read and updated" do
    first = store_request(store)
    expect(first.body).to eq("1")
    expect(stored(first.cookie)).to include("data" => '{"n":1}', "created_at" => String, "expire_at" => Integer)
    second = store_request(store, cookie: first.cookie)
    expect(second.body).to eq("2")
    expect(second.cookie).to be_nil
    expect(stored(first.cookie)["data"]).to eq('{"n":2}')
    expect(client.calls.map(&:first)).to eq(%i[save_session get_item save_session])
  end

  it "writes nothing for an unchanged session inside the touch interval" do
    cookie = store_request(store).cookie
    client.calls.clear
    expect(store_request(store, "/read", cookie: cookie).body).to eq("1")
    expect(client.calls.map(&:first)).to eq([:get_item])
  end

  it "starts a fresh session for a forged cookie without reading anything" do
    response = store_request(store, cookie: "#{"0" * 32}--#{"a" * 32}")
    expect(response.body).to eq("1")
    expect(response.cookie).not_to start_with("0" * 32)
    expect(client.calls.map(&:first)).to eq([:save_session])
  end

  it "deletes on drop, and a session dropped meanwhile is not written back" do
    cookie = store_request(store).cookie
    dropping = store(lambda { |env|
      env["rack.session"]["n"]
      env["rack.session.options"][:drop] = true
      [200, {}, ["bye"]]
    })
    store_request(dropping, cookie: cookie)
    expect(client.keys).to be_empty
    # A request that read it before the drop cannot resurrect it.
    loaded = store(lambda { |env|
      env["rack.session"]["n"]
      client.delete_item(dynamo::Native::ItemRequest.new(key: cookie))
      env["rack.session"]["n"] = 5
      [200, {}, ["late"]]
    })
    cookie = store_request(store).cookie
    expect(store_request(loaded, cookie: cookie).errors).to include("Content dropped")
    expect(client.keys).to be_empty
  end

  it "renews: a new id, the old item gone, created_at carried over" do
    cookie = store_request(store).cookie
    created = stored(cookie)["created_at"]
    renewing = store(lambda { |env|
      env["rack.session"]["n"] = 9
      env["rack.session.options"][:renew] = true
      [200, {}, ["ok"]]
    })
    renewed = store_request(renewing, cookie: cookie).cookie
    expect(renewed).not_to eq(cookie)
    expect(client.keys).to eq([renewed])
    expect(stored(renewed)).to include("data" => '{"n":9}', "created_at" => created)
  end

  it "hands store errors to the error handler, which logs and goes on (raise_errors: false)" do
    failing = Class.new(MemoryClient) do
      def get_item(_request)
        raise Aws::SessionStore::DynamoDB::Errors::ThrottlingError, "slow down"
      end
    end.new
    dynamo::Native.client_factory = ->(_options) { failing }
    cookie = "#{OpenSSL::HMAC.hexdigest("MD5", secret, "a" * 32)}--#{"a" * 32}"
    response = store_request(store, cookie: cookie)
    expect(response.status).to eq(200)
    expect(response.errors).to include("ThrottlingError: slow down")
    expect(response.cookie).to be_nil # a passing failure keeps the cookie
  end

  it "raises store errors with raise_errors: true" do
    raising = store(raise_errors: true, max_stale: 3600)
    allow(client).to receive(:save_session).and_raise(dynamo::Errors::ServiceError, "boom")
    expect { store_request(raising) }.to raise_error(dynamo::Errors::ServiceError, "boom")
  end

  it "refuses a session past the item limit with SessionTooLargeError, writing nothing" do
    big = store(lambda { |env|
                  env["rack.session"]["blob"] = "x" * 500_000
                  [200, {}, ["ok"]]
                })
    response = store_request(big)
    expect(response.errors).to include("SessionTooLargeError")
    expect(client.keys).to be_empty
  end

  describe "with locking" do
    let(:options) { { enable_locking: true, lock_retry_delay: 20, lock_max_wait_time: 0.3 } }

    it "takes the lock on read and releases it with the save" do
      cookie = store_request(store(**options)).cookie
      expect(store_request(store(**options), cookie: cookie).body).to eq("2")
      expect(stored(cookie)).not_to have_key("locked_at")
      expect(client.calls.map(&:first).last(2)).to eq(%i[lock_session save_session])
    end

    it "releases the lock when the app raises" do
      cookie = store_request(store(**options)).cookie
      raising = store(lambda { |env|
                        env["rack.session"]["n"]
                        raise "app bug"
                      }, **options)
      expect { store_request(raising, cookie: cookie) }.to raise_error(RuntimeError, "app bug")
      expect(stored(cookie)).not_to have_key("locked_at")
    end

    it "waits for a held lock, then gives up with LockWaitTimeoutError after lock_max_wait_time" do
      cookie = store_request(store(**options)).cookie
      client.put(cookie, stored(cookie).merge("locked_at" => Time.now.to_f.to_s))
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      expect { store_request(store(**options, lock_expiry_time: 60_000), cookie: cookie) }
        .to raise_error(dynamo::Errors::LockWaitTimeoutError)
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be_between(0.25, 2)
      expect(client.calls.count { |method, _| method == :lock_session }).to be > 3
    end

    it "takes over a lock older than lock_expiry_time" do
      cookie = store_request(store(**options)).cookie
      client.put(cookie, stored(cookie).merge("locked_at" => (Time.now.to_f - 10).to_s))
      expect(store_request(store(**options), cookie: cookie).body).to eq("2")
      expect(stored(cookie)).not_to have_key("locked_at")
    end
  end
end
