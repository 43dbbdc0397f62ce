# frozen_string_literal: true

require "json"
require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/memory_client"
require_relative "../../../../support/store_environment"

# Migration.migrate against the in-memory client (its scan_page and
# rewrite_item are under the contract, spec/support/native_client_contract.rb).
# The CLI, and real v0.5 items on DynamoDB Local, are in
# spec/integration/migration_spec.rb.
RSpec.describe Aws::SessionStore::DynamoDB::Migration do
  include_context "with a clean store environment"

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:client) { MemoryClient.new }
  let(:state) { File.join(tmpdir, "state.json") }
  let(:v05_time) { 1_600_000_000.5 }

  before { dynamo::Native.client_factory = ->(_options) { client } }
  after { dynamo::Native.client_factory = nil }

  def migrate(**run, &block)
    described_class.migrate({ table_name: "sessions", region: "us-east-1", state_file: state }.merge(run), &block)
  end

  def marshal(session)
    [Marshal.dump(session)].pack("m*")
  end

  # An item as the v0.5 gem wrote it: N timestamps, Base64 Marshal data.
  def put_v05(key, session = { "n" => 1 })
    client.put(key, "session_id" => key, "data" => marshal(session), "created_at" => v05_time,
                    "updated_at" => v05_time)
  end

  def put_v4(key)
    client.put(key, "session_id" => key, "data" => '{"n":1}', "created_at" => "1700000000.25",
                    "updated_at" => "1700000000.5", "expire_at" => 2_000_000_000)
  end

  describe "a run" do
    it "counts what it would rewrite on a dry run, and writes nothing" do
      put_v05("a")
      put_v4("b")
      before = client.item("a")
      result = migrate(dry_run: true)
      expect(result.to_h).to include(scanned: 2, v4: 1, v05_timestamps: 1, marshal_data: 1, marshal_kept: 1,
                                     rewritten: 1, dry_run: true, resumed: false)
      expect(client.item("a")).to eq(before)
      expect(client.calls.map(&:first)).not_to include(:rewrite_item)
      expect(result.summary).to start_with("migration: scanned 2, would rewrite 1 ")
    end

    it "rewrites N timestamps as the same time in text and keeps Marshal data unless allowed" do
      put_v05("a")
      result = migrate
      expect(client.item("a")).to include("created_at" => "1600000000.5", "updated_at" => "1600000000.5",
                                          "data" => marshal("n" => 1))
      expect(result.to_h).to include(rewritten: 1, marshal_kept: 1, v4: 0)
      expect(result.summary).to include("Marshal kept 1 (needs --allow-marshal)")
    end

    it "leaves a user record (user_key) as it is, counted among the v4 items" do
      record = { "session_id" => "user#42", "s:abc" => 1_700_000_000 }
      client.put("user#42", record)
      put_v05("a")
      expect(migrate.to_h).to include(scanned: 2, rewritten: 1, v4: 1)
      expect(client.item("user#42")).to eq(record)
    end

    it "is idempotent: a second run finds nothing to rewrite" do
      put_v05("a")
      migrate
      expect(migrate.to_h).to include(rewritten: 0, v05_timestamps: 0, marshal_kept: 1)
    end

    it "turns Marshal data into the same session as JSON with allow_marshal" do
      put_v05("a", "user" => 7, "cart" => [1, "two"], "nested" => { "ok" => true })
      result = migrate(allow_marshal: true)
      expect(JSON.parse(client.item("a")["data"])).to eq("user" => 7, "cart" => [1, "two"], "nested" => { "ok" => true })
      expect(result.to_h).to include(rewritten: 1, marshal_data: 1, marshal_kept: 0, marshal_not_json: 0)
    end

    it "keeps Marshal data JSON would change (Symbols, Times) or that is not a session Hash" do
      put_v05("symbols", user: 7)
      put_v05("time", "at" => Time.at(0))
      client.put("list", "session_id" => "list", "data" => marshal([1, 2]))
      client.put("junk", "session_id" => "junk", "data" => "BAnot marshal at all")
      result = migrate(allow_marshal: true)
      expect(client.item("symbols")["data"]).to eq(marshal(user: 7))
      expect(client.item("list")["data"]).to eq(marshal([1, 2]))
      expect(client.item("junk")["data"]).to eq("BAnot marshal at all")
      expect(result.to_h).to include(marshal_data: 4, marshal_not_json: 4)
    end

    it "skips an item changed between the scan and the rewrite, and counts it" do
      put_v05("a")
      # A request saves the session right after the scan read it.
      client.define_singleton_method(:scan_page) do |request|
        super(request).tap { put("a", item("a").merge("updated_at" => "1700000001.0")) }
      end
      result = migrate
      expect(result.to_h).to include(rewritten: 0, changed_meanwhile: 1)
      expect(client.item("a")["updated_at"]).to eq("1700000001.0")
      expect(client.item("a")["created_at"]).to eq(v05_time)
    end

    it "yields the counts after every page of #{described_class::PAGE_SIZE}" do
      150.times { |i| put_v4(format("k%03d", i)) }
      seen = []
      migrate { |result| seen << result.scanned }
      expect(seen).to eq([100, 150])
    end
  end

  describe "the state file" do
    def interrupted_run(**run)
      150.times { |i| put_v05(format("k%03d", i)) }
      expect { migrate(**run) { |_| raise Interrupt } }.to raise_error(Interrupt)
    end

    it "keeps the position after each page, readable by its owner only, and resumes from it" do
      interrupted_run
      saved = JSON.parse(File.read(state))
      expect(saved).to include("table" => "sessions", "key_name" => "session_id", "scanned" => 100,
                               "start_key" => "k099", "dry_run" => false, "allow_marshal" => false)
      expect(File.stat(state).mode & 0o777).to eq(0o600)
      result = nil
      resuming = /resuming sessions from .*state\.json \(100 items scanned before; from the saved position\)/
      expect { result = migrate }.to output(resuming).to_stderr
      expect(result.to_h).to include(resumed: true, scanned: 50, rewritten: 50)
      expect(File.exist?(state)).to be(false)
    end

    it "never keeps a position that is a cookie value, only its hash, and starts over on resume" do
      cookies = Array.new(150) { |i| "#{format("%032x", i)}--sid#{i}" }
      cookies.each { |cookie| put_v4(cookie) }
      expect { migrate { |_| raise Interrupt } }.to raise_error(Interrupt)
      text = File.read(state)
      expect(text).not_to include("--sid")
      expect(JSON.parse(text)).to include("start_key_sha256" => match(/\A\h{64}\z/))
      expect { expect(migrate.scanned).to eq(150) }.to output(/only its hash was kept: scanning again/).to_stderr
    end

    it "keeps nothing with state_file nil" do
      interrupted_run(state_file: nil)
      expect(Dir.children(tmpdir)).to be_empty
    end

    it "is one file per table in the current directory by default" do
      expect(described_class.default_state_file("t1")).to eq(File.join(Dir.pwd, ".aws-sessionstore-dynamodb-migrate.t1.json"))
    end

    context "when it was made by another run" do
      it "is refused for another table" do
        interrupted_run
        expect { migrate(table_name: "other") }
          .to raise_error(dynamo::Errors::ConfigurationError, /made for table "sessions", not "other"/)
      end

      it "is refused for another mode, saying how to resume" do
        interrupted_run
        expect { migrate(dry_run: true) }
          .to raise_error(dynamo::Errors::ConfigurationError,
                          /dry_run=false, allow_marshal=false; this run has dry_run=true.*run again the same way/)
      end

      it "is refused for another key name" do
        interrupted_run
        expect { migrate(table_key: "id") }
          .to raise_error(dynamo::Errors::ConfigurationError, /made for key "session_id", not "id"/)
      end
    end

    context "when it is damaged" do
      def expect_refused(text, message)
        File.write(state, text)
        put_v05("a")
        expect { migrate }.to raise_error(dynamo::Errors::ConfigurationError, message)
        expect(client.item("a")["created_at"]).to eq(v05_time) # nothing done
      end

      let(:valid) do
        { "version" => 1, "table" => "sessions", "key_name" => "session_id", "dry_run" => false,
          "allow_marshal" => false, "scanned" => 3, "start_key" => "k1",
          "start_key_sha256" => Digest::SHA256.hexdigest("k1") }
      end

      it "is refused when it is not JSON, or not an object" do
        expect_refused("{not json", /state file .* is unreadable \(JSON::ParserError\); delete it to start over/)
        expect_refused("[1, 2]", /is unreadable \(TypeError\)/)
      end

      it "is refused when another version wrote it" do
        expect_refused(JSON.generate(valid.merge("version" => 2)), /is not one this version wrote/)
      end

      it "names the first bad field by its kind, never its value" do
        expect_refused(JSON.generate(valid.merge("scanned" => -5)), /scanned must be an Integer of 0 or more \(is negative\)/)
        expect_refused(JSON.generate(valid.merge("dry_run" => "no")), /dry_run must be true or false \(is a String\)/)
        expect_refused(JSON.generate(valid.merge("start_key" => "")), /start_key must be a non-empty String/)
      end

      it "is refused when the position does not match its hash" do
        expect_refused(JSON.generate(valid.merge("start_key" => "k2")), /start_key_sha256 must be the SHA-256 of start_key/)
      end
    end
  end
end
