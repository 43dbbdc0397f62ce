# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"

RSpec.describe Aws::SessionStore::DynamoDB::Warnings do
  # A category no store code uses, forgotten around each example.
  let(:category) { :warnings_spec }

  around do |example|
    described_class.forget!(category)
    example.run
  ensure
    described_class.forget!(category)
  end

  it "writes a key's message once, and says whether it wrote it" do
    written = nil
    expect { written = described_class.warn_once([category, 1], "first line") }.to output("first line\n").to_stderr
    expect(written).to be(true)
    expect { written = described_class.warn_once([category, 1], "first line") }.not_to output.to_stderr
    expect(written).to be(false)
  end

  it "writes the key itself when no message is given" do
    key = "warnings_spec: a key of its own #{rand(1 << 64)}"
    expect { described_class.warn_once(key) }.to output("#{key}\n").to_stderr
    expect { described_class.warn_once(key) }.not_to output.to_stderr
  end

  it "tells keys apart, so each of two warnings is written" do
    expect { described_class.warn_once([category, :a], "a") }.to output("a\n").to_stderr
    expect { described_class.warn_once([category, :b], "b") }.to output("b\n").to_stderr
  end

  it "forgets one category only" do
    silent { described_class.warn_once([category, :a], "a") }
    silent { described_class.warn_once(%i[warnings_spec_other a], "other") }
    described_class.forget!(category)
    expect { described_class.warn_once([category, :a], "a") }.to output("a\n").to_stderr
    expect { described_class.warn_once(%i[warnings_spec_other a], "other") }.not_to output.to_stderr
    described_class.forget!(:warnings_spec_other)
  end

  it "writes once when many threads meet the same key at once" do
    expect do
      Array.new(8) { Thread.new { described_class.warn_once([category, :race], "race") } }.each(&:join)
    end.to output("race\n").to_stderr
  end

  def silent
    original = $stderr
    $stderr = StringIO.new
    yield
  ensure
    $stderr = original
  end
end
