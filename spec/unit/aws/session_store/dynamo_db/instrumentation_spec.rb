# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"

# The Instrumentation module with plain subscribers: what they get (copies,
# frozen), and that their code never changes what the store does. The
# events of real calls, and ActiveSupport::Notifications, are in
# spec/integration (instrumentation_spec, fail_closed_spec).
RSpec.describe Aws::SessionStore::DynamoDB::Instrumentation do
  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:handles) { [] }

  before { dynamo::Warnings.forget!(:subscriber) }

  after do
    handles.each { |handle| described_class.unsubscribe(handle) }
    dynamo::Warnings.forget!(:subscriber)
  end

  def subscribe(*events, &block)
    described_class.subscribe(*events, &block).tap { |handle| handles << handle }
  end

  # A read as the store instruments it: fills the payload when asked to.
  def read(value = :item, table: "sessions")
    described_class.instrument(:read, table) do |payload|
      payload&.merge!(outcome: :found, bytes: 12)
      value
    end
  end

  describe ".subscribe" do
    it "needs a block" do
      expect { described_class.subscribe(:read) }.to raise_error(ArgumentError, /needs a block/)
    end

    it "refuses an unknown event, naming the known ones" do
      expect { described_class.subscribe(:read, :raed) {} }
        .to raise_error(ArgumentError, /unknown events \[:raed\]; known: \[:read, :write, :delete, :lock_wait, :gc\]/)
    end

    it "takes event names as Strings too" do
      events = []
      subscribe("read") { |event| events << event.name }
      read
      expect(events).to eq(["read.aws_sessionstore_dynamodb"])
    end

    it "gives the events named only, and every event when none is named" do
      reads = []
      all = []
      subscribe(:read) { |event| reads << event.name }
      subscribe { |event| all << event.name }
      read
      described_class.instrument(:gc, "sessions") { |_| nil }
      expect(reads).to eq(["read.aws_sessionstore_dynamodb"])
      expect(all).to eq(%w[read.aws_sessionstore_dynamodb gc.aws_sessionstore_dynamodb])
    end
  end

  describe ".listening?" do
    it "is true only for the events somebody subscribed to, until unsubscribed" do
      expect(described_class.listening?(:write)).to be_falsey
      handle = subscribe(:write) { |_| nil }
      expect(described_class.listening?(:write)).to be(true)
      expect(described_class.listening?(:read)).to be_falsey
      expect(described_class.unsubscribe(handle)).to be_nil
      expect(described_class.listening?(:write)).to be_falsey
    end
  end

  describe ".instrument" do
    it "hands the block no payload and gathers nothing while nobody listens" do
      given = :unset
      expect(described_class.instrument(:read, "sessions") { |payload| (given = payload) || 42 }).to eq(42)
      expect(given).to be_nil
    end

    it "gives a subscriber the name, a duration in ms and the payload the block filled" do
      events = []
      subscribe(:read) { |event| events << event }
      expect(read(:the_item)).to eq(:the_item)
      event = events.fetch(0)
      expect(event.name).to eq("read.aws_sessionstore_dynamodb")
      expect(event.duration).to be_a(Float).and be >= 0
      expect(event.payload).to eq(table: "sessions", outcome: :found, bytes: 12)
    end

    it "hands each subscriber its own frozen copy of the payload" do
      payloads = []
      2.times { subscribe(:read) { |event| payloads << event.payload } }
      read
      expect(payloads.size).to eq(2)
      expect(payloads).to all(be_frozen)
      expect(payloads.first).to eq(payloads.last)
      expect(payloads.first).not_to equal(payloads.last)
    end

    it "reports the block's exception as outcome :error with its class, and lets it through" do
      events = []
      subscribe(:write) { |event| events << event.payload }
      expect do
        described_class.instrument(:write, "sessions") { |_| raise dynamo::Errors::NetworkError, "down" }
      end.to raise_error(dynamo::Errors::NetworkError, "down")
      expect(events).to eq([{ table: "sessions", outcome: :error,
                              error: "Aws::SessionStore::DynamoDB::Errors::NetworkError" }])
    end
  end

  describe "a subscriber's code" do
    it "cannot change the payload others get, nor what the store returns" do
      seen = []
      subscribe(:read) { |event| event.payload[:outcome] = :tampered }
      subscribe(:read) { |event| seen << event.payload[:outcome] }
      result = nil
      expect { result = read(:item) }.to output(/subscriber raised FrozenError/).to_stderr
      expect(result).to eq(:item)
      expect(seen).to eq([:found])
    end

    it "that raises is reported once on stderr, and the store goes on" do
      subscribe(:read) { |_| raise ArgumentError, "subscriber bug\nsecond line" }
      line = /\A[^\n]*an instrumentation subscriber raised ArgumentError: subscriber bug \(at .*\); the store went on/
      expect { expect(read(:item)).to eq(:item) }.to output(/#{line} \(reported once\)\n\z/).to_stderr
      expect { expect(read(:again)).to eq(:again) }.not_to output.to_stderr
    end

    it "that raises does not keep the next subscriber from its event" do
      seen = []
      subscribe(:read) { |_| raise "first fails" }
      subscribe(:read) { |event| seen << event.payload[:outcome] }
      expect { read }.to output(/subscriber raised RuntimeError: first fails/).to_stderr
      expect(seen).to eq([:found])
    end

    it "that raises a non-StandardError (NotImplementedError, a custom Exception) is caught too" do
      custom = Class.new(Exception) # rubocop:disable Lint/InheritException
      subscribe(:read) { |_| raise NotImplementedError, "not here" }
      subscribe(:read) { |_| raise custom, "odd" }
      expect { expect(read(:item)).to eq(:item) }
        .to output(/raised NotImplementedError: not here.*\n.*raised #<Class:.*>: odd/).to_stderr
    end

    it "that interrupts or exits the process is never swallowed" do
      subscribe(:read) { |_| raise Interrupt }
      expect { read }.to raise_error(Interrupt)
      described_class.unsubscribe(handles.pop)
      subscribe(:read) { |_| exit 3 }
      expect { read }.to raise_error(SystemExit)
    end

    it "whose block raises does not hide the store's own exception" do
      subscribe(:delete) { |_| raise "subscriber bug" }
      expect do
        expect do
          described_class.instrument(:delete, "sessions") { |_| raise dynamo::Errors::TimeoutError, "slow" }
        end.to raise_error(dynamo::Errors::TimeoutError, "slow")
      end.to output(/subscriber raised RuntimeError/).to_stderr
    end
  end
end
