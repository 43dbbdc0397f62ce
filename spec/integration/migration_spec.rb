# frozen_string_literal: true

# `aws-sessionstore-dynamodb migrate` (Migration.migrate): items of the v0.5
# shape rewritten to the v4 shape in place, conditionally, resumably, with
# Marshal decoded only when allowed; sessions keep working throughout.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "open3"
require "rbconfig"
require "tmpdir"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"
require_relative "../support/storage_keys"

RSpec.describe Aws::SessionStore::DynamoDB::Migration do
  include_context "with a session table"
  include StorageKeys
  include StoreRequestHelpers

  let(:now) { Time.now.to_f - 60 }
  let(:state) { File.join(Dir.mktmpdir("migrate-spec"), "state.json") }

  def put(key, data, timestamps: "N")
    raw_dynamodb.put_item(table_name, "session_id" => { "S" => key }, "data" => { "S" => data },
                                      "created_at" => { timestamps => (now - 3600).to_s },
                                      "updated_at" => { timestamps => now.to_s })
  end

  def marshal(hash)
    [Marshal.dump(hash)].pack("m*")
  end

  def migrate(**run, &progress)
    described_class.migrate(store_options.merge(state_file: state).merge(run), &progress)
  end

  def seed
    put(signed("a" * 32), marshal("user_id" => 7, "cart" => [1, 2])) # v0.5: N timestamps, Marshal
    put(signed("b" * 32), marshal("role" => :admin))                  # Marshal that JSON can't hold
    put(signed("c" * 32), '{"n":1}')                                  # N timestamps, JSON
    put(signed("d" * 32), '{"n":2}', timestamps: "S")                 # already v4
  end

  it "counts by shape on a dry run and writes nothing" do
    seed
    before = all_items
    result = migrate(dry_run: true)
    expect(result.to_h).to include(scanned: 4, v4: 1, v05_timestamps: 3, marshal_data: 2, marshal_kept: 2,
                                   rewritten: 3, changed_meanwhile: 0, dry_run: true)
    expect(all_items).to match_array(before)
  end

  it "rewrites N timestamps as the same time in text, keeps Marshal data unless allowed, and sessions work on" do
    seed
    result = migrate
    expect(result.to_h).to include(rewritten: 3, marshal_kept: 2, v4: 1)
    item = raw_item(signed("a" * 32))
    expect(item["created_at"]).to eq("S" => (now - 3600).to_s)
    expect(item["updated_at"]).to eq("S" => now.to_s)
    expect(item["data"]["S"]).to start_with("BA") # Marshal kept
    expect(migrate.to_h).to include(rewritten: 0, marshal_kept: 2) # idempotent

    allowed = migrate(allow_marshal: true)
    expect(allowed.to_h).to include(rewritten: 1, marshal_not_json: 1)
    expect(raw_item(signed("a" * 32))["data"]).to eq("S" => '{"user_id":7,"cart":[1,2]}')
    expect(raw_item(signed("b" * 32))["data"]["S"]).to start_with("BA") # :admin would become "admin"

    json_store = Aws::SessionStore::DynamoDB::RackMiddleware.new(StoreRequestHelpers::COUNTER_APP,
                                                                 store_options(max_stale: 86_400))
    expect(store_request(json_store, "/read", cookie: signed("c" * 32)).body).to eq("1")
    reader = lambda do |env|
      [200, { "content-type" => "text/plain" }, [env["rack.session"]["user_id"].to_s]]
    end
    expect(store_request(Aws::SessionStore::DynamoDB::RackMiddleware.new(reader, store_options(max_stale: 86_400)),
                         cookie: signed("a" * 32)).body).to eq("7")
  end

  it "skips an item changed between the scan and the rewrite" do
    seed
    proxy = CountingProxy.new(DynamoDBLocalHelper.endpoint)
    key = signed("c" * 32)
    proxy.on_request do |op, body|
      if op == "UpdateItem" && body.dig("Key", "session_id", "S") == key
        raw_dynamodb.put_item(table_name, "session_id" => { "S" => key }, "data" => { "S" => '{"n":5}' },
                                          "created_at" => { "S" => now.to_s }, "updated_at" => { "S" => now.to_s })
      end
      nil
    end
    result = described_class.migrate(store_options(endpoint: proxy.endpoint).merge(state_file: state))
    expect(result.to_h).to include(changed_meanwhile: 1, rewritten: 2)
    expect(raw_item(key)["data"]).to eq("S" => '{"n":5}')
  ensure
    proxy&.stop
  end

  it "resumes an interrupted run from its state file" do
    250.times { |i| put(signed(format("%032x", i)), "{}") }
    expect { migrate { |_| raise Interrupt } }.to raise_error(Interrupt)
    expect(File).to exist(state)
    first = all_items.count { |item| item["created_at"].key?("S") }
    expect(first).to eq(100)
    result = nil
    expect { result = migrate }.to output(/resuming/).to_stderr
    expect(result.to_h).to include(resumed: true, rewritten: 150)
    expect(File).not_to exist(state)
    expect(all_items.map { |item| item["created_at"].keys }).to all(eq(["S"]))
  end

  describe "the state file" do
    def interrupted(**run)
      expect { migrate(**run) { |_| raise Interrupt } }.to raise_error(Interrupt)
      expect(File).to exist(state)
    end

    it "is not resumed by a run of another mode: an interrupted dry run does not steer a real one" do
      250.times { |i| put(signed(format("%032x", i)), "{}") }
      interrupted(dry_run: true)
      expect { migrate }.to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError,
                                        /made by a run with dry_run=true.*this run has dry_run=false/)
      expect(all_items.count { |item| item["created_at"].key?("S") }).to eq(0)
      expect { migrate(dry_run: true, allow_marshal: true) }
        .to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError, /allow_marshal=true/)
    end

    it "is one per table by default, and refuses a table it was not made for" do
      Dir.mktmpdir("migrate-cwd") do |dir|
        Dir.chdir(dir) do
          expect(described_class.default_state_file(table_name))
            .to eq(File.join(Dir.pwd, ".aws-sessionstore-dynamodb-migrate.#{table_name}.json"))
          expect(described_class.default_state_file("other")).not_to eq(described_class.default_state_file(table_name))
        end
      end
      150.times { |i| put(signed(format("%032x", i)), "{}") }
      interrupted
      other = DynamoDBLocalHelper.unique_table_name
      expect { described_class.migrate(store_options(table_name: other, state_file: state)) }
        .to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError,
                        /made for table "#{table_name}", not "#{other}"/)
    end

    it "is private (0600) and holds no live session id; resuming says so and scans again" do
      ids = Array.new(250) { |i| signed(format("%032x", i)) }
      ids.each { |id| put(id, "{}") }
      interrupted
      text = File.read(state)
      expect(File.stat(state).mode & 0o777).to eq(0o600)
      ids.each { |id| expect(text).not_to include(id.split("--").last) }
      expect(JSON.parse(text)).to include("table" => table_name, "start_key_sha256" => /\A\h{64}\z/)
      result = nil
      resumed = /resuming #{table_name} from #{Regexp.escape(state)} \(100 items scanned before; .*only its hash was kept/
      expect { result = migrate }.to output(resumed).to_stderr
      expect(result.to_h).to include(resumed: true, scanned: 250, rewritten: 150, v4: 100)
    end

    it "resumes a table of hashed keys from the saved position (not a cookie)" do
      250.times { |i| put(OpenSSL::HMAC.hexdigest("SHA256", "k", i.to_s), "{}") }
      interrupted
      saved = JSON.parse(File.read(state))
      expect(saved["start_key"]).to match(/\A\h{64}\z/)
      result = nil
      expect { result = migrate }.to output(/from the saved position/).to_stderr
      expect(result.to_h).to include(resumed: true, scanned: 150, rewritten: 150)
      expect(all_items.map { |item| item["created_at"].keys }).to all(eq(["S"]))
    end

    it "gives one line for a corrupt file, in the library and in the CLI" do
      ["{not json", "[1, 2]", JSON.generate("version" => 1, "table" => 7)].each do |text|
        File.write(state, text)
        expect { migrate }.to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError,
                                          /migration state file .* (unreadable|not one this version wrote)/)
      end
      exe = File.expand_path("../../exe/aws-sessionstore-dynamodb", __dir__)
      env = { "AWS_DYNAMO_DB_SESSION_ENDPOINT" => DynamoDBLocalHelper.endpoint, "AWS_REGION" => "us-east-1",
              "AWS_DYNAMO_DB_SESSION_ACCESS_KEY_ID" => "dummy", "AWS_DYNAMO_DB_SESSION_SECRET_ACCESS_KEY" => "dummy" }
      File.write(state, "{not json")
      _out, err, status = Open3.capture3(env, RbConfig.ruby, exe, "--table", table_name, "migrate", "--state", state)
      expect(status.exitstatus).to eq(1)
      expect(err.lines.size).to eq(1), err
      expect(err).to include("migration state file", "unreadable")
    end
  end

  it "is the CLI's migrate command, whose help says why Marshal needs --allow-marshal" do
    exe = File.expand_path("../../exe/aws-sessionstore-dynamodb", __dir__)
    env = { "AWS_DYNAMO_DB_SESSION_ENDPOINT" => DynamoDBLocalHelper.endpoint,
            "AWS_DYNAMO_DB_SESSION_ACCESS_KEY_ID" => "dummy", "AWS_DYNAMO_DB_SESSION_SECRET_ACCESS_KEY" => "dummy",
            "AWS_REGION" => "us-east-1" }
    help, = Open3.capture3(env, RbConfig.ruby, exe, "migrate", "--help")
    expect(help).to include("--allow-marshal", "--dry-run", "--state FILE", "anyone able to write to the table")
    seed
    out, err, status = Open3.capture3(env, RbConfig.ruby, exe, "--table", table_name, "migrate", "--dry-run",
                                      "--state", state)
    expect(status.exitstatus).to eq(0), err
    expect(out).to start_with("migration: scanned 4, would rewrite 3")
  end
end
