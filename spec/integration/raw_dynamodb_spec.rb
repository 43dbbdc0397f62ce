# frozen_string_literal: true

# Checks the spec-side raw DynamoDB client against DynamoDB Local, so that
# interop specs built on it can be trusted. Needs DYNAMODB_ENDPOINT (script/test).

require_relative "../support/dynamodb_local"

RSpec.describe RawDynamoDB do
  include_context "with a session table"

  def item(id, expire_at: 1_900_000_000, data: "data-#{id}")
    { "session_id" => { "S" => id }, "expire_at" => { "N" => expire_at.to_s }, "data" => { "S" => data } }
  end

  it "creates a PAY_PER_REQUEST table with a string hash key" do
    expect(raw_dynamodb.list_tables).to include(table_name)
    table = raw_dynamodb.describe_table(table_name)
    expect(table["TableStatus"]).to eq("ACTIVE")
    expect(table["KeySchema"]).to eq([{ "AttributeName" => "session_id", "KeyType" => "HASH" }])
    expect(table["AttributeDefinitions"]).to eq([{ "AttributeName" => "session_id", "AttributeType" => "S" }])
    expect(table.dig("BillingModeSummary", "BillingMode")).to eq("PAY_PER_REQUEST")
  end

  it "describes time to live of a fresh table as disabled" do
    expect(raw_dynamodb.describe_time_to_live(table_name)).to eq("TimeToLiveStatus" => "DISABLED")
  end

  it "puts, gets and deletes an item in the wire format" do
    raw_dynamodb.put_item(table_name, item("abc", expire_at: 123))
    expect(raw_dynamodb.get_item(table_name, "session_id" => { "S" => "abc" }))
      .to eq("Item" => item("abc", expire_at: 123))
    expect(raw_dynamodb.get_item(table_name, { "session_id" => { "S" => "abc" } }, "ConsistentRead" => true)["Item"])
      .to eq(item("abc", expire_at: 123))
    expect(raw_dynamodb.get_item(table_name, "session_id" => { "S" => "missing" })["Item"]).to be_nil

    raw_dynamodb.delete_item(table_name, "session_id" => { "S" => "abc" })
    expect(raw_dynamodb.get_item(table_name, "session_id" => { "S" => "abc" })).not_to have_key("Item")
  end

  it "passes extra request parameters through" do
    raw_dynamodb.put_item(table_name, item("cond"))
    old = raw_dynamodb.put_item(table_name, item("cond", data: "new"), "ReturnValues" => "ALL_OLD")
    expect(old["Attributes"]).to eq(item("cond"))
  end

  it "batch-puts 60 items in chunks and scans them all back across pages" do
    items = (1..60).map { |i| item(format("id-%03d", i)) }
    expect(raw_dynamodb.batch_put(table_name, items)).to eq(60)

    scanned = raw_dynamodb.scan_all(table_name, "Limit" => 7) # forces ~9 pages
    expect(scanned.size).to eq(60)
    expect(scanned).to match_array(items)
    expect(raw_dynamodb.scan_all(table_name)).to match_array(items)
  end

  it "raises RawDynamoDB::Error with the exception name as code" do
    expect { raw_dynamodb.get_item("no-such-table", "session_id" => { "S" => "x" }) }
      .to raise_error(RawDynamoDB::Error) { |e|
        expect(e.code).to eq("ResourceNotFoundException")
        expect(e.status).to eq(400)
        expect(e.message).to start_with("ResourceNotFoundException: ")
      }

    raw_dynamodb.put_item(table_name, item("taken"))
    expect do
      raw_dynamodb.put_item(table_name, item("taken"),
                            "ConditionExpression" => "attribute_not_exists(session_id)")
    end.to raise_error(RawDynamoDB::Error) { |e| expect(e.code).to eq("ConditionalCheckFailedException") }
  end

  it "ignores a missing table on delete_table" do
    expect(raw_dynamodb.delete_table(DynamoDBLocalHelper.unique_table_name("gone"))).to be_nil
  end

  it "reuses one keep-alive connection across calls" do
    raw_dynamodb.list_tables
    http = raw_dynamodb.instance_variable_get(:@http)
    3.times { raw_dynamodb.list_tables }
    expect(raw_dynamodb.instance_variable_get(:@http)).to equal(http)
    expect(http).to be_started
  end

  describe "DynamoDBLocalHelper.with_table" do
    it "creates a table for the block and deletes it afterwards" do
      seen = nil
      DynamoDBLocalHelper.with_table("block") do |name|
        seen = name
        expect(raw_dynamodb.list_tables).to include(name)
      end
      expect(raw_dynamodb.list_tables).not_to include(seen)
    end
  end
end
