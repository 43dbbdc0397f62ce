# frozen_string_literal: true

# What the native client's exceptions carry besides their class and
# message (ext/aws_sessionstore_dynamodb_rs/src/ruby_api/errors.rs), and
# how a request Struct that is wrong is refused
# (ruby_api/client/request.rs).

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"

RSpec.describe "Native client errors" do
  include_context "with a session table"

  let(:native) { Aws::SessionStore::DynamoDB::Native }
  let(:errors) { Aws::SessionStore::DynamoDB::Errors }
  let(:client) do
    native::Client.new({ endpoint: DynamoDBLocalHelper.endpoint, region: "us-east-1", access_key_id: "dummy",
                         secret_access_key: "dummy", max_attempts: 1 })
  end
  let(:big) { "x" * 500_000 }

  def save(**members)
    client.save_session(native::SaveRequest.new(table: table_name, key_name: table_hash_key, key: "k",
                                                data: big, created_at: "1.0", expire_at: nil, new_session: true,
                                                lock: nil, **members))
  end

  it "raises SessionTooLargeError with the item's size and the limit, and writes nothing" do
    expect { save }.to raise_error(errors::SessionTooLargeError) { |e|
      expect(e.size).to be > 500_000
      expect(e.limit).to eq(400 * 1024)
      expect(e.message).to start_with("session item is #{e.size} bytes")
    }
    expect(native_get(client, table_name, "k")).to be_nil
  end

  it "raises SessionTooLargeError with size and limit from a move to a new key" do
    request = native::MoveRequest.new(table: table_name, key_name: table_hash_key, key: "new", from_key: "old",
                                      data: big, created_at: "1.0", expire_at: nil,
                                      read_updated_at: ["S", "1.0"], lock: nil)
    expect { client.move_session(request) }.to raise_error(errors::SessionTooLargeError) { |e|
      expect(e.size).to be > 500_000
      expect(e.limit).to eq(400 * 1024)
    }
  end

  it "names the Struct and the member of a wrong type, keeping Ruby's TypeError" do
    expect { save(data: 42) }.to raise_error(TypeError, /\AAws::SessionStore::DynamoDB::Native::SaveRequest#data: /)
  end

  it "refuses a billing mode it does not know with ConfigurationError" do
    request = native::TableRequest.new(table: table_name, key_name: table_hash_key, billing_mode: "free",
                                       read_capacity: 1, write_capacity: 1, enable_ttl: false)
    expect { client.create_table(request) }.to raise_error(errors::ConfigurationError, /billing_mode/)
  end

  it "builds the messages from the data the native layer passes (size and limit, milliseconds waited)" do
    e = errors::SessionTooLargeError.new(20, 10)
    expect([e.message, e.size, e.limit]).to eq(["session item is 20 bytes, over DynamoDB's item size limit of 10 " \
                                                "bytes (400 KB); the stored session was left unchanged", 20, 10])
    wait = errors::LockWaitTimeoutError.new(waited_ms: 1002)
    expect([wait.message, wait.waited_ms])
      .to eq(["Maximum time spent to acquire lock has been exceeded! (waited 1002 ms)", 1002])
    expect(errors::LockWaitTimeoutError.new.message).to eq("Maximum time spent to acquire lock has been exceeded!")
  end
end
