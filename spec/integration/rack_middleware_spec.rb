# frozen_string_literal: true

# What only DynamoDB shows of the middleware: a missing table answered as
# ResourceNotFoundError. The rest of its Rack behaviour runs on the
# in-memory client in spec/unit/aws/session_store/dynamo_db/rack_middleware/.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/store_requests"

RSpec.describe Aws::SessionStore::DynamoDB::RackMiddleware do
  let(:table_name) { "no-such-table-#{SecureRandom.hex(4)}" }

  it "raises ResourceNotFoundError (a hard error) when the table is missing" do
    s = described_class.new(StoreRequestHelpers::COUNTER_APP, store_options)
    expect { Rack::MockRequest.new(s).get("/") }
      .to raise_error(Aws::SessionStore::DynamoDB::Errors::ResourceNotFoundError)
  end
end
