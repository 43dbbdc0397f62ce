# frozen_string_literal: true

# One user's sessions on the in-memory client: the middleware with
# `user_key` (which user an item names, its record, write avoidance kept),
# and UserSessions' list, revoke and revoke_one. The races against real
# requests and DynamoDB are in spec/integration/user_sessions_spec.rb.

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/memory_store"

RSpec.describe Aws::SessionStore::DynamoDB::UserSessions do
  include_context "store on the memory client"

  let(:mod) { Aws::SessionStore::DynamoDB }
  let(:extra) { { user_key: "user_id" } }

  # "/login/<id>" signs in as <id>, "/logout" signs out (keeping the
  # session), "/renew" renews the id (after reading the session, as Rails'
  # reset_session does: Rack loads an unread session after deleting it),
  # "/" counts, "/read" only reads;
  # "/revoke-others" and "/list" call UserSessions for the signed-in user
  # with this request's session as the current one.
  let(:inner_app) do
    options = method(:store_options).call(extra)
    lambda do |env|
      session = env["rack.session"]
      body = case env["PATH_INFO"]
             when %r{\A/login/(.+)\z} then session["user_id"] = Regexp.last_match(1)
             when "/logout" then session.delete("user_id")
             when "/renew" then session.to_hash && env["rack.session.options"][:renew] = true
             when "/read" then session["user_id"]
             when "/revoke-others" then described_class.revoke(session["user_id"], except: session, **options)
             when "/list"
               described_class.list(session["user_id"], current: session, **options).map(&:current).inspect
             else session["n"] = session.fetch("n", 0) + 1
             end
      [200, { "content-type" => "text/plain" }, [body.to_s]]
    end
  end
  let(:store) { mod::RackMiddleware.new(inner_app, store_options(extra)) }

  # The table has the user index, as create_table with user_key makes it.
  before { client.add_user_index(nil) }

  def login(user, cookie: nil, env: {})
    store_request(store, "/login/#{user}", cookie: cookie, env: env).cookie
  end

  def user_keys(user)
    client.user_session_keys(mod::Native::UserRequest.new(table: table_name, key_name: "session_id", user: user))
          .map(&:first)
  end

  describe "the middleware with user_key" do
    it "writes user_id on sign-in, after adding the session's key to the user's record" do
      cookie = login("42")
      expect(stored(cookie)).to include("user_id" => "42")
      expect(operations.last(2)).to eq(%i[track_user_session save_session])
      expect(user_keys("42")).to eq([cookie])
    end

    it "writes nothing for an unchanged signed-in session (write avoidance stays)" do
      cookie = login("42")
      calls = operations.size
      store_request(store, "/read", cookie: cookie)
      expect(operations.drop(calls)).to eq(%i[get_item])
    end

    it "writes a change of user even when the data would not be rewritten, and removes user_id on sign-out" do
      cookie = login("42")
      login("7", cookie: cookie)
      expect(stored(cookie)["user_id"]).to eq("7")
      expect(user_keys("7")).to eq([cookie])
      store_request(store, "/logout", cookie: cookie)
      expect(stored(cookie)).not_to have_key("user_id")
      expect(requests_of(:track_user_session).size).to eq(2)
    end

    it "keeps the user through renew: the new id is tracked and holds user_id" do
      cookie = login("42")
      renewed = store_request(store, "/renew", cookie: cookie).cookie
      expect(renewed).not_to eq(cookie)
      expect(stored(renewed)).to include("user_id" => "42")
      expect(user_keys("42")).to include(renewed)
    end

    it "with hashed_keys stores a keyed hash of the user id, never the id (OpenSSL computes the same)" do
      extra[:hashed_keys] = true
      cookie = login("42")
      item = stored(hashed(cookie))
      expect(item["user_id"]).to eq(hashed_user("42"))
      expect(item.values.map(&:to_s)).not_to include("42")
      expect(user_keys(hashed_user("42"))).to eq([hashed(cookie)])
    end

    it "takes a callable for ids nested in the session, as Warden keeps them" do
      extra[:user_key] = ->(session) { session.dig("warden.user.user.key", 0, 0) }
      app = lambda do |env|
        env["rack.session"]["warden.user.user.key"] = [[42], "salt"]
        [200, {}, [""]]
      end
      cookie = store_request(mod::RackMiddleware.new(app, store_options(extra))).cookie
      expect(stored(cookie)["user_id"]).to eq("42")
    end

    it "keeps the User-Agent (200 characters) only with keep_user_agent" do
      agent = { "HTTP_USER_AGENT" => "A" * 300 }
      cookie = login("42", env: agent)
      expect(stored(cookie)).not_to have_key("user_agent")
      keeping = mod::RackMiddleware.new(inner_app, store_options(extra.merge(keep_user_agent: true)))
      cookie = store_request(keeping, "/login/42", env: agent).cookie
      expect(stored(cookie)["user_agent"]).to eq("A" * 200)
      expect(described_class.list("42", **store_options).map(&:user_agent)).to contain_exactly(nil, "A" * 200)
    end

    it "refuses a callable's failure as a configuration error, saving nothing, without its message" do
      extra[:user_key] = ->(_session) { raise ArgumentError, "secret-in-message" }
      extra[:raise_errors] = true
      expect { login("42") }.to raise_error(mod::Errors::ConfigurationError) { |e|
        expect(e.message).to eq("user_key: the callable raised ArgumentError")
      }
      expect(stored_keys).to be_empty
    end

    it "refuses a user id that is neither a String nor an Integer" do
      extra[:user_key] = ->(_session) { [1] }
      extra[:raise_errors] = true
      expect { login("42") }.to raise_error(mod::Errors::ConfigurationError, /must be a String or an Integer, not Array/)
    end

    it "without user_key writes no user_id and makes no user call" do
      extra.delete(:user_key)
      cookie = login("42")
      expect(stored(cookie)).not_to have_key("user_id")
      expect(operations).not_to include(:track_user_session)
    end
  end

  describe "a user's record that is full (DynamoDB's 400 KB)" do
    it "drops the old entries of gone sessions, then tracks the sign-in" do
      old = Time.now.to_i - described_class::PRUNE_AFTER - 1
      entries = (1..5400).to_h { |i| ["s:gone-#{i.to_s.rjust(60, "0")}", old] }
      client.put("user#42", { "session_id" => "user#42" }.merge(entries))
      cookie = login("42")
      expect(stored(cookie)).to include("user_id" => "42")
      expect(user_keys("42")).to eq([cookie])
    end

    it "past MAX_SESSIONS live sessions, signs out the user's oldest" do
      stub_const("#{described_class}::MAX_SESSIONS", 3)
      stub_const("MemoryClient::ITEM_LIMIT", 450) # five entries fit, not six
      cookies = Array.new(5) { login("42") }
      # Signed in one second apart, oldest first.
      dated = cookies.each_with_index.to_h { |cookie, i| ["s:#{cookie}", 1_700_000_000 + i] }
      client.put("user#42", client.item("user#42").merge(dated))
      newest = login("42")
      expect(cookies.map { |cookie| stored(cookie) ? :in : :out }).to eq(%i[out out out in in])
      expect(user_keys("42")).to contain_exactly(cookies[3], cookies[4], newest)
    end
  end

  describe ".list" do
    it "shows each of the user's sessions: a handle that is neither cookie nor key, dates, current" do
      mine = login("42")
      other = login("42")
      login("7")
      listed = described_class.list("42", **store_options)
      expect(listed.map(&:handle)).to contain_exactly(handle_of(mine), handle_of(other))
      expect(listed.map(&:handle)).not_to include(mine, other)
      expect(listed).to all(have_attributes(created_at: be_a(Time), updated_at: be_a(Time), current: false,
                                            user_agent: nil))
      expect(store_request(store, "/list", cookie: mine).body).to eq("[false, true]").or eq("[true, false]")
    end

    it "answers an empty list for a user without sessions" do
      expect(described_class.list("nobody", **store_options)).to eq([])
    end
  end

  describe ".revoke" do
    it "deletes every session of the user; their next request gets a new, signed-out session" do
      first = login("42")
      second = login("42")
      someone = login("7")
      expect(described_class.revoke("42", **store_options)).to eq(2)
      [first, second].each do |cookie|
        expect(stored(cookie)).to be_nil
        expect(store_request(store, "/read", cookie: cookie).body).to eq("")
      end
      expect(stored(someone)).to include("user_id" => "7")
    end

    it "keeps the current session with except: (sign out everywhere else)" do
      mine = login("42")
      other = login("42")
      expect(store_request(store, "/revoke-others", cookie: mine).body).to eq("1")
      expect(stored(mine)).to include("user_id" => "42")
      expect(stored(other)).to be_nil
      expect(store_request(store, "/read", cookie: mine).body).to eq("42")
    end

    it "keeps a session that changed hands since it was tracked" do
      cookie = login("42")
      login("7", cookie: cookie)
      expect(described_class.revoke("42", **store_options)).to eq(0)
      expect(stored(cookie)).to include("user_id" => "7")
    end

    it "a request that read the session before the revoke cannot save it back" do
      cookie = login("42")
      app = lambda do |env|
        env["rack.session"]["n"] = 1
        described_class.revoke("42", **store_options)
        [200, {}, [""]]
      end
      store_request(mod::RackMiddleware.new(app, store_options(extra)), cookie: cookie)
      expect(stored(cookie)).to be_nil
    end

    it "with hashed_keys finds the user's sessions by the same keyed hash" do
      extra[:hashed_keys] = true
      cookie = login("42")
      expect(described_class.revoke(42, **store_options(hashed_keys: true))).to eq(1)
      expect(stored(hashed(cookie))).to be_nil
    end

    it "drops entries older than PRUNE_AFTER whose session is gone; keeps younger ones" do
      cookie = login("42")
      forget(cookie)
      young = login("42")
      forget(young)
      record = "user#42"
      client.put(record, client.item(record).merge("s:#{cookie}" => Time.now.to_i - described_class::PRUNE_AFTER - 1))
      expect(described_class.revoke("42", **store_options)).to eq(0)
      expect(user_keys("42")).to eq([young])
    end
  end

  describe "the user index beside the records" do
    it "reads both: a session only the index holds is listed and revoked" do
      cookie = login("42")
      client.remove("user#42") # a record deleted, or restored apart from its sessions
      expect(described_class.list("42", **store_options).map(&:handle)).to eq([handle_of(cookie)])
      expect(described_class.revoke("42", **store_options)).to eq(1)
      expect(stored(cookie)).to be_nil
    end

    it "does not rest on the index: a session it does not show yet is still revoked" do
      cookie = login("42")
      client.index_lag << cookie
      expect(described_class.list("42", **store_options).size).to eq(1)
      expect(described_class.revoke("42", **store_options)).to eq(1)
      expect(stored(cookie)).to be_nil
      expect(operations).to include(:user_index_keys)
    end

    it "never prunes the record for what the index alone shows" do
      cookie = login("42")
      old = Time.now.to_i - described_class::PRUNE_AFTER - 1
      client.put("user#42", client.item("user#42").merge("s:#{cookie}" => old))
      client.index_lag << cookie
      gone = login("42")
      client.remove(gone) # a logout: the index forgets it, the record keeps it until pruned
      expect(described_class.list("42", **store_options).size).to eq(1)
      expect(user_keys("42")).to contain_exactly(cookie, gone)
    end

    it "with user_index: false, reads the records only" do
      login("42")
      expect(described_class.revoke("42", **store_options(user_index: false))).to eq(1)
      expect(operations).not_to include(:user_index_keys)
    end

    it "without the index, warns once per table and answers from the records" do
      client.remove_user_index(nil)
      login("42")
      options = store_options(table_name: "sessions-#{SecureRandom.hex(4)}")
      expect { expect(described_class.list("42", **options).size).to eq(1) } # the memory client has one table
        .to output(/user index user_id-index of table #{options[:table_name]} can't be read \(.*The table does not have/)
        .to_stderr
      expect { described_class.list("42", **options) }.not_to output.to_stderr
    end
  end

  describe ".of (the store behind a request)" do
    let(:scoped_app) do
      lambda do |env|
        session = env["rack.session"]
        scope = described_class.of(Rack::Request.new(env))
        body = case env["PATH_INFO"]
               when %r{\A/login/(.+)\z} then session["user_id"] = Regexp.last_match(1)
               when "/others" then scope.revoke_others(session["user_id"])
               when "/all" then scope.revoke(session["user_id"])
               when "/list" then scope.list(session["user_id"]).map { |e| e.current ? 1 : 0 }.sort.inspect
               end
        [200, { "content-type" => "text/plain" }, [body.to_s]]
      end
    end
    let(:scoped) { mod::RackMiddleware.new(scoped_app, store_options(extra)) }

    it "signs out everywhere else in one line, with the store's own options" do
      mine = store_request(scoped, "/login/42").cookie
      other = store_request(scoped, "/login/42").cookie
      expect(store_request(scoped, "/list", cookie: mine).body).to eq("[0, 1]")
      expect(store_request(scoped, "/others", cookie: mine).body).to eq("1")
      expect([stored(mine)&.fetch("user_id"), stored(other)]).to eq(["42", nil])
      expect(store_request(scoped, "/all", cookie: mine).body).to eq("1")
      expect(stored(mine)).to be_nil
    end

    it "raises ConfigurationError for a request no store with user_key handled" do
      expect { described_class.of({}) }.to raise_error(mod::Errors::ConfigurationError, /no DynamoDB session store/)
      plain = mod::RackMiddleware.new(scoped_app, store_options)
      expect { store_request(plain, "/list", lint: false) }.to raise_error(mod::Errors::ConfigurationError)
    end
  end

  describe ".revoke_one" do
    it "deletes the session a handle names, only for its user" do
      cookie = login("42")
      expect(described_class.revoke_one("7", handle_of(cookie), **store_options)).to be(false)
      expect(described_class.revoke_one("42", "not-a-handle", **store_options)).to be(false)
      expect(described_class.revoke_one("42", handle_of(cookie), **store_options)).to be(true)
      expect(stored(cookie)).to be_nil
    end
  end
end
