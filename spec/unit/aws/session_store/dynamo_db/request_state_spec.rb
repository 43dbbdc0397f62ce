# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"

RSpec.describe Aws::SessionStore::DynamoDB::RequestState do
  it "starts with empty collections and nothing known" do
    state = described_class.new
    expect(state.to_h).to eq(loaded: {}, renewed: {}, unavailable: [], issued: {}, cookie: nil,
                             invalid_cookie: nil, missed: nil, replaced: nil, down: nil, dropped: nil,
                             committing: nil, ended: nil)
  end

  it "shares nothing between two requests" do
    one = described_class.new
    two = described_class.new
    one.loaded["id"] = :session
    one.renewed["id"] = "1.0"
    one.unavailable << "id"
    one.issued["id"] = true
    expect(two.to_h.values_at(:loaded, :renewed, :unavailable, :issued)).to eq([{}, {}, [], {}])
  end

  it "takes no arguments: state comes from the request, never from the caller" do
    expect { described_class.new({ "id" => 1 }) }.to raise_error(ArgumentError)
  end
end
