# frozen_string_literal: true

# The opt-in features keep the plain path's guarantees under concurrent
# requests and against the application's own code:
#
# - renew: a request that read a session and then renews its id (Rack's
#   `renew`) does not carry over a session logged out meanwhile;
# - hashed_keys: the move of a session from an older key (the cookie's clear
#   value, or the first hashed scheme) to its current key is one decision,
#   like a save: a session logged out meanwhile stays logged out, a request
#   that waited on (or looked past) the old key finds the moved session, and
#   a refused move leaves no lock behind;
# - a subscriber (plain or ActiveSupport::Notifications) that raises is
#   reported once and changes nothing the store does.
#
# Races are two real requests through the middleware against DynamoDB
# Local, with one of them paused at a known point (its app, or an
# instrumentation subscriber that only pauses that request's thread).

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "active_support/notifications"
require_relative "../support/store_requests"
require_relative "../support/storage_keys"

RSpec.describe "Races and the application's code" do
  include_context "with a session table"
  include StorageKeys
  include StoreRequestHelpers

  let(:dynamo) { Aws::SessionStore::DynamoDB }

  after { dynamo::Instrumentation.reset! }

  def keys
    all_items.map { |item| item["session_id"]["S"] }
  end

  # A session counted to 2 under its clear id (hashed_keys off).
  def clear_session
    cookie = store_request(counter).cookie
    expect(store_request(counter, cookie: cookie).body).to eq("2")
    expect(keys).to eq([cookie])
    cookie
  end

  # An app that reads the session, says so, waits for `go`, then counts.
  # With `renew`, it then asks Rack for a new id (as Warden does on
  # sign-in), the data carried over.
  def paused_counter(read, go, renew: false)
    lambda do |env|
      session = env["rack.session"]
      n = session.fetch("n", 0)
      read << true
      go.pop
      env["rack.session.options"][:renew] = true if renew
      session["n"] = n + 1
      [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
    end
  end

  # Pauses the thread that set Thread.current[:pause_at] after its first
  # event of that name, until `go` is popped; `reached` tells when.
  def pause_thread_at(event, reached, go)
    dynamo::Instrumentation.subscribe(event) do
      next unless Thread.current[:pause_at] == event

      Thread.current[:pause_at] = nil
      reached << true
      go.pop
    end
  end

  def in_thread(pause_at: nil, &block)
    Thread.new do
      Thread.current[:pause_at] = pause_at
      block.call
    end
  end

  LOGOUT_APP = lambda do |env|
    env["rack.session"]["n"] # a logout page that reads the session first
    env["rack.session.options"][:drop] = true
    [200, { "content-type" => "text/plain" }, ["bye"]]
  end

  [false, true].each do |locking|
    context("a renew racing a logout, locking #{locking ? "on" : "off"}") do
      let(:options) { { enable_locking: locking } }

      it "does not carry a session logged out meanwhile over to a new id" do
        cookie = clear_session
        read = Queue.new
        go = Queue.new
        slow = in_thread { store_request(middleware(paused_counter(read, go, renew: true), **options), cookie: cookie) }
        read.pop
        expect(store_request(middleware(LOGOUT_APP, **options), cookie: cookie).body).to eq("bye")
        go << true
        response = slow.value
        expect(all_items).to be_empty
        # No new id: the cookie is cleared, as after a drop.
        expect(response.cookie).to eq("")
        expect(store_request(counter(**options), "/read", cookie: cookie).body).to eq("")
      end

      it "carries a live session over to the new id" do
        cookie = clear_session
        go = Queue.new << true
        renewed = store_request(middleware(paused_counter(Queue.new, go, renew: true), **options), cookie: cookie)
        expect(renewed.cookie).not_to eq(cookie)
        expect(keys).to eq([renewed.cookie])
        expect(store_request(counter(**options), "/read", cookie: renewed.cookie).body).to eq("3")
      end
    end

    context(locking ? "hashed_keys with locking (defaults: 500 ms expiry, 1 s wait)" : "hashed_keys without locking") do
      let(:options) { { hashed_keys: true, enable_locking: locking } }

      it "keeps a session logged out when a request that read it under its clear id saves afterwards" do
        cookie = clear_session
        read = Queue.new
        go = Queue.new
        slow = in_thread { store_request(middleware(paused_counter(read, go), **options), cookie: cookie) }
        read.pop
        # With locking this request takes over the slow one's expired lock.
        logout = store_request(middleware(LOGOUT_APP, **options), cookie: cookie)
        expect(logout.body).to eq("bye")
        go << true
        slow.value
        expect(all_items).to be_empty
        expect(store_request(counter(**options), "/read", cookie: cookie).body).to eq("")
      end

      it "finds a session moved to its hashed key by another request while it was looking at the old keys" do
        cookie = clear_session
        looked = Queue.new
        go = Queue.new
        # The waiter's first look (under the hashed key) misses; it is then
        # held until the other request has moved the session.
        pause_thread_at(locking ? :lock_wait : :read, looked, go)
        waiter = in_thread(pause_at: locking ? :lock_wait : :read) do
          store_request(counter(**options), cookie: cookie)
        end
        looked.pop
        mover = store_request(counter(**options), cookie: cookie)
        expect(mover.body).to eq("3")
        expect(keys).to eq([hashed(cookie)])
        go << true
        response = waiter.value
        expect(response.body).to eq("4")
        expect(response.cookie).to be_nil # not a new session
        expect(keys).to eq([hashed(cookie)])
      end

      it "reads a session stored under the first hashed scheme's key and moves it to the derived key" do
        cookie = store_request(counter).cookie
        item = raw_item(cookie)
        raw_dynamodb.put_item(table_name, item.merge("session_id" => { "S" => first_scheme(cookie) }))
        raw_dynamodb.delete_item(table_name, "session_id" => { "S" => cookie })
        expect(store_request(counter(**options), cookie: cookie).body).to eq("2")
        expect(keys).to eq([hashed(cookie)])
        expect(all_items.first["created_at"]).to eq(item["created_at"])
        expect(store_request(counter(**options), cookie: cookie).body).to eq("3")
      end

      it "never stores under the secret that signs cookies: the key is derived for storage only" do
        cookie = store_request(counter(**options)).cookie
        expect(keys).to eq([hashed(cookie)])
        expect(keys).not_to include(first_scheme(cookie))
      end
    end
  end

  context "hashed_keys with locking, a waiter behind the request that moves the session" do
    let(:options) { { hashed_keys: true, enable_locking: true, lock_expiry_time: 10_000, lock_max_wait_time: 5 } }

    it "waits for the clear item's lock, then finds the moved session under its hashed key" do
      cookie = clear_session
      read = Queue.new
      go = Queue.new
      holder = in_thread { store_request(middleware(paused_counter(read, go), **options), cookie: cookie) }
      read.pop # the holder has the clear item's lock
      waiter = in_thread { store_request(counter(**options), cookie: cookie) }
      sleep 0.5 # the waiter is now retrying on the clear item's lock
      go << true
      expect(holder.value.body).to eq("3")
      response = waiter.value
      expect(response.body).to eq("4")
      expect(response.cookie).to be_nil
      expect(keys).to eq([hashed(cookie)])
    end

    it "releases the clear item's lock when the move is refused" do
      cookie = clear_session
      read = Queue.new
      go = Queue.new
      holder = in_thread { store_request(middleware(paused_counter(read, go), **options), cookie: cookie) }
      read.pop
      # Someone else's item under the hashed key: the move must not overwrite it.
      now = Time.now.to_f.to_s
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => hashed(cookie) }, "data" => { "S" => '{"n":40}' },
                                        "created_at" => { "S" => now }, "updated_at" => { "S" => now })
      go << true
      holder.value
      expect(raw_item(hashed(cookie))["data"]).to eq("S" => '{"n":40}')
      expect(raw_item(cookie)).not_to have_key("locked_at")
    end
  end

  describe "a subscriber that raises" do
    let(:options) { { enable_locking: true, lock_retry_delay: 50 } }

    before { dynamo::Warnings.forget!(:subscriber) }

    def raising_subscriber(*events)
      dynamo::Instrumentation.subscribe(*events) { raise ArgumentError, "subscriber bug" }
    end

    it "on lock_wait: the lock is still released, and the next request does not wait" do
      cookie = store_request(counter(**options)).cookie
      raising = raising_subscriber(:lock_wait)
      response = nil
      expect { response = store_request(counter(**options), cookie: cookie) }
        .to output(/instrumentation subscriber raised ArgumentError: subscriber bug/).to_stderr
      expect(response.body).to eq("2")
      expect(raw_item(cookie)).not_to have_key("locked_at")
      dynamo::Instrumentation.unsubscribe(raising)
      waits = []
      dynamo::Instrumentation.subscribe(:lock_wait) { |event| waits << event.payload }
      nxt = store_request(counter(**options), cookie: cookie)
      expect(nxt.body).to eq("3")
      # No wait for a lock left behind: one call took it, from nobody.
      expect(waits.map { |payload| payload.values_at(:calls, :takeover) }).to eq([[1, nil]])
    end

    it "on read: the session is read, the cookie kept; reported once, however often it raises" do
      cookie = store_request(counter).cookie
      raising_subscriber(:read)
      responses = []
      expect { 3.times { responses << store_request(counter, cookie: cookie) } }
        .to output(/\A[^\n]*subscriber raised[^\n]*\n\z/).to_stderr
      expect(responses.map(&:body)).to eq(%w[2 3 4])
      expect(responses.map(&:cookie)).to all(be_nil)
    end

    it "on delete, with hashed_keys: logout deletes every form of the session" do
      cookie = clear_session
      raising_subscriber(:delete)
      expect { store_request(middleware(LOGOUT_APP, hashed_keys: true), cookie: cookie) }
        .to output(/subscriber raised/).to_stderr
      expect(all_items).to be_empty
    end

    it "keeps the other subscribers' events" do
      seen = []
      raising_subscriber(:read)
      dynamo::Instrumentation.subscribe(:read) { |event| seen << event.payload[:outcome] }
      cookie = store_request(counter).cookie
      expect { store_request(counter, cookie: cookie) }.to output(/subscriber raised/).to_stderr
      expect(seen).to eq([:found])
    end

    it "through ActiveSupport::Notifications, on read and lock_wait: nothing changes for the store" do
      subscribers = %w[read lock_wait].map do |event|
        ActiveSupport::Notifications.subscribe("#{event}.aws_sessionstore_dynamodb") do |*|
          raise ArgumentError, "notifications subscriber bug"
        end
      end
      [{}, options].each do |opts|
        dynamo::Warnings.forget!(:subscriber)
        cookie = store_request(counter(**opts)).cookie
        responses = []
        expect { 2.times { responses << store_request(counter(**opts), cookie: cookie) } }
          .to output(/subscriber raised/).to_stderr
        expect(responses.map(&:body)).to eq(%w[2 3])
        expect(responses.map(&:cookie)).to all(be_nil)
        expect(raw_item(cookie)).not_to have_key("locked_at")
      end
    ensure
      subscribers&.each { |s| ActiveSupport::Notifications.unsubscribe(s) }
    end

    it "leaves the store's own errors as they are" do
      raising_subscriber(:read)
      broken = dynamo::RackMiddleware.new(StoreRequestHelpers::COUNTER_APP,
                                          store_options(table_name: "no-such-table-#{SecureRandom.hex(4)}",
                                                        max_stale: 3600))
      cookie = "#{OpenSSL::HMAC.hexdigest("MD5", StoreSpecHelpers::SECRET, "a" * 32)}--#{"a" * 32}"
      expect { store_request(broken, cookie: cookie) }
        .to raise_error(dynamo::Errors::ResourceNotFoundError).and output(/subscriber raised/).to_stderr
    end
  end
end
