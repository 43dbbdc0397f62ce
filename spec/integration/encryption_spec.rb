# frozen_string_literal: true

# `encrypt_data` against DynamoDB Local: sealed items round-trip with
# locking on and off; a logout during a slow request stays a logout (two
# real requests, one paused in its app); data swapped between items is
# refused without touching either; a session moved to its hashed key is
# sealed for the new key in the move's transaction; garbage collection
# takes encrypted sessions as any other; rotation end to end, through the
# command line's `reencrypt` and the rake task.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/store_requests"
require_relative "../support/storage_keys"
require "open3"
require "rbconfig"
require "tmpdir"

RSpec.describe "encrypt_data on DynamoDB Local" do
  include_context "with a session table"
  include StorageKeys
  include StoreRequestHelpers

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:prefix) { dynamo::DataCipher::PREFIX }
  let(:old_key) { "old-encryption-key-#{"o" * 32}" }
  let(:new_key) { "new-encryption-key-#{"n" * 32}" }
  let(:handled) { [] }
  let(:handler) do
    errors = handled
    Class.new(dynamo::Errors::BaseHandler) { define_method(:handle_error) { |error, _env = {}| errors << error } }.new
  end

  def sealing(**options)
    counter(encrypt_data: true, error_handler: handler, **options)
  end

  def stored_data(key)
    raw_item(key)["data"]["S"]
  end

  def key_id(key)
    dynamo::Native::Cipher.key_id(stored_data(key))
  end

  def id_of(key)
    dynamo::Native::Cipher.new([key]).key_ids.first
  end

  [false, true].each do |locking|
    context "with locking #{locking ? "on" : "off"}" do
      let(:options) { { enable_locking: locking } }

      it "stores the data sealed, and reads it back" do
        cookie = store_request(sealing(**options)).cookie
        expect(store_request(sealing(**options), cookie: cookie).body).to eq("2")
        expect(stored_data(cookie)).to start_with(prefix)
        expect(stored_data(cookie)).not_to include('"n"')
        expect(raw_item(cookie)).not_to have_key("locked_at")
      end

      it "keeps a session logged out when a request that read it before the logout saves after" do
        cookie = store_request(sealing(**options)).cookie
        read = Queue.new
        go = Queue.new
        slow_app = lambda do |env|
          env["rack.session"]["n"]
          read << true
          go.pop
          env["rack.session"]["n"] = 99
          [200, {}, ["slow"]]
        end
        slow_store = middleware(slow_app, encrypt_data: true, **options)
        slow = Thread.new { store_request(slow_store, cookie: cookie) }
        read.pop
        logout = lambda do |env|
          env["rack.session"]["n"]
          env["rack.session.options"][:drop] = true
          [200, {}, ["bye"]]
        end
        expect(store_request(middleware(logout, encrypt_data: true, **options), cookie: cookie).body).to eq("bye")
        go << true
        slow.value
        expect(all_items).to be_empty
        expect(store_request(sealing(**options), "/read", cookie: cookie).body).to eq("")
      end
    end
  end

  it "refuses data swapped from another item, and touches neither" do
    victim = store_request(sealing).cookie
    attacker = store_request(sealing).cookie
    raw_dynamodb.put_item(table_name, raw_item(attacker).merge("data" => { "S" => stored_data(victim) }))
    before = [raw_item(victim), raw_item(attacker)]
    response = store_request(sealing, cookie: attacker)
    expect([response.body, response.cookie == attacker]).to eq(["1", false])
    expect(handled.map(&:class)).to eq([dynamo::Errors::CorruptSessionError])
    expect([raw_item(victim), raw_item(attacker)]).to eq(before)
  end

  it "a session moved to its hashed key is sealed for that key" do
    cookie = store_request(sealing).cookie
    expect(store_request(sealing(hashed_keys: true), cookie: cookie).body).to eq("2")
    expect(raw_item(cookie)).to be_nil
    expect(stored_data(hashed(cookie))).to start_with(prefix)
    expect(store_request(sealing(hashed_keys: true), "/read", cookie: cookie).body).to eq("2")
    expect(handled).to eq([])
  end

  it "garbage collection deletes expired encrypted sessions" do
    store_request(sealing)
    raw_dynamodb.age_items(table_name, 3600)
    expect(dynamo::GarbageCollection.collect_garbage(store_options(max_stale: 1))[:deleted]).to eq(1)
    expect(all_items).to be_empty
  end

  describe "rotation from the command line" do
    let(:lib) { File.expand_path("../../lib", __dir__) }
    let(:exe) { File.expand_path("../../exe/aws-sessionstore-dynamodb", __dir__) }
    let(:env) do
      { "AWS_DYNAMO_DB_SESSION_TABLE_NAME" => table_name, "AWS_DYNAMO_DB_SESSION_ENDPOINT" => DynamoDBLocalHelper.endpoint,
        "AWS_DYNAMO_DB_SESSION_REGION" => "us-east-1", "AWS_DYNAMO_DB_SESSION_ACCESS_KEY_ID" => "dummy",
        "AWS_DYNAMO_DB_SESSION_SECRET_ACCESS_KEY" => "dummy", "AWS_DYNAMO_DB_SESSION_SECRET_KEY" => StoreSpecHelpers::SECRET,
        "AWS_DYNAMO_DB_SESSION_ENCRYPT_DATA" => "true",
        "AWS_DYNAMO_DB_SESSION_ENCRYPTION_KEYS" => "#{new_key},#{old_key}",
        "AWS_DYNAMO_DB_SESSION_CONFIG_FILE" => nil, "RUBYOPT" => nil }
    end

    it "reencrypt moves every item to the current key; then the old key can go" do
      cookies = Array.new(3) { store_request(sealing(encryption_keys: [old_key])).cookie }
      plain = store_request(counter).cookie
      Dir.mktmpdir("reencrypt") do |dir|
        out, err, status = Open3.capture3(env, RbConfig.ruby, "-I", lib, exe, "reencrypt", "--dry-run", chdir: dir)
        expect([out, status.exitstatus]).to match([/would re-encrypt 4 \(unencrypted 1, under a previous key 3\)/, 0]),
                                            err
        expect(key_id(cookies.first)).to eq(id_of(old_key))
        out, err, status = Open3.capture3(env, RbConfig.ruby, "-I", lib, exe, "reencrypt", chdir: dir)
        expect([out, status.exitstatus]).to match([/re-encrypted 4 /, 0]), err
        expect(Dir.children(dir)).to eq([]) # the state file is gone at the end
      end
      expect([*cookies, plain].map { |cookie| key_id(cookie) }.uniq).to eq([id_of(new_key)])
      current_only = sealing(encryption_keys: [new_key], refuse_plaintext: true)
      expect([*cookies, plain].map { |cookie| store_request(current_only, "/read", cookie: cookie).body })
        .to eq(%w[1 1 1 1])
      expect(handled).to eq([])
    end

    it "rake dynamo_db:session_store:reencrypt does the same" do
      cookie = store_request(sealing(encryption_keys: [old_key])).cookie
      Dir.mktmpdir("rake-reencrypt") do |dir|
        File.write(File.join(dir, "Rakefile"), %(require "aws/session_store/dynamo_db/rake_tasks"\n))
        out, err, status = Open3.capture3(env, "rake", "-I", lib, "dynamo_db:session_store:reencrypt", chdir: dir)
        expect([out, status.exitstatus]).to match([/re-encrypted 1 /, 0]), err
      end
      expect(key_id(cookie)).to eq(id_of(new_key))
    end
  end
end
