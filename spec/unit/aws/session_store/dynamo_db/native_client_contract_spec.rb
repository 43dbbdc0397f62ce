# frozen_string_literal: true

# The in-memory double (spec/support/memory_client.rb) under the contract
# the real client meets on DynamoDB Local
# (spec/integration/native_client_contract_spec.rb): the unit specs can
# trust it only while both pass.

require "securerandom"
require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/memory_client"
require_relative "../../../../support/native_client_contract"

RSpec.describe MemoryClient do
  it_behaves_like "a native session client" do
    let(:client) { described_class.new }
    let(:table) { "sessions" }
    let(:plant_typed) { ->(key, attributes) { client.put_typed(key, attributes) } }
  end
end
