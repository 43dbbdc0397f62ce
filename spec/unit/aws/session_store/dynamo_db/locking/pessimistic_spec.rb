# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../../support/memory_store"
require_relative "../../../../../support/locking_app"

# Pessimistic locking (`enable_locking: true`) through the middleware: tiny
# Rack apps wrapped in Rack::Lint, driven by Rack::MockRequest, on the
# in-memory client (its lock answers are tied to the real client's by the
# native client contract). What needs DynamoDB (the GVL released while the
# native client waits, contention across threads and processes) is in
# spec/integration/locking_spec.rb.
RSpec.describe Aws::SessionStore::DynamoDB::RackMiddleware, "with enable_locking" do
  include_context "store on the memory client"

  include_context "a locked store"

  def lock_stamp(age_seconds = 0)
    (Time.now.to_f - age_seconds).to_s
  end

  # A correctly signed cookie value for a random id.
  def signed_id
    sid = SecureRandom.hex(16)
    "#{OpenSSL::HMAC.hexdigest("MD5", StoreSpecHelpers::SECRET, sid)}--#{sid}"
  end

  def expect_no_locks
    locked = stored_items.select { |item| item.key?("locked_at") }
    expect(locked).to be_empty, "items still locked: #{locked.map { |i| i["session_id"] }}"
  end

  describe "the official gem's scenarios" do
    let(:extra) { { lock_expiry_time: 5_000, lock_retry_delay: 50, lock_max_wait_time: 5 } }

    context "when a slow request holds the lock" do
      let(:entered) { Queue.new }
      let(:hook) do
        q = entered
        lambda do |_env|
          q << true
          sleep 0.6
        end
      end

      it "makes a second request wait for it, then see its write" do
        request("/")
        first = Thread.new { request("/hook", with: cookie) }
        entered.pop # the first request holds the lock now
        started = monotonic
        second = request("/")
        waited = monotonic - started
        expect(first.value.body).to eq("2")
        expect(second.body).to eq("3")
        expect(waited).to be > 0.4
        expect(data_of(stored(cookie))).to eq("n" => 3)
        expect_no_locks
      end
    end

    context "with the official defaults (expiry 500 ms, retry every 500 ms, wait up to 1 s)" do
      let(:extra) { {} }

      it "busts a lock older than lock_expiry_time and serves the request" do
        request("/")
        update_stored(cookie, "locked_at" => lock_stamp(10))
        started = monotonic
        response = request("/")
        expect(response.status).to eq(200)
        expect(response.body).to eq("2")
        expect(monotonic - started).to be < 1 # within lock_max_wait_time
        expect(data_of(stored(cookie))).to eq("n" => 2)
        expect_no_locks
      end
    end

    context "with a lock that does not expire" do
      let(:extra) { { lock_expiry_time: 600_000, lock_retry_delay: 100, lock_max_wait_time: 1 } }

      it "raises LockWaitTimeoutError (a hard error) after about lock_max_wait_time, leaving the lock alone" do
        request("/")
        stamp = lock_stamp
        update_stored(cookie, "locked_at" => stamp)
        started = monotonic
        expect { request("/") }.to raise_error(errors_mod::LockWaitTimeoutError)
        expect(monotonic - started).to be_between(0.8, 3.0)
        item = stored(cookie)
        expect(item["locked_at"]).to eq(stamp)
        expect(data_of(item)).to eq("n" => 1)
      end
    end

    context "with lock_retry_delay as long as lock_max_wait_time (1 s) and a fresh lock" do
      let(:extra) { { lock_expiry_time: 600_000, lock_retry_delay: 1_000, lock_max_wait_time: 1 } }

      # The official gem retries until more than lock_max_wait_time has passed
      # (attempts at 0 and 1 s here). Giving up as soon as the next full delay
      # would overshoot stops after the first attempt instead; with the
      # official defaults (500 ms of 1 s) it stops at ~0.5 s on about half
      # the waits.
      it "keeps trying for about lock_max_wait_time before raising LockWaitTimeoutError" do
        request("/")
        update_stored(cookie, "locked_at" => lock_stamp)
        started = monotonic
        expect { request("/") }.to raise_error(errors_mod::LockWaitTimeoutError)
        expect(monotonic - started).to be_between(0.9, 3.0)
      end
    end
  end

  describe "the session API with locking" do
    it "renews: a new id carries the data and created_at, the old item is gone, the next request works" do
      2.times { request("/") }
      old_id = cookie
      created = stored(old_id)["created_at"]
      response = request("/renew")
      expect(response.status).to eq(200)
      expect(cookie).not_to eq(old_id)
      expect(stored(old_id)).to be_nil
      new_item = stored(cookie)
      expect(new_item["created_at"]).to eq(created)
      expect(data_of(new_item)).to eq("n" => 2)
      expect(request("/").body).to eq("3")
      expect(stored_keys.size).to eq(1)
      expect_no_locks
    end

    it "drops: the item is deleted and the cookie cleared" do
      request("/")
      response = request("/drop")
      expect(Array(response.headers["Set-Cookie"]).join("\n")).to match(/\Arack\.session=;.*max-age=0/i)
      expect(stored_keys).to be_empty
    end

    it "gives a fresh session, and leaves no item behind, for a signed id whose item is gone" do
      request("/")
      old_id = cookie
      forget(old_id)
      response = request("/read")
      expect(response.status).to eq(200)
      expect(response.body).to eq("")
      expect(stored_keys).to be_empty
      expect(request("/", with: old_id).body).to eq("1")
      expect(cookie).not_to eq(old_id)
      expect(stored_keys).to eq([cookie])
      expect_no_locks
    end

    it "removes a lock stub left by the official gem and gives a fresh session" do
      stub_id = signed_id
      plant(stub_id, "locked_at" => lock_stamp(10))
      response = request("/read", with: stub_id)
      expect(response.status).to eq(200)
      expect(response.body).to eq("")
      expect(stored_keys).to be_empty

      plant(stub_id, "locked_at" => lock_stamp(10))
      expect(request("/", with: stub_id).body).to eq("1")
      expect(cookie).not_to eq(stub_id)
      expect(stored_keys).to eq([cookie])
      expect_no_locks
    end
  end

  describe "releasing the lock" do
    # A lock left behind would make the next request time out, not bust it.
    let(:extra) { { lock_expiry_time: 600_000, lock_retry_delay: 50, lock_max_wait_time: 1 } }

    it "leaves no locked_at after each successful request" do
      %w[/ / /read /hook /].each do |path|
        expect(request(path).status).to eq(200)
        expect(stored(cookie)).not_to have_key("locked_at")
      end
      expect(data_of(stored(cookie))).to eq("n" => 4)
      expect_no_locks
    end

    it "releases the lock when the app raises, and lets the exception through" do
      request("/")
      expect { request("/raise") }.to raise_error(RuntimeError, "boom")
      item = stored(cookie)
      expect(item).not_to have_key("locked_at")
      expect(data_of(item)).to eq("n" => 1)
      started = monotonic
      expect(request("/").body).to eq("2")
      expect(monotonic - started).to be < 0.9
    end

    it "releases the lock when the save fails (a session over DynamoDB's item size limit)" do
      request("/")
      response = request("/big")
      expect(response.status).to eq(200)
      expect(response.errors).to include("SessionTooLargeError")
      item = stored(cookie)
      expect(data_of(item)).to eq("n" => 1)
      expect(item).not_to have_key("locked_at")
      expect(request("/").body).to eq("2")
    end

    it "releases the lock on an item whose data can't be decoded" do
      request("/")
      old_id = cookie
      update_stored(old_id, "data" => "{not json")
      response = request("/")
      expect(response.status).to eq(200)
      expect(response.errors).to include("CorruptSessionError")
      expect(response.body).to eq("1")
      expect(cookie).not_to eq(old_id)
      expect(stored(old_id)).not_to have_key("locked_at")
    end
  end

  context "when the lock is taken over while the request holds it" do
    let(:extra) { { lock_expiry_time: 600_000 } }
    let(:foreign_lock) { lock_stamp }
    let(:hook) do
      stamp = foreign_lock
      # What a lock buster does: takes over locked_at, then saves its session.
      lambda do |env|
        update_stored(Rack::Request.new(env).cookies["rack.session"], "locked_at" => stamp, "data" => '{"n":42}')
      end
    end

    it "does not save over the new holder's data, and reports LockLostError to rack.errors" do
      request("/")
      response = request("/hook")
      expect(response.status).to eq(200)
      expect(response.errors).to include("Aws::SessionStore::DynamoDB::Errors::LockLostError")
      item = stored(cookie)
      expect(data_of(item)).to eq("n" => 42)
      expect(item["locked_at"]).to eq(foreign_lock)
    end
  end
end
