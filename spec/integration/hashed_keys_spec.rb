# frozen_string_literal: true

# hashed_keys: items stored under an HMAC-SHA256 of the cookie, so a table
# dump can't be replayed as cookies; switching it on logs nobody out
# (sessions still under their clear id are read and moved); GC and renew
# work on both. Only GC over both forms needs DynamoDB; the rest runs on the
# in-memory client (spec/unit/aws/session_store/dynamo_db/rack_middleware/hashed_keys_spec.rb).

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/storage_keys"

RSpec.describe "hashed_keys" do
  include_context "with a session table"
  include StorageKeys

  it "GC collects hashed and clear items alike, by age" do
    old = (Time.now.to_f - 7200).to_s
    [hashed("x--y"), "clear-id"].each do |key|
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => key }, "data" => { "S" => "{}" },
                                        "created_at" => { "S" => old }, "updated_at" => { "S" => old })
    end
    result = Aws::SessionStore::DynamoDB::GarbageCollection.collect_garbage(store_options(max_stale: 3600))
    expect(result.deleted).to eq(2)
  end
end
