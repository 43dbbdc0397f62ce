# frozen_string_literal: true

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)

require "rack"
require "rack/lint"
require "rack/mock"
require "json"
require "openssl" # the reference HMAC for cookies: the store itself does not load it
require_relative "support/raw_dynamodb"
require_relative "support/dynamodb_local"

# Options every store spec shares: the local server and dummy credentials.
module StoreSpecHelpers
  SECRET = "spec-secret-key-" + ("k" * 48)

  def native_options
    {
      endpoint: DynamoDBLocalHelper.endpoint, region: "us-east-1",
      access_key_id: "dummy", secret_access_key: "dummy"
    }
  end

  def store_options(extra = {})
    native_options.merge(table_name: table_name, secret_key: SECRET).merge(extra)
  end

  # The item of the session whose cookie the last response set.
  def raw_item(cookie_value)
    raw_dynamodb.get_item(table_name, "session_id" => { "S" => cookie_value })["Item"]
  end

  def all_items
    raw_dynamodb.scan_all(table_name)
  end
end

RSpec.configure do |config|
  config.include StoreSpecHelpers
  config.disable_monkey_patching!
  config.order = :random
  Kernel.srand config.seed
  config.expect_with(:rspec) { |c| c.syntax = :expect }
end
