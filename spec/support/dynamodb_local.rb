# frozen_string_literal: true

# Spec helpers for talking to the DynamoDB Local started by script/test
# (script/dynamodb-local/start exports DYNAMODB_ENDPOINT).
#
#   RSpec.describe 'something' do
#     include_context 'with a session table'   # table_name, raw_dynamodb
#     it { raw_dynamodb.put_item(table_name, 'session_id' => { 'S' => 'x' }) }
#   end

require "securerandom"
require_relative "raw_dynamodb"

module DynamoDBLocalHelper
  module_function

  def endpoint
    value = ENV["DYNAMODB_ENDPOINT"].to_s
    return value unless value.empty?

    raise "DYNAMODB_ENDPOINT is not set: run the specs with script/test, or start " \
          'DynamoDB Local yourself with: eval "$(script/dynamodb-local/start)"'
  end

  # A table name no other spec (or earlier run against the same server) uses.
  def unique_table_name(prefix = "sessions")
    "#{prefix}-#{SecureRandom.hex(6)}"
  end

  # One shared keep-alive client; RawDynamoDB is safe to share across threads.
  def raw_client
    @raw_client ||= RawDynamoDB.new(endpoint)
  end

  # Creates a fresh table, yields its name, and deletes it afterwards.
  def with_table(prefix = "sessions", key: "session_id")
    name = unique_table_name(prefix)
    raw_client.create_table(name, key: key)
    yield name
  ensure
    raw_client.delete_table(name) if name
  end
end

if defined?(RSpec) && RSpec.respond_to?(:shared_context)
  # Gives each example its own freshly created session table (hash key
  # 'session_id', string), deleted afterwards. Override `table_name` or
  # `table_hash_key` with let() if needed.
  RSpec.shared_context "with a session table" do
    let(:raw_dynamodb) { DynamoDBLocalHelper.raw_client }
    let(:table_hash_key) { "session_id" }
    let(:table_name) { DynamoDBLocalHelper.unique_table_name("sessions") }

    before { raw_dynamodb.create_table(table_name, key: table_hash_key) }
    after { raw_dynamodb.delete_table(table_name) }
  end
end
