# frozen_string_literal: true

# The middleware through Rack::Test on the in-memory client: the item it
# writes, expire_at, the session API (clear, renew, drop, defer, skip),
# forged cookies, oversized sessions, and what it keeps out of Rack's
# cookie options.

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../../support/memory_store"
require_relative "../../../../../support/rack_test_store"

RSpec.describe Aws::SessionStore::DynamoDB::RackMiddleware do
  include_context "store on the memory client"
  include_context "through Rack::Test"

  let(:extra) { {} }

  # Increments session["n"]; other paths exercise the session API.
  let(:inner_app) do
    lambda do |env|
      req = Rack::Request.new(env)
      session = env["rack.session"]
      case req.path
      when "/clear" then session.clear
      when "/renew" then env["rack.session.options"][:renew] = true
      when "/renew-ended"
        session["n"]
        forget(session.id.public_id) # logged out elsewhere after this read
        env["rack.session.options"][:renew] = true
      when "/drop" then env["rack.session.options"][:drop] = true
      when "/read" then session["n"]
      when "/big" then session["blob"] = "x" * 500_000
      when "/options"
        return [200, { "content-type" => "text/plain" }, [env["rack.session.options"].to_hash.keys.sort.join(",")]]
      when "/new_flag"
        session["n"] = session.fetch("n", 0) + 1
        return [200, { "content-type" => "text/plain" }, [env["dynamo_db.new_session"].inspect]]
      else session["n"] = session.fetch("n", 0) + 1
      end
      [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
    end
  end

  let(:store) { described_class.new(inner_app, store_options(extra)) }

  it "keeps a counter across requests in one item of the official format" do
    3.times { get "/" }
    expect(last_response.body).to eq("3")
    item = stored(cookie_value)
    expect(item.keys.sort).to eq(%w[created_at data expire_at session_id updated_at].sort)
    expect(item).to include("session_id" => cookie_value, "data" => JSON.dump("n" => 3),
                            "created_at" => String, "updated_at" => String, "expire_at" => Integer)
    expect(Float(item["created_at"])).to be_within(60).of(Time.now.to_f)
    expect(requests_of(:save_session).map(&:table)).to all(eq(table_name))
    digest, sid = cookie_value.split("--")
    expect(digest).to eq(OpenSSL::HMAC.hexdigest("MD5", StoreSpecHelpers::SECRET, sid))
    expect(sid).to match(/\A\h{32}\z/)
  end

  context "with max_stale" do
    let(:extra) { { max_stale: 3600 } }

    it "writes expire_at as a number, now + max_stale" do
      get "/"
      expect(stored(cookie_value)["expire_at"]).to be_within(5).of(Time.now.to_i + 3600 + 180) # + touch interval (5%)
    end
  end

  context "with a cookie expire_after and no max_stale" do
    let(:extra) { { expire_after: 600 } }

    it "writes expire_at from expire_after, and sets the cookie's expiry" do
      get "/"
      expect(stored(cookie_value)["expire_at"]).to be_within(5).of(Time.now.to_i + 600 + 30) # + touch interval (5%)
      expect(last_response.headers["Set-Cookie"]).to match(/expires=/i)
    end
  end

  it "without max_stale or expire_after, sets expire_at 30 days (+ the touch interval) ahead, replacing " \
     "the official gem's 'now'" do
    get "/"
    update_stored(cookie_value, "expire_at" => Time.now.to_i)
    get "/"
    expect(stored(cookie_value)["expire_at"]).to be_within(5).of(Time.now.to_i + (30 * 86_400) + 3600)
  end

  it "sets env['dynamo_db.new_session'] = 'true' on a request whose session is new, as the official gem does" do
    get "/new_flag"
    expect(last_response.body).to eq('"true"')
    get "/new_flag"
    expect(last_response.body).to eq("nil")
    set_cookie "rack.session=#{"0" * 32}--#{"a" * 32}" # a forged id: a new session again
    get "/new_flag"
    expect(last_response.body).to eq('"true"')
  end

  it "does not write a new session that stays empty" do
    get "/read"
    expect(last_response).to be_ok
    expect(stored_keys).to be_empty
    expect(operations).to be_empty
  end

  it "persists a cleared session so a logout stays logged out" do
    2.times { get "/" }
    get "/clear"
    expect(stored(cookie_value)["data"]).to eq("{}")
    get "/read"
    expect(last_response.body).to eq("")
  end

  it "renews: a new id carries the data and created_at, the old item is gone" do
    2.times { get "/" }
    old_id = cookie_value
    created = stored(old_id)["created_at"]
    get "/renew"
    expect(cookie_value).not_to eq(old_id)
    expect(stored(old_id)).to be_nil
    new_item = stored(cookie_value)
    expect(new_item["created_at"]).to eq(created)
    expect(JSON.parse(new_item["data"])).to eq("n" => 2)
    get "/"
    expect(last_response.body).to eq("3")
  end

  it "renews nothing of a session logged out after the request read it: no new item, the cookie cleared" do
    2.times { get "/" }
    old_id = cookie_value
    expect { get "/renew-ended" }.not_to(change { requests_of(:save_session).size })
    expect(stored_keys).to eq([])
    expect(cookie_value).not_to eq(old_id)
    expect(Array(last_response.headers["Set-Cookie"]).join("\n")).to match(/\Arack\.session=;.*max-age=0/i)
    get "/read"
    expect(last_response.body).to eq("")
  end

  it "drops: the item is deleted and the cookie cleared" do
    get "/"
    old_id = cookie_value
    get "/drop"
    expect(stored(old_id)).to be_nil
    expect(Array(last_response.headers["Set-Cookie"]).join("\n")).to match(/\Arack\.session=;.*max-age=0/i)
  end

  it "gives a fresh session, and writes no stub, for a signed id whose item is gone" do
    get "/"
    old_id = cookie_value
    forget(old_id)
    get "/read"
    expect(last_response.body).to eq("")
    expect(stored_keys).to be_empty
    get "/"
    expect(last_response.body).to eq("1")
    expect(cookie_value).not_to eq(old_id)
  end

  it "treats forged and malformed cookies as a fresh session, reporting InvalidIDError" do
    get "/"
    victim = cookie_value
    _digest, sid = victim.split("--")
    forged = ["#{"0" * 32}--#{sid}", "garbage", "--", "#{"a" * 32}--", "#{victim}--x", "\xff\xfe".b, "a" * 5000]
    forged.each do |value|
      clear_cookies
      set_cookie "rack.session=#{Rack::Utils.escape(value)}"
      get "/"
      expect(last_response.status).to eq(200)
      expect(last_response.body).to eq("1")
      expect(cookie_value).not_to eq(value)
    end
    expect(errors.string).to include("InvalidIDError")
    expect(JSON.parse(stored(victim)["data"])).to eq("n" => 1)
    expect(requests_of(:get_item)).to be_empty # none of them was looked up
  end

  context "writing on every request (touch_interval: 0)" do
    let(:extra) { { touch_interval: 0 } }

    it "skips rewriting unchanged data (compares the serialized form)" do
      get "/"
      before = stored(cookie_value)
      sleep 0.01
      get "/read"
      after = stored(cookie_value)
      expect(after["data"]).to eq(before["data"])
      expect(requests_of(:save_session).last.data).to be_nil
      expect(Float(after["updated_at"])).to be > Float(before["updated_at"])
    end
  end

  it "keeps store options out of Rack's cookie options" do
    s = described_class.new(inner_app, store_options(max_age: 3600, expire_after: 60))
    response = Rack::MockRequest.new(Rack::Lint.new(s)).get("/options")
    keys = response.body.split(",")
    expect(keys).to include("expire_after")
    expect(keys).not_to include("secret_key", "max_age", "table_name", "endpoint")
    expect(response.headers["Set-Cookie"].to_s).not_to match(/max-age/i)
  end

  it "defers: no cookie is sent, the session is still saved" do
    s = described_class.new(lambda { |env|
      env["rack.session"]["n"] = 1
      env["rack.session.options"][:defer] = true
      [200, {}, ["ok"]]
    }, store_options)
    response = Rack::MockRequest.new(Rack::Lint.new(s)).get("/")
    expect(response.headers["Set-Cookie"]).to be_nil
    expect(stored_keys.size).to eq(1)
  end

  it "skip: neither reads nor writes" do
    s = described_class.new(lambda { |env|
      env["rack.session.options"][:skip] = true
      env["rack.session"]["n"] = 1
      [200, {}, ["ok"]]
    }, store_options)
    response = Rack::MockRequest.new(Rack::Lint.new(s)).get("/")
    expect(response.headers["Set-Cookie"]).to be_nil
    expect(stored_keys).to be_empty
    expect(operations).to be_empty
  end

  it "refuses an oversized session with a clear error and keeps the stored one" do
    get "/"
    id = cookie_value
    get "/big"
    expect(last_response.status).to eq(200)
    expect(errors.string).to match(/SessionTooLargeError.*over DynamoDB's item size limit of 409600 bytes/)
    expect(JSON.parse(stored(id)["data"])).to eq("n" => 1)
  end

  context "with raise_errors" do
    let(:extra) { { raise_errors: true } }

    it "raises the oversize error" do
      get "/"
      expect { get "/big" }.to raise_error(Aws::SessionStore::DynamoDB::Errors::SessionTooLargeError)
    end
  end

  it "fails at boot without a secret key" do
    expect { described_class.new(inner_app, store_options(secret_key: nil)) }
      .to raise_error(Aws::SessionStore::DynamoDB::Errors::MissingSecretKeyError)
  end

  it "exposes #config with the merged options" do
    expect(store.config.table_name).to eq(table_name)
    expect(store.config.secret_key).to eq(StoreSpecHelpers::SECRET)
  end

  it "is reachable under the old AWS:: spelling" do
    expect(AWS::SessionStore::DynamoDB::RackMiddleware).to equal(described_class)
  end
end
