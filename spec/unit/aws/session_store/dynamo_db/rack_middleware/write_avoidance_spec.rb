# frozen_string_literal: true

# The native calls the middleware makes per Rack request: one get_item per
# read, one save_session per save, data sent only when it changed, nothing
# written for a new session that stays empty, nothing at all for an
# unchanged one inside the touch interval.

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../../support/memory_store"
require_relative "../../../../../support/rack_test_store"

RSpec.describe Aws::SessionStore::DynamoDB::RackMiddleware, "native calls per Rack request" do
  include_context "store on the memory client"
  include_context "through Rack::Test"

  # touch_interval: 0 writes on every request (the official behaviour); the
  # write-avoidance context below uses the default.
  let(:extra) { { touch_interval: 0 } }

  let(:inner_app) do
    lambda do |env|
      session = env["rack.session"]
      case env["PATH_INFO"]
      when "/read" then session["n"]
      when "/drop" then env["rack.session.options"][:drop] = true
      else session["n"] = session.fetch("n", 0) + 1
      end
      [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
    end
  end

  let(:store) { described_class.new(inner_app, store_options(extra)) }

  # Runs one Rack request and returns the native calls it made, as
  # [method, request] pairs.
  def calls_of(path)
    client.requests.clear
    get path
    expect(last_response.status).to eq(200)
    client.requests.dup
  end

  def of(calls, method)
    calls.select { |name, _| name == method }.map(&:last)
  end

  it "new session: one save of a new item with data, created_at and expire_at, and no read" do
    calls = calls_of("/")
    expect(calls.map(&:first)).to eq([:save_session])
    save = calls.first.last
    expect(save.to_h).to include(table: table_name, key_name: "session_id", key: cookie_value, new_session: true,
                                 data: JSON.dump("n" => 1), created_at: String, expire_at: Integer, lock: nil)
  end

  it "read without a change: one get_item, one save without data or created_at" do
    get "/"
    data = stored(cookie_value)["data"]
    calls = calls_of("/read")
    expect(last_response.body).to eq("1")
    expect(calls.map(&:first)).to eq(%i[get_item save_session])
    save = of(calls, :save_session).first
    expect(save.to_h).to include(data: nil, created_at: nil, new_session: false, expire_at: Integer)
    expect(stored(cookie_value)["data"]).to eq(data)
  end

  it "changed session: one get_item, one save rewriting data (created_at untouched)" do
    get "/"
    created = stored(cookie_value)["created_at"]
    calls = calls_of("/")
    expect(calls.map(&:first)).to eq(%i[get_item save_session])
    save = of(calls, :save_session).first
    expect(save.to_h).to include(data: JSON.dump("n" => 2), created_at: nil, new_session: false)
    expect(stored(cookie_value)["created_at"]).to eq(created)
  end

  it "a new session that stays empty: no save, no call at all" do
    expect(calls_of("/read")).to be_empty
    expect(last_response.headers["Set-Cookie"]).to be_nil
    expect(stored_keys).to be_empty
  end

  it "each find is exactly one consistent get_item of the cookie's key" do
    get "/"
    3.times do |i|
      calls = calls_of(i.even? ? "/read" : "/")
      gets = of(calls, :get_item)
      expect(gets.size).to eq(1)
      expect(gets.first.to_h).to include(table: table_name, key_name: "session_id", key: cookie_value, consistent: true)
      expect(of(calls, :save_session).size).to eq(1)
    end
    expect(stored(cookie_value)["data"]).to eq(JSON.dump("n" => 2))
  end

  it "a drop: one get_item and a delete_item per key the session may have, nothing written" do
    get "/"
    cookie = cookie_value
    calls = calls_of("/drop")
    # Its clear id and both hashed_keys schemes: a logout holds through a
    # hashed_keys rollout in either direction.
    expect(calls.map(&:first)).to eq(%i[get_item delete_item delete_item delete_item])
    expect(of(calls, :delete_item).map(&:key)).to contain_exactly(cookie, hashed(cookie), first_scheme(cookie))
    expect(stored_keys).to be_empty
  end

  context "with max_stale" do
    let(:extra) { { max_stale: 3600, touch_interval: 0 } }

    it "an unchanged read still skips data and refreshes expire_at" do
      get "/"
      save = of(calls_of("/read"), :save_session).first
      expect(save.data).to be_nil
      expect(save.expire_at).to be_within(5).of(Time.now.to_i + 3600)
      expect(stored(cookie_value)["expire_at"]).to eq(save.expire_at)
    end
  end

  context "with write avoidance (the default touch_interval)" do
    let(:extra) { { max_stale: 3600 } }

    it "writes nothing for 100 unchanged requests within the interval, then writes data changes at once" do
      get "/"
      created = stored(cookie_value)
      calls = 100.times.flat_map { calls_of("/read") }
      expect(calls.map(&:first).uniq).to eq([:get_item])
      expect(stored(cookie_value)).to eq(created)
      changed = calls_of("/")
      expect(of(changed, :save_session).size).to eq(1)
      expect(last_response.body).to eq("2")
    end

    it "keeps expire_at a touch interval past max_stale, so TTL never removes a live session early" do
      get "/"
      interval = store.config.effective_touch_interval
      expect(interval).to eq(180.0)
      expect(stored(cookie_value)["expire_at"]).to be_within(5).of(Time.now.to_i + 3600 + 180)
    end
  end

  context "with a short touch_interval" do
    let(:extra) { { touch_interval: 1 } }

    it "touches an unchanged session again once the interval has passed" do
      get "/"
      expect(of(calls_of("/read"), :save_session)).to be_empty
      sleep 1.1
      saves = of(calls_of("/read"), :save_session)
      expect(saves.size).to eq(1)
      expect(saves.first.data).to be_nil
    end
  end
end
