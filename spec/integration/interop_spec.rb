# frozen_string_literal: true

# Drop-in interop with the official gem (aws-sessionstore-dynamodb v4 and
# older) in both directions. Items are laid down and inspected only with
# RawDynamoDB, never through the gem's own client, in the exact format the
# official gem writes (shared/DESIGN.md, "Item format").

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "openssl"
require "securerandom"
require_relative "../support/rack_test_store"

# Marshal payload whose loading is observable: Marshal.load calls
# marshal_load, which raises the flag.
class InteropMarshalCanary
  class << self
    attr_accessor :loaded
  end

  def marshal_dump
    "canary"
  end

  def marshal_load(_state)
    self.class.loaded = true
  end
end

RSpec.describe "Interop with the official gem's items" do
  include_context "with a session table"
  include_context "through Rack::Test"

  let(:secret) { StoreSpecHelpers::SECRET }
  let(:extra) { {} }

  # /show answers the session as JSON, /drop drops it, /renew renews it,
  # anything else increments session["n"].
  let(:inner_app) do
    lambda do |env|
      session = env["rack.session"]
      case env["PATH_INFO"]
      when "/show" then nil
      when "/drop" then env["rack.session.options"][:drop] = true
      when "/renew" then env["rack.session.options"][:renew] = true
      else session["n"] = session.fetch("n", 0) + 1
      end
      [200, { "content-type" => "application/json" }, [JSON.generate(session.to_hash)]]
    end
  end

  let(:store) { Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, store_options(extra)) }

  def shown_session
    JSON.parse(last_response.body)
  end

  # The official gem's session id: "<HMAC-MD5 hex>--<32 hex>".
  def official_key(sid = SecureRandom.hex(16))
    "#{OpenSSL::HMAC.hexdigest("MD5", secret, sid)}--#{sid}"
  end

  def now_s
    Time.now.to_f.to_s
  end

  # An item exactly as official v4 writes it (created_at/updated_at as S,
  # expire_at as N); override or drop (nil) any attribute.
  def official_item(key, data, **attrs)
    stamp = attrs.key?(:created_at) ? attrs[:created_at] : { "S" => (Time.now.to_f - 120).to_s }
    item = {
      "session_id" => { "S" => key },
      "data" => data.is_a?(Hash) ? data : { "S" => data },
      "created_at" => stamp,
      "updated_at" => attrs.key?(:updated_at) ? attrs[:updated_at] : stamp,
      "expire_at" => attrs.key?(:expire_at) ? attrs[:expire_at] : { "N" => (Time.now.to_i + 3600).to_s }
    }
    attrs.fetch(:omit, []).each { |name| item.delete(name) }
    item.compact
  end

  def put_official(item)
    raw_dynamodb.put_item(table_name, item)
    set_cookie "rack.session=#{item["session_id"]["S"]}"
    item
  end

  def marshal_data(hash)
    [Marshal.dump(hash)].pack("m*")
  end

  def types(item)
    item.transform_values { |value| value.keys.first }
  end

  def error_lines
    errors.string.lines
  end

  # What /show answers for a session (Symbols become Strings in JSON).
  def as_json(hash)
    JSON.parse(JSON.generate(hash))
  end

  describe "reading and updating an item written by official v4" do
    let(:extra) { { max_stale: 3600 } }
    let(:session) { { "user_id" => 42, "name" => "Zoë", "nested" => { "a" => [1, "b", nil, true] }, "n" => 1 } }

    def expect_round_trip(item, written_data)
      key = item["session_id"]["S"]
      get "/show"
      expect(last_response.status).to eq(200)
      expect(shown_session).to eq(as_json(session))
      expect(cookie_value).to eq(key)

      sleep 0.01
      get "/"
      expect(shown_session).to eq(as_json(session.merge("n" => 2)))
      expect(cookie_value).to eq(key)
      after = raw_item(key)
      expect(after["data"]).to eq("S" => written_data)
      expect(after["created_at"]).to eq(item["created_at"])
      expect(Float(after["updated_at"]["S"])).to be > Float(item["updated_at"]["S"])
      expect(types(after)).to eq(types(item))
      expect(after.keys).to match_array(item.keys)
      expect(error_lines).to be_empty
    end

    it "JSON: the app sees the session, a change is written back in place" do
      item = put_official(official_item(official_key, JSON.dump(session)))
      expect_round_trip(item, JSON.dump(session.merge("n" => 2)))
    end

    it "JSON: a drop destroys the item" do
      item = put_official(official_item(official_key, JSON.dump(session)))
      get "/show"
      expect(shown_session).to eq(session)
      get "/drop"
      expect(last_response.status).to eq(200)
      expect(raw_item(item["session_id"]["S"])).to be_nil
      expect(all_items).to be_empty
    end

    it "JSON: a renew moves data and created_at to a new id and deletes the old item" do
      item = put_official(official_item(official_key, JSON.dump(session)))
      get "/renew"
      expect(last_response.status).to eq(200)
      expect(cookie_value).not_to eq(item["session_id"]["S"])
      expect(raw_item(item["session_id"]["S"])).to be_nil
      renewed = raw_item(cookie_value)
      expect(renewed["data"]).to eq(item["data"])
      expect(renewed["created_at"]).to eq(item["created_at"])
      get "/show"
      expect(shown_session).to eq(session)
    end

    context "with serializer: :marshal" do
      let(:extra) { { max_stale: 3600, serializer: :marshal } }
      let(:session) { { "user_id" => 42, "role" => :admin, "ids" => [1, 2.5, nil], "n" => 1 } }

      # The exact Base64 Marshal written back proves the Symbol survived.
      it "the app sees the session, a change is written back as Base64 Marshal" do
        item = put_official(official_item(official_key, marshal_data(session)))
        expect_round_trip(item, marshal_data(session.merge("n" => 2)))
      end

      it "a drop destroys the item" do
        item = put_official(official_item(official_key, marshal_data(session)))
        get "/drop"
        expect(raw_item(item["session_id"]["S"])).to be_nil
      end
    end

    context "with serializer: :json_allow_marshal" do
      let(:extra) { { max_stale: 3600, serializer: :json_allow_marshal } }

      it "reads a Marshal item written by an older version and writes JSON back" do
        item = put_official(official_item(official_key, marshal_data(session)))
        expect_round_trip(item, JSON.dump(session.merge("n" => 2)))
      end

      it "reads a JSON item too" do
        item = put_official(official_item(official_key, JSON.dump(session)))
        expect_round_trip(item, JSON.dump(session.merge("n" => 2)))
      end
    end
  end

  describe "items from official v0.5-v2, with created_at/updated_at as N" do
    let(:session) { { "user_id" => 7 } }

    [["a float", (Time.now.to_f - 60).round(6).to_s], ["an integer", (Time.now.to_i - 60).to_s]].each do |label, stamp|
      it "reads one whose timestamps are #{label}, and updates it leaving created_at as it was" do
        item = put_official(official_item(official_key, JSON.dump(session),
                                          created_at: { "N" => stamp }, updated_at: { "N" => stamp }, expire_at: nil))
        get "/show"
        expect(last_response.status).to eq(200)
        expect(shown_session).to eq(session)
        get "/"
        expect(shown_session).to eq(session.merge("n" => 1))
        after = raw_item(item["session_id"]["S"])
        expect(after["data"]).to eq("S" => JSON.dump(session.merge("n" => 1)))
        expect(after["created_at"]).to eq("N" => stamp)
        expect(Float(after["updated_at"]["S"])).to be > Float(stamp)
        expect(error_lines).to be_empty
      end
    end

    it "renews one keeping its created_at" do
      stamp = (Time.now.to_f - 60).round(6)
      item = put_official(official_item(official_key, JSON.dump(session),
                                        created_at: { "N" => stamp.to_s }, updated_at: { "N" => stamp.to_s }))
      get "/renew"
      expect(raw_item(item["session_id"]["S"])).to be_nil
      renewed = raw_item(cookie_value)
      expect(renewed["data"]).to eq(item["data"])
      expect(Float(renewed["created_at"].values.first)).to be_within(0.001).of(stamp)
    end

    context "with max_age and max_stale" do
      let(:extra) { { max_age: 3600, max_stale: 600 } }

      it "compares N timestamps: a recent one is live, one past max_age or max_stale is not" do
        live = put_official(official_item(official_key, JSON.dump(session),
                                          created_at: { "N" => (Time.now.to_f - 60).to_s },
                                          updated_at: { "N" => (Time.now.to_f - 60).to_s }))
        get "/show"
        expect(shown_session).to eq(session)

        old = put_official(official_item(official_key, JSON.dump(session),
                                         created_at: { "N" => (Time.now.to_i - 7200).to_s },
                                         updated_at: { "N" => (Time.now.to_i - 60).to_s }))
        get "/show"
        expect(shown_session).to eq({})

        stale = put_official(official_item(official_key, JSON.dump(session),
                                           created_at: { "N" => (Time.now.to_f - 900).to_s },
                                           updated_at: { "N" => (Time.now.to_f - 900).to_s }))
        get "/show"
        expect(shown_session).to eq({})
        expect(last_response.status).to eq(200)
        expect(raw_item(live["session_id"]["S"])).not_to be_nil
        [old, stale].each { |item| expect(raw_item(item["session_id"]["S"])).to eq(item) }
      end
    end
  end

  describe "an item written by this gem" do
    def write_one(session = { "user_id" => 42, "name" => "Zoë" })
      s = Aws::SessionStore::DynamoDB::RackMiddleware.new(lambda { |env|
        session.each { |k, v| env["rack.session"][k] = v }
        [200, {}, ["ok"]]
      }, store_options(extra))
      response = Rack::MockRequest.new(Rack::Lint.new(s)).get("/")
      expect(response.status).to eq(200)
      Rack::Utils.unescape(response.headers["Set-Cookie"][/\Arack\.session=([^;]*)/, 1])
    end

    def expect_official_shape(cookie, item, expire_at:)
      expect(all_items).to eq([item])
      expect(item["session_id"]).to eq("S" => cookie)
      digest, sid = cookie.split("--", 2)
      expect(sid).to match(/\A\h{32}\z/)
      expect(digest).to eq(OpenSSL::HMAC.hexdigest("MD5", secret, sid))
      expect(cookie).to eq(official_key(sid))
      expected_types = { "session_id" => "S", "data" => "S", "created_at" => "S", "updated_at" => "S" }
      expected_types["expire_at"] = "N" if expire_at
      expect(types(item)).to eq(expected_types)
      %w[created_at updated_at].each do |name|
        expect(item[name]["S"]).to match(/\A\d{10}\.\d+\z/)
        expect(Float(item[name]["S"])).to be_within(60).of(Time.now.to_f)
      end
      expect(item["expire_at"]["N"].to_i).to be_within(5).of(Time.now.to_i + expire_at) if expire_at
    end

    it "has exactly session_id, data, created_at, updated_at, expire_at, typed as the official gem's" do
      cookie = write_one
      item = raw_item(cookie)
      # No lifetime configured: the 30-day default (+ a touch interval of an hour).
      expect_official_shape(cookie, item, expire_at: (30 * 86_400) + 3600)
      expect(item["data"]["S"]).to eq(JSON.dump("user_id" => 42, "name" => "Zoë"))
    end

    context "with max_stale" do
      let(:extra) { { max_stale: 3600 } }

      it "adds expire_at as N, now + max_stale (+ the touch interval)" do
        cookie = write_one
        expect_official_shape(cookie, raw_item(cookie), expire_at: 3600 + 180) # + touch interval
      end
    end

    context "with a cookie expire_after" do
      let(:extra) { { expire_after: 900 } }

      it "adds expire_at as N, now + expire_after (+ the touch interval)" do
        cookie = write_one
        expect_official_shape(cookie, raw_item(cookie), expire_at: 900 + 45) # + touch interval
      end
    end

    context "with serializer: :marshal" do
      let(:extra) { { serializer: :marshal } }

      it "stores data exactly as [Marshal.dump(session)].pack('m*')" do
        session = { "user_id" => 42, "role" => :admin, "list" => [1, "two", 3.0] }
        cookie = write_one(session)
        item = raw_item(cookie)
        expect_official_shape(cookie, item, expire_at: (30 * 86_400) + 3600)
        expect(item["data"]["S"]).to eq([Marshal.dump(session)].pack("m*"))
        expect(item["data"]["S"]).to include("\n")
        expect(Marshal.load(item["data"]["S"].unpack1("m*"))).to eq(session) # rubocop:disable Security/MarshalLoad
      end
    end
  end

  describe "a stub item left by the official gem's locking (session_id + locked_at only)" do
    it "gives a fresh session without locking, and leaves the stub alone" do
      key = official_key
      stub = { "session_id" => { "S" => key }, "locked_at" => { "S" => now_s } }
      raw_dynamodb.put_item(table_name, stub)
      set_cookie "rack.session=#{key}"
      get "/show"
      expect(last_response.status).to eq(200)
      expect(shown_session).to eq({})
      get "/"
      expect(last_response.status).to eq(200)
      expect(shown_session).to eq("n" => 1)
      expect(cookie_value).not_to eq(key)
      expect(raw_item(key)).to eq(stub)
      expect(JSON.parse(raw_item(cookie_value)["data"]["S"])).to eq("n" => 1)
      expect(error_lines).to be_empty
    end
  end

  describe "an item left by the official gem's renew without a data change (no data, no created_at)" do
    it "gives a fresh session (no 500), and leaves the item alone" do
      key = official_key
      broken = { "session_id" => { "S" => key }, "updated_at" => { "S" => now_s },
                 "expire_at" => { "N" => Time.now.to_i.to_s } }
      raw_dynamodb.put_item(table_name, broken)
      set_cookie "rack.session=#{key}"
      get "/"
      expect(last_response.status).to eq(200)
      expect(shown_session).to eq("n" => 1)
      expect(cookie_value).not_to eq(key)
      expect(raw_item(key)).to eq(broken)
    end
  end

  describe "serializer: :json never unmarshals" do
    let(:payload) { marshal_data("user_id" => 1, "canary" => InteropMarshalCanary.new) }

    before do
      InteropMarshalCanary.loaded = false
      allow(Marshal).to receive(:load).and_call_original
    end

    after { InteropMarshalCanary.loaded = false }

    it "the canary payload really runs marshal_load when unmarshalled" do
      Marshal.load(payload.unpack1("m*")) # rubocop:disable Security/MarshalLoad
      expect(InteropMarshalCanary.loaded).to be(true)
    end

    it "a Marshal item read with :json is a fresh session and an error line; nothing is unmarshalled" do
      item = put_official(official_item(official_key, payload))
      get "/show"
      expect(last_response.status).to eq(200)
      expect(shown_session).to eq({})
      expect(error_lines.grep(/CorruptSessionError/).size).to eq(1)
      expect(InteropMarshalCanary.loaded).to be(false)
      expect(Marshal).not_to have_received(:load)

      get "/"
      expect(cookie_value).not_to eq(item["session_id"]["S"])
      expect(raw_item(item["session_id"]["S"])).to eq(item)
      expect(InteropMarshalCanary.loaded).to be(false)
    end
  end

  describe "corrupt items" do
    corrupt = {
      "invalid JSON" => [:json, { "data" => { "S" => "{\"user_id\": 4" } }],
      "data as N" => [:json, { "data" => { "N" => "42" } }],
      "data as a Map" => [:json, { "data" => { "M" => { "user_id" => { "N" => "1" } } } }],
      "data missing, created_at present" => [:json, { omit: ["data"] }],
      "JSON that is an Array" => [:json, { "data" => { "S" => "[1,2,3]" } }],
      "JSON that is null" => [:json, { "data" => { "S" => "null" } }],
      "data an empty string" => [:json, { "data" => { "S" => "" } }],
      "invalid Base64 Marshal" => [:marshal, { "data" => { "S" => "BAh7secret-looking garbage" } }],
      "Marshal of an Array" => [:marshal, { "data" => { "S" => [Marshal.dump([1, 2])].pack("m*") } }],
      "JSON read with :marshal" => [:marshal, { "data" => { "S" => "{\"user_id\":1}" } }]
    }

    corrupt.each do |label, (serializer, spec)|
      context "#{label} (#{serializer})" do
        let(:extra) { { serializer: serializer } }

        it "gives a fresh session, status 200, a line in rack.errors, and leaves the item untouched" do
          item = official_item(official_key, spec.fetch("data", { "S" => "{}" }), omit: spec.fetch(:omit, []))
          put_official(item)
          key = item["session_id"]["S"]

          get "/"
          expect(last_response.status).to eq(200)
          expect(shown_session).to eq("n" => 1)
          expect(error_lines.size).to eq(1)
          expect(error_lines.first).to match(/\AAws::SessionStore::DynamoDB::Errors::CorruptSessionError: /)
          expect(error_lines.first).not_to include("user_id", "secret-looking")
          expect(cookie_value).not_to eq(key)
          expect(raw_item(key)).to eq(item)
          expect(JSON.parse(raw_item(cookie_value)["data"]["S"])).to eq("n" => 1) if serializer == :json
        end
      end
    end
  end
end
