# frozen_string_literal: true

require "json"
require "aws/session_store/dynamo_db/serializer"

RSpec.describe Aws::SessionStore::DynamoDB::Serializer do
  let(:corrupt) { Aws::SessionStore::DynamoDB::Errors::CorruptSessionError }
  let(:session) do
    { "user_id" => 42, "name" => "Zoë \u{1F600}", "flags" => [true, false, nil], "nested" => { "a" => 1.5 },
      "html" => "</script>" }
  end
  let(:marshalled) { [Marshal.dump(session)].pack("m*") }

  describe ".for" do
    it "returns a serializer per name, from Symbols or Strings" do
      expect(described_class.for(:json).name).to eq(:json)
      expect(described_class.for("json_allow_marshal").name).to eq(:json_allow_marshal)
      expect(described_class.for(:marshal).name).to eq(:marshal)
    end

    it "returns shared frozen objects" do
      expect(described_class.for(:json)).to equal(described_class.for("json"))
      expect(described_class.for(:json)).to be_frozen
    end

    it "refuses other names, naming the option" do
      expect { described_class.for(:yaml) }
        .to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError, /:serializer.*Symbol/)
      expect { described_class.for(nil) }
        .to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError, /NilClass/)
    end
  end

  describe ":json" do
    subject(:serializer) { described_class.for(:json) }

    it "writes exactly JSON.dump" do
      expect(serializer.dump(session)).to eq(JSON.dump(session))
      expect(serializer.dump({})).to eq("{}")
    end

    it "writes Symbol keys and values as Strings, like JSON.dump" do
      expect(serializer.dump({ a: :b })).to eq(JSON.dump({ a: :b }))
    end

    it "round-trips" do
      expect(serializer.load(serializer.dump(session))).to eq(session)
    end

    it "allows deep nesting, like JSON.dump" do
      deep = (1..150).reduce({}) { |acc, _| { "x" => acc } }
      expect(serializer.load(serializer.dump(deep))).to eq(deep)
    end

    it "refuses a Marshal payload without calling Marshal.load" do
      expect(Marshal).not_to receive(:load)
      expect { serializer.load(marshalled) }.to raise_error(corrupt)
    end

    it "does not create objects from json_class" do
      payload = JSON.dump({ "k" => { "json_class" => "Range", "a" => [1, 2, false] } })
      expect(serializer.load(payload)["k"]).to eq({ "json_class" => "Range", "a" => [1, 2, false] })
    end

    it "raises CorruptSessionError for invalid JSON, non-Hash JSON, empty and nil" do
      ['{"a":', "[1,2]", '"str"', "42", "", nil, 42].each do |bad|
        expect { serializer.load(bad) }.to raise_error(corrupt), bad.inspect
      end
    end

    it "keeps the data out of the message" do
      expect { serializer.load('{"password":"hunter2"') }
        .to raise_error(corrupt) { |e| expect(e.message).not_to include("hunter2") }
    end
  end

  describe ":marshal" do
    subject(:serializer) { described_class.for(:marshal) }

    it "writes exactly [Marshal.dump(h)].pack('m*')" do
      expect(serializer.dump(session)).to eq(marshalled)
      expect(serializer.dump(session)).to include("\n")
    end

    it "round-trips Ruby objects JSON cannot keep" do
      data = { "sym" => :x, "time" => Time.at(0), "range" => (1..3) }
      expect(serializer.load(serializer.dump(data))).to eq(data)
    end

    it "raises CorruptSessionError for garbage, non-Hash payloads, empty and nil" do
      non_hash = [Marshal.dump([1, 2])].pack("m*")
      # An object of a class this process doesn't define: Marshal.load raises ArgumentError.
      undefined_class = ["\x04\bo:\x10NoSuchClass\x00".b].pack("m*")
      ["not base64 !!", JSON.dump(session), non_hash, "", nil, undefined_class].each do |bad|
        expect { serializer.load(bad) }.to raise_error(corrupt), bad.inspect
      end
    end

    it "keeps the data out of the message" do
      payload = [Marshal.dump(%w[hunter2])].pack("m*")
      expect { serializer.load(payload) }
        .to raise_error(corrupt) { |e| expect(e.message).not_to include("hunter2") }
    end
  end

  describe ":json_allow_marshal" do
    subject(:serializer) { described_class.for(:json_allow_marshal) }

    it "writes exactly JSON.dump" do
      expect(serializer.dump(session)).to eq(JSON.dump(session))
    end

    it "reads JSON" do
      expect(serializer.load(JSON.dump(session))).to eq(session)
    end

    it "reads the Base64 Marshal form written by older versions" do
      expect(serializer.load(marshalled)).to eq(session)
    end

    it "raises CorruptSessionError for anything else" do
      ["BAhbBmkG", '{"a":', "garbage", "[1]", "", nil].each do |bad|
        expect { serializer.load(bad) }.to raise_error(corrupt), bad.inspect
      end
    end
  end
end
