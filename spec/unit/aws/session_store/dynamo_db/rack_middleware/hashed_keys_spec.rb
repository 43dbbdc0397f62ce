# frozen_string_literal: true

# hashed_keys: items stored under an HMAC-SHA256 of the cookie, so a table
# dump can't be replayed as cookies; switching it on logs nobody out
# (sessions still under their clear id are read and moved); GC and renew
# work on both. GC over both forms runs on DynamoDB Local
# (spec/integration/hashed_keys_spec.rb).

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../../support/memory_store"

RSpec.describe Aws::SessionStore::DynamoDB::RackMiddleware, "with hashed_keys" do
  include_context "store on the memory client"

  def store(**extra)
    Aws::SessionStore::DynamoDB::RackMiddleware.new(StoreRequestHelpers::COUNTER_APP,
                                                    store_options({ max_stale: 3600 }.merge(extra)))
  end

  def keys
    stored_keys
  end

  [false, true].each do |locking|
    context(locking ? "with locking" : "without locking") do
      let(:options) { { hashed_keys: true, enable_locking: locking } }

      it "stores sessions under the HMAC-SHA256 of the cookie: no cookie in the table" do
        cookie = store_request(store(**options)).cookie
        expect(store_request(store(**options), cookie: cookie).body).to eq("2")
        expect(keys).to eq([hashed(cookie)])
        expect(stored_items.to_s).not_to include(cookie.split("--").last)
      end

      it "moves a session written before hashed_keys was on at its next request; nobody is logged out" do
        cookie = 2.times.inject(nil) { |c, _| store_request(store, cookie: c).cookie || c }
        created = stored(cookie)["created_at"]
        expect(keys).to eq([cookie])

        moved = store_request(store(**options), "/read", cookie: cookie)
        expect(moved.body).to eq("2")
        expect(moved.cookie).to be_nil # the same cookie goes on working
        expect(keys).to eq([hashed(cookie)])
        expect(stored_items.first["created_at"]).to eq(created)
        expect(store_request(store(**options), cookie: cookie).body).to eq("3")
      end

      it "deletes both forms on reset and renew" do
        cookie = store_request(store(**options)).cookie
        renewing = Aws::SessionStore::DynamoDB::RackMiddleware.new(lambda { |env|
          env["rack.session"]["n"] = 7
          env["rack.session.options"][:renew] = true
          [200, {}, ["ok"]]
        }, store_options(max_stale: 3600, **options))
        renewed = store_request(renewing, cookie: cookie)
        expect(keys).to eq([hashed(renewed.cookie)])
      end
    end
  end
end
