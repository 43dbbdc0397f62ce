# frozen_string_literal: true

require "stringio"
require "aws/session_store/dynamo_db/progress"

RSpec.describe Aws::SessionStore::DynamoDB::Progress do
  let(:io) { StringIO.new }
  let(:stats) { { scanned: 120, matched: 7, deleted: 5, elapsed: 1.26, dry_run: false } }

  describe ".line" do
    it "names the deleted count" do
      expect(described_class.line(stats)).to eq("scanned 120, matched 7, deleted 5 (1.3 s)")
    end

    it "names the matched count as 'would delete' on a dry run" do
      expect(described_class.line(stats.merge(dry_run: true, deleted: 0)))
        .to eq("scanned 120, matched 7, would delete 7 (1.3 s)")
    end

    it "reads missing counters as zero" do
      expect(described_class.line({})).to eq("scanned 0, matched 0, deleted 0 (0.0 s)")
    end
  end

  context "when writing to a terminal" do
    subject(:progress) { described_class.new(io, tty: true) }

    it "redraws one line in place, padded over a longer previous one" do
      expect(progress.update(stats)).to be(true)
      first = described_class.line(stats)
      progress.update(scanned: 1, elapsed: 0)
      short = described_class.line(scanned: 1, elapsed: 0)
      expect(io.string).to eq("\r#{first}\r#{short.ljust(first.size)}")
    end

    it "clears the line before the summary" do
      progress.update(stats)
      width = described_class.line(stats).size
      io.truncate(0)
      io.rewind
      progress.finish("garbage collection: done")
      expect(io.string).to eq("\r#{" " * width}\rgarbage collection: done\n")
    end
  end

  context "when not writing to a terminal" do
    subject(:progress) { described_class.new(io) }

    it "draws no progress, only the summary" do
      expect(progress.update(stats)).to be(true)
      progress.finish("summary")
      expect(io.string).to eq("summary\n")
    end

    it "takes an IO without tty? for a non-terminal" do
      sink = Object.new
      def sink.puts(*); end
      def sink.flush; end
      expect { described_class.new(sink).update(stats) }.not_to raise_error
    end
  end

  it "clears nothing when nothing was drawn" do
    described_class.new(io, tty: true).clear
    expect(io.string).to eq("")
  end
end
