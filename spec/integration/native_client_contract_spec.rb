# frozen_string_literal: true

# The real Native::Client on DynamoDB Local under the contract that the
# in-memory double meets too (spec/unit/.../native_client_contract_spec.rb).

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/dynamodb_local"
require_relative "../support/native_client_contract"

RSpec.describe "Aws::SessionStore::DynamoDB::Native::Client" do
  include_context "with a session table"

  it_behaves_like "a native session client" do
    let(:client) do
      Aws::SessionStore::DynamoDB::Native::Client.new(
        { endpoint: DynamoDBLocalHelper.endpoint, region: "us-east-1", access_key_id: "dummy",
          secret_access_key: "dummy", max_attempts: 1 }
      )
    end
    let(:table) { table_name }
    let(:plant_typed) { ->(_key, attributes) { raw_dynamodb.put_item(table_name, attributes) } }
  end
end
