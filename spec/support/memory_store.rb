# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"
require_relative "memory_client"
require_relative "store_requests"
require_relative "storage_keys"

# The store on the in-memory native client (spec/support/memory_client.rb):
# every store an example builds gets `client` through Native.client_factory,
# with the suite's secret and no server.
#
#   include_context "store on the memory client"
#   cookie = store_request(counter).cookie
#   stored(cookie)      # the item's attributes ({"data" => '{"n":1}', ...}), or nil
#   operations          # the native calls so far: [:save_session, ...]
RSpec.shared_context "store on the memory client" do
  include StoreRequestHelpers
  include StorageKeys

  let(:client) { MemoryClient.new }
  let(:table_name) { "sessions" }
  # The options each native client was asked for with, in order.
  let(:client_options) { [] }

  before do
    Aws::SessionStore::DynamoDB::Native.client_factory = lambda do |options|
      client_options << options
      client
    end
  end

  after { Aws::SessionStore::DynamoDB::Native.client_factory = nil }

  # The suite's store options (StoreSpecHelpers#store_options) without an
  # endpoint: nothing here talks to a server.
  def store_options(extra = {})
    { table_name: table_name, secret_key: StoreSpecHelpers::SECRET, region: "us-east-1" }.merge(extra)
  end

  # The stored item's attributes (a copy), or nil.
  def stored(key)
    client.item(key)
  end

  def stored_keys
    client.keys
  end

  def stored_items
    client.keys.map { |key| client.item(key) }
  end

  # The native calls made so far, by name.
  def operations
    client.calls.map(&:first)
  end

  # The requests of one native call, in order.
  def requests_of(method)
    client.requests.select { |name, _| name == method }.map(&:last)
  end

  # Writes an item as another process (or the official gem) would.
  def plant(key, attributes)
    client.put(key, { "session_id" => key }.merge(attributes))
  end

  # Sets attributes of a stored item, as another process would.
  def update_stored(key, attributes)
    client.put(key, client.item(key).merge(attributes))
  end

  # Removes an item, as another process would.
  def forget(key)
    client.remove(key)
  end
end
