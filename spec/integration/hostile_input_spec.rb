# frozen_string_literal: true

# Hostile items only DynamoDB shows: data stored as Binary, and GC of
# items whose timestamps are unreadable. The generated cookies and the
# other corrupt or extreme items run on the in-memory client
# (spec/unit/aws/session_store/dynamo_db/rack_middleware/hostile_input_spec.rb);
# spec/interop_spec.rb covers invalid JSON, data as N or M, missing data,
# non-Hash JSON, empty data, bad Marshal, a Marshal payload read with :json.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "openssl"
require "securerandom"
require "base64"
require_relative "../support/store_requests"
require_relative "../support/hostile_app"

RSpec.describe "Hostile input" do
  include_context "with a session table"
  include StoreRequestHelpers
  include_context "the hostile-input app"

  describe "corrupt or extreme items (beyond spec/interop_spec.rb)" do
    let(:extra) { {} }
    let(:store) { Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, store_options(extra)) }
    let(:now) { (Time.now.to_f - 60).to_s }

    def plant(attrs)
      key = sign(SecureRandom.hex(16))
      item = { "session_id" => { "S" => key }, "created_at" => { "S" => now }, "updated_at" => { "S" => now } }.merge(attrs)
      raw_dynamodb.put_item(table_name, item)
      [key, item]
    end

    def error_lines(response)
      response.errors.lines
    end

    context "data as Binary (B)" do
      [["holding JSON of a Hash", '{"n":5}'], ["holding invalid UTF-8", "\xff\xfe{\x00".b],
       ["holding a Base64 Marshal payload", [Marshal.dump("n" => 5)].pack("m*")]].each do |label, bytes|
        it "#{label}: no 500, read-only requests leave it alone, a write leaves a readable String item" do
          key, item = plant("data" => { "B" => Base64.strict_encode64(bytes) })
          response = store_request(store, "/read", cookie: key)
          expect(response.status).to eq(200)
          expect(error_lines(response)).to all(start_with("Aws::SessionStore::DynamoDB::Errors::CorruptSessionError: "))
          expect(raw_item(key).slice("data", "created_at")).to eq(item.slice("data", "created_at"))

          written = store_request(store, cookie: key)
          expect(written.status).to eq(200)
          saved = raw_item(written.cookie || key)
          expect(saved["data"].keys).to eq(["S"])
          expect(JSON.parse(saved["data"]["S"])).to eq(JSON.parse(written.body))
          expect(store_request(store, "/read", cookie: written.cookie || key).body).to eq(written.body)
        end
      end
    end

    it "GC collects items whose timestamps are unreadable, which reads leave alone" do
      keys = [{ "created_at" => { "BOOL" => true } }, { "updated_at" => { "S" => "yesterday" } },
              { "created_at" => { "M" => { "t" => { "N" => "1" } } } }].map do |attrs|
        plant({ "data" => { "S" => '{"n":5}' } }.merge(attrs)).first
      end
      bare = sign(SecureRandom.hex(16))
      raw_dynamodb.put_item(table_name, "session_id" => { "S" => bare }, "data" => { "S" => '{"n":5}' })
      keys << bare
      keys.each do |key|
        read = store_request(store, "/read", cookie: key)
        expect(read.errors).to start_with("Aws::SessionStore::DynamoDB::Errors::CorruptSessionError: ")
      end
      expect(keys.map { |key| raw_item(key) }).to all(be_a(Hash))
      result = Aws::SessionStore::DynamoDB::GarbageCollection.collect_garbage(store_options(max_stale: 3600))
      expect(result.deleted).to eq(4)
      expect(keys.map { |key| raw_item(key) }).to all(be_nil)
    end
  end
end
