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

  # Every request Struct of every method, with the members whose type the
  # native layer checks (Booleans take any value, as Ruby's truthiness).
  def requests
    item = { table: table_name, key_name: table_hash_key, key: "k" }
    {
      get_item: native::ItemRequest.new(**item, consistent: true),
      delete_item: native::ItemRequest.new(**item),
      save_session: native::SaveRequest.new(**item, data: "{}", created_at: "1.0", expire_at: 1, new_session: true,
                                                    lock: "1.0", user: "u", user_agent: "a"),
      move_session: native::MoveRequest.new(**item, from_key: "old", data: "{}", created_at: "1.0", expire_at: 1,
                                                    read_updated_at: ["S", "1.0"], lock: "1.0", user: "u",
                                                    user_agent: "a"),
      lock_session: native::LockRequest.new(**item, consistent: true, expiry_ms: 1, retry_delay_ms: 1,
                                                    max_wait_ms: 1),
      release_lock: native::LockedItem.new(**item, lock: "1.0"),
      track_user_session: native::UserEntry.new(**item, user: "u", added_at: 1),
      untrack_user_session: native::UserEntry.new(**item, user: "u", added_at: 1),
      revoke_user_session: native::UserEntry.new(**item, user: "u", added_at: 1),
      user_session_keys: native::UserRequest.new(table: table_name, key_name: table_hash_key, user: "u"),
      session_summaries: native::SummaryRequest.new(table: table_name, key_name: table_hash_key, keys: ["k"]),
      user_index_keys: native::UserRequest.new(table: table_name, key_name: table_hash_key, user: "u"),
      create_table: native::TableRequest.new(table: table_name, key_name: table_hash_key,
                                             billing_mode: "provisioned", read_capacity: 1, write_capacity: 1,
                                             enable_ttl: false, user_index: false),
      add_user_index: native::TableRequest.new(table: table_name, key_name: table_hash_key,
                                               billing_mode: "provisioned", read_capacity: 1, write_capacity: 1,
                                               enable_ttl: false, user_index: true),
      remove_user_index: native::TableName.new(table: table_name),
      scan_page: native::ScanRequest.new(table: table_name, limit: 1, start_key: { "k" => "v" }),
      rewrite_item: native::RewriteRequest.new(**item, expected: [%w[data S x]], set: [%w[data S y]]),
      collect_garbage: native::GcRequest.new(table: table_name, key_name: table_hash_key, max_age: 1.0,
                                             max_stale: 1.0, segments: 1, operation_delay: 0.0,
                                             max_deletes_per_second: 1.0, dry_run: true)
    }
  end

  def call(method, request)
    method == :collect_garbage ? client.public_send(method, request, nil) : client.public_send(method, request)
  end

  it "refuses a wrong type in any checked member of any request, naming its Struct and member" do
    refusals = requests.flat_map do |method, request|
      (request.members - %i[consistent new_session enable_ttl user_index dry_run instrument]).map do |member|
        wrong = request.dup.tap { |r| r[member] = Object.new }
        call(method, wrong)
        "#{method}: #{member} accepted"
      rescue TypeError => e
        e.message.start_with?("#{request.class.name}##{member}: ") ? nil : "#{method}: #{e.message}"
      end
    end
    expect(refusals.compact).to be_empty
  end

  it "refuses a Struct of another shape with NameError naming the member it lacks, and a non-Struct with TypeError" do
    locked = native::LockedItem.new(table: table_name, key_name: table_hash_key, key: "k", lock: "1.0")
    expect { client.lock_session(locked) }
      .to raise_error(NameError, /\AAws::SessionStore::DynamoDB::Native::LockedItem#consistent: /)
    requests.each_key do |method|
      expect { call(method, { table: table_name }) }.to raise_error(TypeError)
    end
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
