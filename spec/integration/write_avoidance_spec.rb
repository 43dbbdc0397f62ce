# frozen_string_literal: true

# Counts the DynamoDB requests the middleware sends, through a recording
# proxy: one GetItem per read, one UpdateItem per save, data written only
# when it changed, nothing written for a new session that stays empty.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/rack_test_store"
require_relative "../support/counting_proxy"

RSpec.describe "DynamoDB requests per Rack request" do
  include_context "with a session table"
  include_context "through Rack::Test"

  include_context "through a counting proxy"
  # touch_interval: 0 writes on every request (the official behaviour); the
  # write-avoidance context below uses the default.
  let(:extra) { { touch_interval: 0 } }

  let(:inner_app) do
    lambda do |env|
      session = env["rack.session"]
      case env["PATH_INFO"]
      when "/read" then session["n"]
      when "/drop" then env["rack.session.options"][:drop] = true
      else session["n"] = session.fetch("n", 0) + 1
      end
      [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
    end
  end

  # The store talks to DynamoDB Local only through the proxy (its own native
  # client, since the endpoint differs); the table is set up without it.
  let(:store) do
    Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, store_options(extra.merge(endpoint: proxy.endpoint)))
  end

  # Runs one Rack request and returns the DynamoDB requests it caused.
  def dynamodb_requests_of(path)
    proxy.reset!
    get path
    expect(last_response.status).to eq(200)
    proxy.requests
  end

  def of(requests, operation)
    requests.select { |op, _| op == operation }.map(&:last)
  end

  # The attributes an UpdateItem sets, by real name, with their values:
  # {"data" => {"S" => "..."}, "updated_at" => {"S" => "..."}}.
  def assigned_attributes(update)
    names = update.fetch("ExpressionAttributeNames", {})
    values = update.fetch("ExpressionAttributeValues", {})
    clause = update.fetch("UpdateExpression")[/\bSET\s+(.*?)(?=\s+\b(?:REMOVE|ADD|DELETE)\b|\z)/mi, 1].to_s
    clause.split(",").to_h do |assignment|
      name, value = assignment.split("=", 2).map(&:strip)
      [names.fetch(name, name), values.fetch(value)]
    end
  end

  # Whether the UpdateItem mentions the data attribute anywhere: in its
  # expression (directly or through a name placeholder) or its values.
  def touches_data?(update, data = nil)
    names = update.fetch("ExpressionAttributeNames", {})
    placeholders = names.select { |_, real| real == "data" }.keys
    expression = update.fetch("UpdateExpression")
    expression.match?(/\bdata\b/) ||
      placeholders.any? { |p| expression.include?(p) } ||
      names.value?("data") ||
      (!data.nil? && update.fetch("ExpressionAttributeValues", {}).value?("S" => data))
  end

  it "new session: one UpdateItem writing data, created_at and updated_at, and no read" do
    requests = dynamodb_requests_of("/")
    expect(requests.map(&:first)).to eq(["UpdateItem"])
    update = requests.first.last
    expect(update["TableName"]).to eq(table_name)
    expect(update["Key"]).to eq("session_id" => { "S" => cookie_value })
    attrs = assigned_attributes(update)
    expect(attrs.keys).to contain_exactly("data", "created_at", "updated_at", "expire_at")
    expect(attrs["data"]).to eq("S" => JSON.dump("n" => 1))
    expect(attrs["created_at"].keys).to eq(["S"])
    expect(update["ConditionExpression"]).to match(/attribute_not_exists/)
  end

  it "read without a change: one GetItem, one UpdateItem without data or created_at" do
    get "/"
    stored = raw_item(cookie_value)["data"]["S"]
    requests = dynamodb_requests_of("/read")
    expect(last_response.body).to eq("1")
    expect(requests.map(&:first)).to eq(%w[GetItem UpdateItem])

    update = of(requests, "UpdateItem").first
    expect(touches_data?(update, stored)).to be(false)
    expect(assigned_attributes(update).keys).to contain_exactly("updated_at", "expire_at")
    expect(update.fetch("ExpressionAttributeValues").values).not_to include("S" => stored)
    expect(raw_item(cookie_value)["data"]).to eq("S" => stored)
  end

  it "changed session: one GetItem, one UpdateItem rewriting data (created_at untouched)" do
    get "/"
    requests = dynamodb_requests_of("/")
    expect(requests.map(&:first)).to eq(%w[GetItem UpdateItem])
    update = of(requests, "UpdateItem").first
    expect(touches_data?(update)).to be(true)
    attrs = assigned_attributes(update)
    expect(attrs.keys).to contain_exactly("data", "updated_at", "expire_at")
    expect(attrs["data"]).to eq("S" => JSON.dump("n" => 2))
    expect(update["ConditionExpression"]).to match(/attribute_exists/)
  end

  it "a new session that stays empty: no UpdateItem, no request at all" do
    requests = dynamodb_requests_of("/read")
    expect(requests).to be_empty
    expect(last_response.headers["Set-Cookie"]).to be_nil
    expect(all_items).to be_empty
  end

  it "each find is exactly one strongly consistent GetItem of the cookie's key" do
    get "/"
    3.times do |i|
      requests = dynamodb_requests_of(i.even? ? "/read" : "/")
      gets = of(requests, "GetItem")
      expect(gets.size).to eq(1)
      expect(gets.first).to include("TableName" => table_name, "Key" => { "session_id" => { "S" => cookie_value } },
                                    "ConsistentRead" => true)
      expect(of(requests, "UpdateItem").size).to eq(1)
    end
    expect(raw_item(cookie_value)["data"]).to eq("S" => JSON.dump("n" => 2))
  end

  it "a drop: one GetItem and a DeleteItem per key the session may have, nothing written" do
    get "/"
    requests = dynamodb_requests_of("/drop")
    # Its clear id and both hashed_keys schemes: a logout holds through a
    # hashed_keys rollout in either direction.
    expect(requests.map(&:first)).to eq(%w[GetItem DeleteItem DeleteItem DeleteItem])
    expect(all_items).to be_empty
  end

  context "with max_stale" do
    let(:extra) { { max_stale: 3600, touch_interval: 0 } }

    it "an unchanged read still skips data and refreshes expire_at" do
      get "/"
      requests = dynamodb_requests_of("/read")
      update = of(requests, "UpdateItem").first
      expect(touches_data?(update)).to be(false)
      attrs = assigned_attributes(update)
      expect(attrs.keys).to contain_exactly("updated_at", "expire_at")
      expect(attrs["expire_at"]["N"].to_i).to be_within(5).of(Time.now.to_i + 3600)
    end
  end

  context "with write avoidance (the default touch_interval)" do
    let(:extra) { { max_stale: 3600 } }

    it "writes nothing for 100 unchanged requests within the interval, then writes data changes at once" do
      get "/"
      created = raw_item(cookie_value)
      requests = 100.times.flat_map { dynamodb_requests_of("/read") }
      expect(requests.map(&:first).uniq).to eq(["GetItem"])
      expect(raw_item(cookie_value)).to eq(created)
      changed = dynamodb_requests_of("/")
      expect(of(changed, "UpdateItem").size).to eq(1)
      expect(last_response.body).to eq("2")
    end

    it "keeps expire_at a touch interval past max_stale, so TTL never removes a live session early" do
      get "/"
      interval = store.config.effective_touch_interval
      expect(interval).to eq(180.0)
      expect(raw_item(cookie_value)["expire_at"]["N"].to_i).to be_within(5).of(Time.now.to_i + 3600 + 180)
    end
  end

  context "with a short touch_interval" do
    let(:extra) { { touch_interval: 1 } }

    it "touches an unchanged session again once the interval has passed" do
      get "/"
      expect(of(dynamodb_requests_of("/read"), "UpdateItem")).to be_empty
      sleep 1.1
      update = of(dynamodb_requests_of("/read"), "UpdateItem")
      expect(update.size).to eq(1)
      expect(touches_data?(update.first)).to be(false)
    end
  end
end
