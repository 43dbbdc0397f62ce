# frozen_string_literal: true

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"

RSpec.describe Aws::SessionStore::DynamoDB::Table do
  let(:raw_dynamodb) { DynamoDBLocalHelper.raw_client }
  let(:table_name) { DynamoDBLocalHelper.unique_table_name("table-spec") }

  after { raw_dynamodb.delete_table(table_name) }

  it "creates a provisioned table keyed by table_key with TTL on expire_at" do
    expect(described_class.create_table(store_options(read_capacity: 3, write_capacity: 2))).to eq(:created)
    table = raw_dynamodb.describe_table(table_name)
    expect(table["TableStatus"]).to eq("ACTIVE")
    expect(table["KeySchema"]).to eq([{ "AttributeName" => "session_id", "KeyType" => "HASH" }])
    expect(table["AttributeDefinitions"]).to eq([{ "AttributeName" => "session_id", "AttributeType" => "S" }])
    expect(table["ProvisionedThroughput"]).to include("ReadCapacityUnits" => 3, "WriteCapacityUnits" => 2)
    ttl = raw_dynamodb.describe_time_to_live(table_name)
    expect(ttl).to include("TimeToLiveStatus" => "ENABLED", "AttributeName" => "expire_at")
  end

  it "creates an on-demand table with a custom key, TTL skipped on request" do
    described_class.create_table(store_options(billing_mode: :pay_per_request, table_key: "sid", enable_ttl: false))
    table = raw_dynamodb.describe_table(table_name)
    expect(table["BillingModeSummary"]["BillingMode"]).to eq("PAY_PER_REQUEST")
    expect(table["KeySchema"].first["AttributeName"]).to eq("sid")
    ttl = raw_dynamodb.describe_time_to_live(table_name)
    expect(ttl["TimeToLiveStatus"]).to eq("DISABLED")
  end

  it "warns and succeeds when the table exists" do
    described_class.create_table(store_options)
    expect { expect(described_class.create_table(store_options)).to eq(:exists) }
      .to output(/already exists/).to_stderr
  end

  it "deletes the table and waits until it is gone; a missing one only warns" do
    described_class.create_table(store_options)
    expect(described_class.delete_table(store_options)).to eq(:deleted)
    expect(raw_dynamodb.list_tables).not_to include(table_name)
    expect { expect(described_class.delete_table(store_options)).to eq(:missing) }
      .to output(/does not exist/).to_stderr
  end

  it "describes the table for stats" do
    described_class.create_table(store_options(billing_mode: :pay_per_request))
    expect(described_class.describe_table(store_options))
      .to include(status: "ACTIVE", key_name: "session_id", ttl_status: "ENABLED", billing_mode: "PAY_PER_REQUEST")
  end
end
