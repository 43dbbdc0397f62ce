# frozen_string_literal: true

# Correct with the data and traffic of real apps: locks the v0.5 gem left as
# numbers, lost answers on the lock path, deletes of unsigned ids, sessions
# with no chosen lifetime, and the bounds of the lock options. Everything
# runs against DynamoDB Local; calls are counted and answers lost by
# CountingProxy (spec/support/counting_proxy.rb).

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"

RSpec.describe "Real-world items and traffic" do
  include_context "with a session table"
  include StoreRequestHelpers

  let(:errors_mod) { Aws::SessionStore::DynamoDB::Errors }
  include_context "through a counting proxy"
  let(:counter) { StoreRequestHelpers::COUNTER_APP }

  def store(app = counter, **extra)
    Aws::SessionStore::DynamoDB::RackMiddleware.new(app, store_options({ endpoint: proxy.endpoint }.merge(extra)))
  end

  def signed_id
    sid = SecureRandom.hex(16)
    "#{OpenSSL::HMAC.hexdigest("MD5", StoreSpecHelpers::SECRET, sid)}--#{sid}"
  end

  # An item as the v0.5 gem left it: N timestamps, and a lock it never
  # released when the app raised.
  def put_v05_item(key, locked_at:, data: '{"n":4}')
    now = Time.now.to_f
    item = { "session_id" => { "S" => key }, "data" => { "S" => data },
             "created_at" => { "N" => (now - 3600).to_s }, "updated_at" => { "N" => (now - 60).to_s } }
    item["locked_at"] = locked_at if locked_at
    raw_dynamodb.put_item(table_name, item)
  end

  def stored(key)
    raw_item(key)
  end

  describe "locks the v0.5 gem wrote as numbers" do
    let(:locking) { { enable_locking: true, lock_max_wait_time: 1, lock_retry_delay: 100, lock_expiry_time: 500 } }

    it "takes over a stale numeric lock at once, with a handful of calls" do
      key = signed_id
      put_v05_item(key, locked_at: { "N" => (Time.now.to_f - 3600).to_s })
      proxy.reset!
      response = store_request(store(**locking), cookie: key)
      expect(response.status).to eq(200)
      expect(response.body).to eq("5")
      expect(response.errors).to eq("")
      expect(response.elapsed).to be < 2.0
      expect(proxy.count).to be <= 4 # refused, takeover, save
      expect(stored(key)).not_to have_key("locked_at")
      expect(JSON.parse(stored(key)["data"]["S"])).to eq("n" => 5)
    end

    it "waits for a live numeric lock with pauses, never spinning, and gives up at lock_max_wait_time" do
      key = signed_id
      # Held, far from expiry (a lock stamped beyond the expiry in the future
      # would be stale: spec/integration/fail_closed_spec.rb).
      put_v05_item(key, locked_at: { "N" => Time.now.to_f.to_s })
      proxy.reset!
      started = monotonic
      expect { store_request(store(**locking.merge(lock_expiry_time: 600_000)), cookie: key) }
        .to raise_error(errors_mod::LockWaitTimeoutError)
      elapsed = monotonic - started
      expect(elapsed).to be_between(0.9, 2.0)
      # One attempt per ~100 ms retry delay (±20% jitter) and call within 1 s, not thousands.
      expect(proxy.count("UpdateItem")).to be_between(3, 16) # 3: fewer on a loaded machine, still polling
      expect(stored(key)["locked_at"]).to have_key("N")
    end

    it "takes over an unreadable lock (a type no gem writes) once, as expired" do
      key = signed_id
      put_v05_item(key, locked_at: { "BOOL" => true })
      proxy.reset!
      response = store_request(store(**locking), cookie: key)
      expect(response.body).to eq("5")
      expect(proxy.count("UpdateItem")).to be <= 3
      expect(stored(key)).not_to have_key("locked_at")
    end
  end

  describe "answers lost on the lock path" do
    let(:locking) { { enable_locking: true, lock_max_wait_time: 3, lock_expiry_time: 10_000 } }

    it "recognises its own lock when the acquire landed but its answer was lost" do
      key = signed_id
      put_v05_item(key, locked_at: nil)
      dropped = false
      proxy.on_request do |op, body|
        next nil unless op == "UpdateItem" && body["UpdateExpression"] == "SET #l = :l" && !dropped

        dropped = true
        :drop_after_forward
      end
      response = store_request(store(**locking), cookie: key)
      expect(response.status).to eq(200)
      expect(response.body).to eq("5")
      expect(response.elapsed).to be < 2.0 # not the 10 s lock expiry
      expect(response.errors).to eq("")
      expect(stored(key)).not_to have_key("locked_at")
    end

    it "reports a locked save whose first attempt landed as saved, not as LockLostError" do
      key = signed_id
      put_v05_item(key, locked_at: nil)
      dropped = false
      proxy.on_request do |op, body|
        next nil unless op == "UpdateItem" && body["UpdateExpression"].to_s.include?("REMOVE") && !dropped

        dropped = true
        :drop_after_forward
      end
      response = store_request(store(**locking), cookie: key)
      expect(response.status).to eq(200)
      expect(response.errors).to eq("")
      expect(response.cookie).to be_nil # the same session, saved
      expect(JSON.parse(stored(key)["data"]["S"])).to eq("n" => 5)
      expect(stored(key)).not_to have_key("locked_at")
      expect(proxy.bodies("UpdateItem").count { |b| b["UpdateExpression"].include?("REMOVE") }).to eq(2)
    end

    it "writes lock values the official gem reads as the same time (Float), unique per holder" do
      key = signed_id
      put_v05_item(key, locked_at: nil)
      values = []
      proxy.on_request do |op, body|
        if op == "UpdateItem" && body["UpdateExpression"] == "SET #l = :l"
          values << body.dig("ExpressionAttributeValues", ":l", "S")
        end
        nil
      end
      2.times { store_request(store(**locking), cookie: key) }
      expect(values.size).to eq(2)
      expect(values.uniq.size).to eq(2)
      values.each do |value|
        expect(value).to match(/\A\d+\.\d{15}\z/)
        expect(Float(value)).to be_within(5).of(Time.now.to_f) # the official gem's reading
      end
    end
  end

  describe "deletes" do
    it "never deletes an item for an id whose signature does not check out (reset_session on a forged cookie)" do
      forged = "#{"0" * 32}--#{SecureRandom.hex(16)}"
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => forged }, "data" => { "S" => '{"n":1}' },
                                        "created_at" => { "S" => Time.now.to_f.to_s },
                                        "updated_at" => { "S" => Time.now.to_f.to_s })
      resetting = ->(env) { env["rack.session"].destroy && [200, {}, ["ok"]] }
      mw = store(resetting)
      proxy.reset!
      response = store_request(mw, cookie: forged)
      expect(response.status).to eq(200)
      deleted_keys = proxy.bodies("DeleteItem").map { |b| b.dig("Key", "session_id", "S") }
      expect(deleted_keys).not_to include(forged)
      # Straight through the Rack contract, as a store subclass or another
      # Rack version may call it with the cookie's raw value.
      req = Rack::Request.new(Rack::MockRequest.env_for("/"))
      [forged, Rack::Session::SessionId.new(forged)].each do |given|
        new_sid = mw.delete_session(req, given, {})
        expect(new_sid).to be_a(Rack::Session::SessionId)
        expect(new_sid.public_id).to match(/\A\h{32}--\h{32}\z/)
        expect(mw.delete_session(req, given, { drop: true })).to be_nil
      end
      expect(proxy.bodies("DeleteItem").map { |b| b.dig("Key", "session_id", "S") }).not_to include(forged)
      expect(stored(forged)).not_to be_nil
    end

    it "still deletes the visitor's own signed session on reset_session" do
      key = signed_id
      put_v05_item(key, locked_at: nil)
      resetting = ->(env) { env["rack.session"].destroy && [200, {}, ["ok"]] }
      store_request(store(resetting), cookie: key)
      # Under every key it may have (clear, and both hashed_keys schemes).
      expect(proxy.count("DeleteItem")).to eq(3)
      expect(stored(key)).to be_nil
    end
  end

  describe "sessions with no chosen lifetime (neither max_stale nor expire_after)" do
    let(:thirty_days) { Aws::SessionStore::DynamoDB::Configuration::DEFAULT_MAX_STALE }

    before { Aws::SessionStore::DynamoDB::RackMiddleware.forget_warnings! }

    it "warns once at boot, and gives every item an expire_at 30 days (plus the touch interval) ahead" do
      expect { store }.to output(/neither max_stale nor expire_after is set: sessions unused for 30 days expire/)
        .to_stderr
      mw = nil
      expect { mw = store }.not_to output.to_stderr # once per process
      cookie = store_request(mw).cookie
      expire_at = Integer(stored(cookie)["expire_at"]["N"])
      expect(expire_at - Time.now.to_i).to be_within(120).of(thirty_days + 3600)
    end

    it "reads a session unused for longer than 30 days as gone, and GC collects it" do
      key = signed_id
      old = (Time.now.to_f - thirty_days - 7200).to_s
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => key }, "data" => { "S" => '{"n":4}' },
                                        "created_at" => { "S" => old }, "updated_at" => { "S" => old })
      mw = nil
      expect { mw = store }.to output.to_stderr
      response = store_request(mw, cookie: key)
      expect(response.body).to eq("1")
      expect(response.cookie).not_to eq(key)
      result = Aws::SessionStore::DynamoDB::GarbageCollection.collect_garbage(store_options)
      expect(result.deleted).to eq(1)
      expect(stored(key)).to be_nil
      expect(stored(response.cookie)).not_to be_nil
    end

    it "warns when expire_after outlives what garbage collection keeps, and not with max_stale set" do
      expect { store(expire_after: 90 * 86_400) }.to output(/garbage collection deletes sessions unused for 30 days/)
        .to_stderr
      expect { store(max_stale: 86_400) }.not_to output.to_stderr
    end
  end

  describe "bounds of the lock options" do
    let(:config) { Aws::SessionStore::DynamoDB::Configuration }

    it "refuses lock_max_wait_time over 5 minutes and lock_expiry_time over 10 minutes, naming the option" do
      expect { config.new(lock_max_wait_time: 301) }
        .to raise_error(errors_mod::ConfigurationError, /:lock_max_wait_time must be at most 300 \(seconds\)/)
      expect { config.new(lock_expiry_time: 600_001) }
        .to raise_error(errors_mod::ConfigurationError, /:lock_expiry_time must be at most 600000 \(milliseconds\)/)
      expect { config.new(lock_retry_delay: 60_001) }
        .to raise_error(errors_mod::ConfigurationError, /:lock_retry_delay must be at most 60000/)
      expect(config.new(lock_max_wait_time: 300, lock_expiry_time: 600_000).lock_max_wait_time).to eq(300)
    end
  end
end
