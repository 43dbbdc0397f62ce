# frozen_string_literal: true

# `encrypt_data` on the in-memory client: the stored data is sealed for its
# item (AES-256-GCM from aws-lc-rs, keys by HKDF), read back, refused when
# swapped, tampered with, truncated or under a key the store was not given
# (CorruptSessionError through the handler, a fresh session, the stored
# item left alone); rotation with `encryption_keys` and `reencrypt`; the
# interplay with compression, hashed keys, locking, renew, write avoidance
# and the size limit; no key material anywhere it could leak. The same on
# DynamoDB Local: spec/integration/encryption_spec.rb.

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/memory_store"
require "json"
require "tmpdir"

RSpec.describe "encrypt_data" do
  include_context "store on the memory client"

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:prefix) { dynamo::DataCipher::PREFIX }
  let(:key_one) { "first-encryption-key-#{"1" * 32}" }
  let(:key_two) { "second-encryption-key-#{"2" * 32}" }
  let(:handled) { [] }
  let(:handler) do
    errors = handled
    Class.new(dynamo::Errors::BaseHandler) do
      define_method(:handle_error) { |error, _env = {}| errors << error }
    end.new
  end

  # "/" counts in session["n"], "/read" only reads, "/renew" renews the id
  # after reading, "/big" stores `size` bytes.
  let(:app) do
    lambda do |env|
      session = env["rack.session"]
      case env["PATH_INFO"]
      when "/read" then nil
      when "/renew" then session.to_hash && env["rack.session.options"][:renew] = true
      when %r{\A/big/(\d+)\z} then session["blob"] = "x" * Integer(Regexp.last_match(1))
      else session["n"] = session.fetch("n", 0) + 1
      end
      [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
    end
  end

  def store(**options)
    dynamo::RackMiddleware.new(app, store_options({ encrypt_data: true, error_handler: handler }.merge(options)))
  end

  def data_of(key)
    stored(key)["data"]
  end

  def key_id(key)
    dynamo::Native::Cipher.key_id(data_of(key))
  end

  def ids_of(*keys)
    dynamo::Native::Cipher.new(keys).key_ids
  end

  it "stores the data sealed, reads it back, and never stores the plaintext" do
    cookie = store_request(store).cookie
    expect(store_request(store, cookie: cookie).body).to eq("2")
    expect(data_of(cookie)).to start_with(prefix)
    expect(data_of(cookie)).not_to include('"n"')
    expect(key_id(cookie)).to eq(ids_of(StoreSpecHelpers::SECRET).first)
    expect(handled).to eq([])
  end

  it "seals equal data differently every time (a fresh nonce per write)" do
    one = store_request(store).cookie
    two = store_request(store).cookie
    expect(data_of(one)).not_to eq(data_of(two))
    # The same data for the same item, sealed twice.
    cipher = dynamo::Native::Cipher.new([StoreSpecHelpers::SECRET])
    sealed = Array.new(2) { cipher.seal('{"n":1}', table_name, "session_id", one) }
    expect(sealed.uniq.size).to eq(2)
    expect(sealed.map { |data| cipher.open(data, table_name, "session_id", one) }).to eq([['{"n":1}', true]] * 2)
  end

  it "writes nothing for an unchanged session: write avoidance compares the plaintext" do
    cookie = store_request(store).cookie
    expect { store_request(store, "/read", cookie: cookie) }.not_to(change { requests_of(:save_session).size })
  end

  describe "data that does not decrypt: CorruptSessionError, a fresh session, the item left alone" do
    def expect_refused(cookie, message)
      before = stored(cookie)
      response = store_request(store, cookie: cookie)
      expect(response.body).to eq("1")
      expect(response.cookie).not_to eq(cookie)
      expect(stored(cookie)).to eq(before)
      expect(handled.map(&:class)).to eq([dynamo::Errors::CorruptSessionError])
      expect(handled.first.message).to match(message)
    end

    it "data copied from another item (a swap)" do
      victim = store_request(store).cookie
      2.times { store_request(store, cookie: victim) }
      attacker = store_request(store).cookie
      update_stored(attacker, "data" => data_of(victim))
      expect_refused(attacker, /does not decrypt/)
      expect(store_request(store, "/read", cookie: victim).body).to eq("3")
    end

    it "tampered ciphertext" do
      cookie = store_request(store).cookie
      data = data_of(cookie).dup
      data[-5] = data[-5] == "A" ? "B" : "A"
      update_stored(cookie, "data" => data)
      expect_refused(cookie, /does not decrypt/)
    end

    it "truncated ciphertext" do
      cookie = store_request(store).cookie
      update_stored(cookie, "data" => data_of(cookie)[0, prefix.size + 20])
      expect_refused(cookie, /not valid encrypted data/)
    end

    it "a key the store was not given (a wrong or unknown key)" do
      cookie = store_request(store(encryption_keys: [key_one])).cookie
      handled.clear
      expect_refused(cookie, /key id #{ids_of(key_one).first}, which is not among encryption_keys/)
    end

    it "sealed for another table" do
      cookie = store_request(store).cookie
      sealed_elsewhere = dynamo::Native::Cipher.new([StoreSpecHelpers::SECRET]).seal('{"n":9}', "other",
                                                                                     "session_id", cookie)
      update_stored(cookie, "data" => sealed_elsewhere)
      expect_refused(cookie, /does not decrypt/)
    end

    it "with locking: the lock is released, the next request does not wait" do
      cookie = store_request(store(enable_locking: true)).cookie
      update_stored(cookie, "data" => "#{prefix}00000000:AAAA")
      expect(store_request(store(enable_locking: true), cookie: cookie).body).to eq("1")
      expect(stored(cookie)).not_to have_key("locked_at")
      expect(handled.map(&:class)).to eq([dynamo::Errors::CorruptSessionError])
    end

    it "never says the data or a key in the error" do
      cookie = store_request(store(encryption_keys: [key_one])).cookie
      data = data_of(cookie)
      update_stored(cookie, "data" => data.sub(/.....\z/, "AAAA="))
      store_request(store(encryption_keys: [key_one]), cookie: cookie)
      message = handled.map(&:message).join
      expect(message).not_to include(key_one)
      expect(message).not_to include(data[prefix.size + 9..])
    end
  end

  describe "rotation" do
    it "reads data under a previous key, writes under the current one, and reencrypt moves the rest" do
      old_store = store(encryption_keys: [key_one])
      cookies = Array.new(3) { store_request(old_store).cookie }
      plain = store_request(store(encrypt_data: false)).cookie
      rotated = store(encryption_keys: [key_two, key_one])
      # Read under the previous key; the next write seals under the current one.
      expect(store_request(rotated, cookie: cookies[0]).body).to eq("2")
      expect(key_id(cookies[0])).to eq(ids_of(key_two).first)
      expect(key_id(cookies[1])).to eq(ids_of(key_one).first)

      options = store_options(encrypt_data: true, encryption_keys: [key_two, key_one], state_file: nil)
      dry = dynamo::Migration.reencrypt(options.merge(dry_run: true))
      expect(dry.to_h).to include(scanned: 4, current: 1, previous_key: 2, plaintext: 1, rewritten: 3)
      expect(key_id(cookies[1])).to eq(ids_of(key_one).first)
      result = dynamo::Migration.reencrypt(options)
      expect(result.to_h).to include(scanned: 4, current: 1, previous_key: 2, plaintext: 1, rewritten: 3,
                                     undecryptable: 0, changed_meanwhile: 0)
      expect([*cookies, plain].map { |cookie| key_id(cookie) }.uniq).to eq(ids_of(key_two))
      # The old key can go: every session reads under the new one alone.
      current_only = store(encryption_keys: [key_two], refuse_plaintext: true)
      expect([*cookies, plain].map { |c| store_request(current_only, "/read", cookie: c).body }).to eq(%w[2 1 1 1])
      expect(handled).to eq([])
      expect(dynamo::Migration.reencrypt(options).rewritten).to eq(0)
    end

    it "reencrypt counts data it can't decrypt and leaves it, and skips an item changed meanwhile" do
      cookie = store_request(store(encryption_keys: [key_one])).cookie
      lost = store_request(store(encryption_keys: [key_two])).cookie
      stale_client = Class.new(SimpleDelegator) do
        def rewrite_item(request)
          __getobj__.put(request.key, __getobj__.item(request.key).merge("data" => "changed"))
          __getobj__.rewrite_item(request)
        end
      end.new(client)
      dynamo::Native.client_factory = ->(_) { stale_client }
      result = dynamo::Migration.reencrypt(store_options(encrypt_data: true, encryption_keys: [key_two],
                                                         state_file: nil))
      expect(result.to_h).to include(undecryptable: 1, current: 1, rewritten: 0, changed_meanwhile: 0)
      expect(stored(cookie)["data"]).to start_with(prefix)
      result = dynamo::Migration.reencrypt(store_options(encrypt_data: true, encryption_keys: [key_one, key_two],
                                                         state_file: nil))
      expect(result.to_h).to include(current: 1, previous_key: 1, rewritten: 0, changed_meanwhile: 1)
      expect(stored(lost)["data"]).to eq("changed")
    end

    it "reencrypt resumes an interrupted run from its own state file, and refuses a migrate run's" do
      Dir.mktmpdir("reencrypt-state") do |dir|
        state = File.join(dir, "state.json")
        150.times { |i| plant(format("k%03d", i), "data" => '{"n":1}', "created_at" => "1.0", "updated_at" => "1.0") }
        options = store_options(encrypt_data: true, state_file: state)
        expect { dynamo::Migration.reencrypt(options) { |_| raise Interrupt } }.to raise_error(Interrupt)
        expect(JSON.parse(File.read(state))).to include("reencrypt" => true, "scanned" => 100, "start_key" => "k099")
        expect { dynamo::Migration.migrate(store_options(state_file: state)) }
          .to raise_error(dynamo::Errors::ConfigurationError, /made by a run with reencrypt, dry_run=false/)
        result = nil
        expect { result = dynamo::Migration.reencrypt(options) }.to output(/resuming sessions .*100 items/).to_stderr
        expect(result.to_h).to include(resumed: true, scanned: 50, plaintext: 50, rewritten: 50)
        expect(File.exist?(state)).to be(false)
        expect(stored_items.map { |item| item["data"][0, prefix.size] }.uniq).to eq([prefix])
      end
    end

    it "reencrypt refuses to run without encrypt_data" do
      expect { dynamo::Migration.reencrypt(store_options(state_file: nil)) }
        .to raise_error(dynamo::Errors::ConfigurationError, /needs :encrypt_data/)
    end
  end

  describe "plaintext items" do
    it "are read, and encrypted at their next write" do
      cookie = store_request(store(encrypt_data: false)).cookie
      expect(data_of(cookie)).to eq('{"n":1}')
      update_stored(cookie, "updated_at" => (Time.now.to_f - 7200).to_s) # a touch is due
      expect(store_request(store, "/read", cookie: cookie).body).to eq("1")
      expect(data_of(cookie)).to start_with(prefix)
    end

    it "are refused with refuse_plaintext" do
      cookie = store_request(store(encrypt_data: false)).cookie
      expect(store_request(store(refuse_plaintext: true), cookie: cookie).body).to eq("1")
      expect(handled.map(&:message)).to eq(["Stored session data is not encrypted (refuse_plaintext)"])
      expect(data_of(cookie)).to eq('{"n":1}')
    end

    it "encrypted ones are still read with encrypt_data off, and written back in plaintext" do
      cookie = store_request(store).cookie
      expect(store_request(store(encrypt_data: false), cookie: cookie).body).to eq("2")
      expect(data_of(cookie)).to eq('{"n":2}')
    end
  end

  describe "with the other options" do
    it "compresses before it encrypts" do
      cookie = store_request(store(compress_data_above: 100), "/big/5000").cookie
      data = data_of(cookie)
      expect(data).to start_with(prefix)
      expect(data.bytesize).to be < 1000
      opened, = dynamo::Native::Cipher.new([StoreSpecHelpers::SECRET]).open(data, table_name, "session_id", cookie)
      expect(opened).to start_with(dynamo::Serializer::Compressed::PREFIX)
      expect(store_request(store(compress_data_above: 100), cookie: cookie).body).to eq("1")
    end

    it "with hashed_keys: the data is sealed for the hashed key, and moved sessions are sealed again" do
      cookie = store_request(store).cookie
      expect(store_request(store(hashed_keys: true), cookie: cookie).body).to eq("2")
      expect(stored(cookie)).to be_nil
      expect(data_of(hashed(cookie))).to start_with(prefix)
      expect(store_request(store(hashed_keys: true), "/read", cookie: cookie).body).to eq("2")
      expect(handled).to eq([])
    end

    it "with locking: read under the lock, saved sealed" do
      locking = store(enable_locking: true)
      cookie = store_request(locking).cookie
      expect(store_request(locking, cookie: cookie).body).to eq("2")
      expect(data_of(cookie)).to start_with(prefix)
      expect(stored(cookie)).not_to have_key("locked_at")
    end

    it "renew: the new id's data is sealed for the new id" do
      cookie = store_request(store).cookie
      renewed = store_request(store, "/renew", cookie: cookie).cookie
      expect(renewed).not_to eq(cookie)
      expect(stored(cookie)).to be_nil
      expect(store_request(store, "/read", cookie: renewed).body).to eq("1")
      expect(handled).to eq([])
    end

    it "refuses a session too large once sealed, and keeps the stored one" do
      limit = dynamo::Native::ITEM_SIZE_LIMIT
      cookie = store_request(store).cookie
      # Fits in plaintext, not once sealed (Base64: 4/3).
      store_request(store, "/big/#{limit - 50_000}", cookie: cookie)
      expect(handled.map(&:class)).to eq([dynamo::Errors::SessionTooLargeError])
      expect(store_request(store, "/read", cookie: cookie).body).to eq("1")
    end
  end

  describe "configuration" do
    it "refuses encrypt_data without a key, a short secret, bad encryption_keys and a lone refuse_plaintext" do
      error = dynamo::Errors::ConfigurationError
      expect { store(secret_key: "short") }.to raise_error(error, /secret_key of at least 32 bytes/)
      expect { store(encryption_keys: ["short"]) }.to raise_error(error, /encryption_keys must be .* \(got Array\)/)
      expect { store(encryption_keys: [key_one, key_one]) }.to raise_error(error, /repeats an earlier key/)
      expect { store(encryption_keys: "#{key_one},#{key_two}") }.to raise_error(error, /got String\)/)
      expect { dynamo::Configuration.new(refuse_plaintext: true) }.to raise_error(error, /needs :encrypt_data/)
      expect { dynamo::DataCipher.for(dynamo::Configuration.new(encrypt_data: true)) }
        .to raise_error(error, /needs :secret_key or :encryption_keys/)
    end

    it "reads encryption_keys from ENV, split at commas or spaces" do
      ENV["AWS_DYNAMO_DB_SESSION_ENCRYPTION_KEYS"] = " #{key_two}, #{key_one} "
      expect(dynamo::Configuration.new.encryption_keys).to eq([key_two, key_one])
    ensure
      ENV.delete("AWS_DYNAMO_DB_SESSION_ENCRYPTION_KEYS")
    end

    it "shows no key in inspect, errors or event payloads" do
      payloads = []
      dynamo::Instrumentation.subscribe { |event| payloads << event.payload }
      middleware = store(encryption_keys: [key_one, key_two])
      cookie = store_request(middleware).cookie
      store_request(middleware, cookie: cookie)
      config = dynamo::Configuration.new(encrypt_data: true, encryption_keys: [key_one, key_two])
      cipher = dynamo::DataCipher.for(config)
      shown = [config.inspect, cipher.inspect, cipher.to_s, middleware.inspect, payloads.inspect,
               dynamo::Native::Cipher.new([key_one]).inspect]
      expect(shown.join).not_to include(key_one[0, 20])
      expect(shown.join).not_to include(key_two[0, 20])
      expect(cipher.inspect).to include(*ids_of(key_one, key_two))
    ensure
      dynamo::Instrumentation.reset!
    end
  end
end
