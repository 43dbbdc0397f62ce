# frozen_string_literal: true

require "openssl"
require "aws-sessionstore-dynamodb-rs"

RSpec.describe Aws::SessionStore::DynamoDB::SessionIds do
  subject(:ids) { described_class.new(secret, 32) }

  let(:secret) { "unit-secret-#{"k" * 52}" }

  it "generates ids signed as the official gem signs them (OpenSSL's HMAC-MD5 of the sid)" do
    id = ids.generate
    digest, sid = id.split("--")
    expect(sid).to match(/\A\h{32}\z/)
    expect(digest).to eq(OpenSSL::HMAC.hexdigest("MD5", secret, sid))
    expect(ids.valid?(id)).to be(true)
    expect(ids.checked(id)).to eq(id).and be_frozen
  end

  it "makes longer ids when Rack asks for more bits, never shorter than 128" do
    expect(described_class.new(secret, 64).generate.split("--").last.size).to eq(64)
    expect(described_class.new(secret, 8).generate.split("--").last.size).to eq(32)
  end

  it "refuses forged, malformed and oversized ids, and other objects" do
    id = ids.generate
    forged = id.sub(/\A./) { |c| c == "0" ? "1" : "0" }
    other = described_class.new("another-secret-#{"x" * 50}", 32).generate
    ["", "--", "abc", forged, other, "#{id}x", "#{"0" * 32}--#{"a" * 129}", "#{id[0, 32]}--\xFF\xFE".b, nil, 42,
     [id]].each do |bad|
      expect(ids.valid?(bad)).to be(false), bad.inspect
      expect(ids.checked(bad)).to be_nil
    end
  end

  it "checks a Rack::Session::SessionId by its public id" do
    id = ids.generate
    expect(ids.checked(Rack::Session::SessionId.new(id))).to eq(id)
    expect(described_class.public_id(Rack::Session::SessionId.new(id))).to eq(id)
    expect(described_class.public_id(:x)).to be_nil
  end

  it "never shows the secret" do
    expect(ids.inspect).not_to include(secret)
  end
end

RSpec.describe Aws::SessionStore::DynamoDB::PendingDeletes do
  subject(:pending) { described_class.new(2) }

  it "remembers ids until deleted, oldest first" do
    expect(pending).to be_empty
    expect(pending.add("a")).to be(false)
    expect(pending.add("b")).to be(false)
    expect(pending.include?("a")).to be(true)
    expect(pending.first(5)).to eq(%w[a b])
    pending.delete("a")
    expect(pending.include?("a")).to be(false)
    expect(pending.first(5)).to eq(%w[b])
  end

  it "forgets the oldest past its limit, and says so" do
    pending.add("a")
    pending.add("b")
    expect(pending.add("c")).to be(true)
    expect(pending.first(5)).to eq(%w[b c])
  end
end
