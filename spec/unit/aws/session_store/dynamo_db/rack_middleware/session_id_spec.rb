# frozen_string_literal: true

# Session ids as Rack (PersistedSecure) and Rails expect them: a
# Rack::Session::SessionId whose public id is the cookie, read the same four
# ways before and after a reset, with the stored items' keys as they always
# were (the clear cookie, or with hashed_keys its HMAC-SHA256), and every id
# from the user's side checked before use. The Rails side is in
# spec/integration/rails_integration_spec.rb.

require "aws-sessionstore-dynamodb-rs"
require "digest"
require_relative "../../../../../support/memory_store"

# The app behind the store: "/" counts, "/read" only reads, "/reset"
# counts, destroys the session (Rack's reset_session) and counts again;
# "/early" reads session.id before anything loads the session. The body is
# the id read the four ways, before (and after) the reset.
module SessionIdSpecApp
  module_function

  # session[:session_id] first, as an app would: it loads the session.
  def ids(env)
    session = env["rack.session"]
    id = session[:session_id]
    option = env["rack.session.options"][:id]
    { "sym" => id, "str" => session["session_id"], "public_id" => session.id&.public_id,
      "to_s" => session.id.to_s, "option" => option&.to_s,
      "classes" => [session.id.class.name, option.class.name].uniq, "private_id" => session.id&.private_id }
  end

  def call(env)
    session = env["rack.session"]
    early = env["PATH_INFO"] == "/early" ? { "early" => session.id&.public_id } : {}
    session["n"] = session.fetch("n", 0) + 1 unless env["PATH_INFO"] == "/read"
    body = early.merge("before" => ids(env))
    if env["PATH_INFO"] == "/reset"
      session.destroy
      session["n"] = 1
      body["after"] = ids(env)
    end
    [200, { "content-type" => "application/json" }, [JSON.generate(body)]]
  end
end

RSpec.describe "Session ids (Rack::Session::SessionId)" do
  include_context "store on the memory client"

  def store(**extra)
    Aws::SessionStore::DynamoDB::RackMiddleware.new(SessionIdSpecApp, store_options({ max_stale: 3600 }.merge(extra)))
  end

  def body(response)
    JSON.parse(response.body)
  end

  def agree(ids, cookie)
    expect(ids.slice("sym", "str", "public_id", "to_s", "option").values.uniq).to eq([cookie])
    expect(ids["classes"]).to eq(["Rack::Session::SessionId"])
    # Rack's meaning: a SHA-256 digest of the public id.
    expect(ids["private_id"]).to eq("2::#{Digest::SHA256.hexdigest(cookie)}")
  end

  def keys
    stored_keys
  end

  [false, true].each do |hashed_keys|
    context(hashed_keys ? "with hashed_keys" : "with clear keys") do
      let(:options) { { hashed_keys: hashed_keys } }

      def storage_key(cookie)
        options[:hashed_keys] ? hashed(cookie) : cookie
      end

      it "gives the cookie's value as the id, the same all four ways, in every request" do
        first = store_request(store(**options))
        expect(first.cookie).to match(/\A\h{32}--\h{32}\z/)
        agree(body(first)["before"], first.cookie)

        [["/read", 1], ["/", 2]].each do |path, n|
          again = store_request(store(**options), path, cookie: first.cookie)
          expect(again.cookie).to be_nil # the same cookie goes on
          agree(body(again)["before"], first.cookie)
          expect(JSON.parse(stored_items.first["data"])).to eq("n" => n)
        end
        # The item's key is what it always was.
        expect(keys).to eq([storage_key(first.cookie)])
      end

      it "gives the new id after a reset, all four ways, and it is the new cookie" do
        old = store_request(store(**options)).cookie
        reset = store_request(store(**options), "/reset", cookie: old)
        ids = body(reset)
        agree(ids["before"], old)
        expect(reset.cookie).to match(/\A\h{32}--\h{32}\z/)
        expect(reset.cookie).not_to eq(old)
        agree(ids["after"], reset.cookie)
        expect(keys).to eq([storage_key(reset.cookie)])
        agree(body(store_request(store(**options), "/read", cookie: reset.cookie))["before"], reset.cookie)
      end

      it "reads and saves an item stored as before (the official gem's cookie and key) where it is" do
        sid = SecureRandom.hex(16)
        cookie = "#{OpenSSL::HMAC.hexdigest("MD5", StoreSpecHelpers::SECRET, sid)}--#{sid}"
        now = Time.now.to_f.to_s
        plant(storage_key(cookie), "data" => '{"n":5}', "created_at" => now, "updated_at" => now)
        response = store_request(store(**options), cookie: cookie)
        expect(response.cookie).to be_nil
        agree(body(response)["before"], cookie)
        expect(keys).to eq([storage_key(cookie)])
        expect(stored_items.first["data"]).to eq('{"n":6}')
      end
    end
  end

  it "shows nothing of the storage key in the public id under hashed_keys" do
    cookie = store_request(store(hashed_keys: true)).cookie
    key = keys.first
    private_id = body(store_request(store(hashed_keys: true), "/read", cookie: cookie))["before"]["private_id"]
    expect(key).to eq(hashed(cookie))
    # Neither the public id nor Rack's private id (computable from it) is
    # the key: that takes the secret.
    expect([cookie, private_id, private_id.delete_prefix("2::"), Digest::SHA256.hexdigest(cookie)]).not_to include(key)
    expect(cookie).not_to include(key[0, 16])
  end

  it "never shows a forged cookie as the id, even before the session is loaded" do
    victim = store_request(store).cookie
    forged = "#{"0" * 32}--#{victim.split("--").last}"
    ["garbage", forged, "#{victim}x"].each do |value|
      response = store_request(store, "/early", cookie: value)
      ids = body(response)
      expect(response.cookie).not_to eq(value)
      # nil before the load; the new id when something loaded it already
      # (Rack 3's Rack::Lint reads the session's to_hash first).
      expect([nil, response.cookie]).to include(ids["early"])
      agree(ids["before"], response.cookie)
      expect(response.errors).to eq("Aws::SessionStore::DynamoDB::Errors::InvalidIDError: Corrupt Session ID!\n")
    end
    # A signed cookie is the id from the start.
    expect(body(store_request(store, "/early", cookie: victim))["early"]).to eq(victim)
    expect(JSON.parse(stored(victim)["data"])).to eq("n" => 2)
  end

  it "deletes nothing for a forged cookie on renew or drop, even when the session was never loaded" do
    # An item under an unsigned key (planted, or left by another app).
    forged = "#{"0" * 32}--#{SecureRandom.hex(16)}"
    now = Time.now.to_f.to_s
    plant(forged, "data" => '{"n":1}', "created_at" => now, "updated_at" => now)
    %i[renew drop].each do |option|
      app = lambda do |env|
        env["rack.session.options"][option] = true
        [200, {}, [""]]
      end
      mw = Aws::SessionStore::DynamoDB::RackMiddleware.new(app, store_options(max_stale: 3600))
      expect(store_request(mw, cookie: forged).status).to eq(200)
      expect(stored(forged)).not_to be_nil, "deleted on #{option}"
    end
  end

  it "treats an empty cookie as no cookie: no error, no id until the session is written" do
    response = store_request(store, "/read", raw_cookie: "rack.session=")
    expect(response.errors).to eq("")
    expect(body(response)["before"]["sym"]).to be_nil
  end

  describe "ids handed to the store's methods" do
    # Runs `block` inside a request through the store, with the store and
    # the request; returns what it returned and what went to rack.errors.
    def inside(&block)
      result = nil
      holder = []
      app = lambda do |env|
        result = block.call(holder.first, Rack::Request.new(env))
        [200, {}, [""]]
      end
      holder << Aws::SessionStore::DynamoDB::RackMiddleware.new(app, store_options(max_stale: 3600))
      errors = store_request(holder.first, "/read").errors
      [result, errors]
    end

    let(:victim) { store_request(store).cookie }
    let(:forged) { Rack::Session::SessionId.new("#{"f" * 32}--#{victim.split("--").last}") }

    it "find_session: a SessionId whose public id is forged finds nothing and reports InvalidIDError" do
      victim
      (sid, session), errors = inside { |s, req| s.find_session(req, forged) }
      expect(sid).to be_a(Rack::Session::SessionId)
      expect(sid.public_id).not_to eq(forged.public_id)
      expect(session).to eq({})
      expect(errors).to include("InvalidIDError")
      # A signed one, as a SessionId or a String, finds its session.
      [Rack::Session::SessionId.new(victim), victim].each do |given|
        (found, data), = inside { |s, req| s.find_session(req, given) }
        expect([found.public_id, data]).to eq([victim, { "n" => 1 }])
      end
    end

    it "delete_session: a forged id deletes nothing; a new SessionId comes back" do
      victim
      # An item under the forged key (planted, or left by another app).
      now = Time.now.to_f.to_s
      plant(forged.public_id, "data" => "{}", "created_at" => now, "updated_at" => now)
      options = {}
      new_sid, = inside { |s, req| s.delete_session(req, forged, options) }
      expect(new_sid).to be_a(Rack::Session::SessionId)
      expect(options[:id]).to equal(new_sid)
      expect(stored(forged.public_id)).not_to be_nil
      expect(stored(victim)).not_to be_nil
      dropped, = inside { |s, req| s.delete_session(req, victim, { drop: true }) }
      expect(dropped).to be_nil
      expect(stored(victim)).to be_nil
    end

    it "write_session: a forged id writes nothing and reports InvalidIDError" do
      victim
      written, errors = inside { |s, req| s.write_session(req, forged, { "n" => 9 }, {}) }
      expect(written).to be(false)
      expect(errors).to include("InvalidIDError")
      expect(keys).to eq([victim])
      expect(JSON.parse(stored(victim)["data"])).to eq("n" => 1)
    end
  end

  describe "SameSite in plain Rack" do
    def set_cookie_header(**extra)
      store_request(store(**extra)).headers["Set-Cookie"].to_s.downcase
    end

    it "is Rack's: no attribute unless same_site is given" do
      expect(set_cookie_header).not_to include("samesite")
      expect(set_cookie_header(same_site: :strict)).to include("samesite=strict")
      expect(set_cookie_header(same_site: :lax)).to include("samesite=lax")
      expect(set_cookie_header(same_site: ->(_req, _res) { :none })).to include("samesite=none")
    end
  end
end
