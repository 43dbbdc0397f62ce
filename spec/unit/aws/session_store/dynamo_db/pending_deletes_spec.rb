# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"

# The basics (add, include?, delete, the oldest forgotten) are in
# session_ids_spec.rb; these are the edges.
RSpec.describe Aws::SessionStore::DynamoDB::PendingDeletes do
  subject(:pending) { described_class.new(3) }

  it "tells its limit" do
    expect(pending.limit).to eq(3)
  end

  it "keeps an id added twice once, in its first place" do
    %w[a b].each { |id| pending.add(id) }
    expect(pending.add("a")).to be(false)
    expect(pending.first(5)).to eq(%w[a b])
  end

  it "gives at most `count` ids, the oldest first" do
    %w[a b c].each { |id| pending.add(id) }
    expect(pending.first(2)).to eq(%w[a b])
    expect(pending.first(0)).to eq([])
  end

  it "answers include? and delete on an empty set without complaint" do
    expect(pending.include?("x")).to be(false)
    expect(pending.delete("x")).to be_nil
    expect(pending).to be_empty
  end

  it "is empty again once every id is deleted" do
    pending.add("a")
    pending.delete("a")
    expect(pending).to be_empty
  end

  it "never shows the ids it holds in inspect (they are session ids)" do
    pending.add("secret-session-id")
    expect(pending.inspect).to eq("#<#{described_class.name} 1 of 3>")
  end

  it "keeps at most its limit when threads add at once" do
    threads = Array.new(8) { |t| Thread.new { 50.times { |i| pending.add("#{t}-#{i}") } } }
    threads.each(&:join)
    expect(pending.first(100).size).to eq(3)
  end
end
