# frozen_string_literal: true

# A real DynamoDB outage: a second DynamoDB Local (its own state dir, so the
# suite's server is untouched) is killed while the app runs, then restarted
# on a new port; the store reaches it through CountingProxy, whose
# Toxiproxy behind (faults: true) is retargeted to the new port, as a load
# balancer or DNS change would. The app
# (middleware, native client, process) is never restarted.
#
# DynamoDB Local runs -inMemory, so the restarted server has lost the data:
# that sessions committed before an outage survive it is shown in
# spec/fault_injection_spec.rb, with the proxy cutting the traffic instead.
#
# Starting a JVM is slow on a busy machine; the restart overlaps the requests
# made during the outage, as it would in production.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "open3"
require "fileutils"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"

RSpec.describe "DynamoDB Local killed and restarted on a new port" do
  include StoreRequestHelpers

  let(:state_dir) { File.expand_path("../../tmp/dynamodb-local-outage", __dir__) }
  let(:script_dir) { File.expand_path("../../script/dynamodb-local", __dir__) }
  let(:table_name) { DynamoDBLocalHelper.unique_table_name("outage") }
  let(:proxy) do
    skip_without_toxiproxy
    CountingProxy.new(DynamoDBLocalHelper.endpoint, faults: true)
  end

  let(:inner_app) { StoreRequestHelpers::COUNTER_APP }

  let(:store) do
    Aws::SessionStore::DynamoDB::RackMiddleware.new(
      inner_app, store_options(endpoint: proxy.endpoint, operation_timeout: 2, touch_interval: 0)
    )
  end

  # @return [String, nil] the endpoint, or nil with the script's output.
  def start_server
    out, status = Open3.capture2e({ "DYNAMODB_LOCAL_STATE" => state_dir },
                                  File.join(script_dir, "start"), "--owner", Process.pid.to_s)
    endpoint = out[%r{^export DYNAMODB_ENDPOINT=(http://127\.0\.0\.1:\d+)$}, 1]
    status.success? && endpoint ? [endpoint, out] : [nil, out]
  end

  def stop_server
    system({ "DYNAMODB_LOCAL_STATE" => state_dir }, File.join(script_dir, "stop"), %i[out err] => File::NULL)
  end

  def start_server!
    endpoint, out = start_server
    skip "could not start a second DynamoDB Local: #{out.lines.last(3).join}" unless endpoint
    endpoint
  end

  def outage_line
    /\AAws::SessionStore::DynamoDB::Errors::(ServiceError: BadGateway|TimeoutError): /
  end

  def item_n(endpoint, cookie)
    data = RawDynamoDB.new(endpoint).get_item(table_name, "session_id" => { "S" => cookie }).dig("Item", "data", "S")
    data && JSON.parse(data)["n"]
  end

  # A DynamoDB Local just started answers its first calls slowly (class
  # loading, JIT); under load that can outlast the store's 2 s
  # operation_timeout and turn a read into a passing fault. A few direct
  # calls first, so the store's requests meet a warm server.
  def warm_up(endpoint)
    raw = RawDynamoDB.new(endpoint)
    5.times do |i|
      raw.put_item(table_name, "session_id" => { "S" => "warm-up-#{i}" })
      raw.get_item(table_name, "session_id" => { "S" => "warm-up-#{i}" })
      raw.delete_item(table_name, "session_id" => { "S" => "warm-up-#{i}" })
    end
  end

  after do
    proxy.stop
    stop_server
  end

  it "fails requests cleanly during the outage and recovers without restarting the app" do
    FileUtils.mkdir_p(state_dir)
    stop_server # a leftover of an interrupted run
    first = start_server!
    RawDynamoDB.new(first).create_table(table_name)
    warm_up(first)
    proxy.retarget(first)

    cookie = store_request(store).cookie
    expect(store_request(store, cookie: cookie).body).to eq("2")
    expect(item_n(first, cookie)).to eq(2)

    stop_server # killed; its port refuses connections now
    restart = Thread.new { start_server }
    outage = []
    deadline = monotonic + 90
    # Requests keep coming while the server restarts (at least 3, bounded).
    while (outage.size < 3 || restart.alive?) && outage.size < 30 && monotonic < deadline
      outage << store_request(store, outage.size.even? ? "/read" : "/", cookie: cookie)
      sleep 0.2
    end
    second, out = restart.value
    skip "could not restart the second DynamoDB Local: #{out.lines.last(3).join}" unless second

    expect(outage.size).to be >= 3
    outage.each do |response|
      expect(response.status).to eq(200)
      expect(response.elapsed).to be < 2 * 2 + 3 # two calls (read, save) of operation_timeout each, and slack
      # The proxy answers 502 when it can't reach DynamoDB: retried, then a
      # soft ServiceError (or TimeoutError when the retries outlast
      # operation_timeout). A passing fault: an empty stand-in session, the
      # visitor keeps the cookie, nothing is saved (Rack's warning says so).
      expect(response.cookie).to be_nil
      expect(response.errors.lines.first).to match(outage_line)
      expect(response.errors.lines.drop(1)).to all(eq(StoreRequestHelpers::RACK_SAVE_WARNING))
    end
    expect(outage.map(&:body)).to all(eq("").or(eq("1")))

    expect(second).not_to eq(first)
    RawDynamoDB.new(second).create_table(table_name) # -inMemory: everything is gone, the table too
    warm_up(second)
    proxy.retarget(second)

    # The same middleware, native client and process. The restarted server
    # has lost the session (in memory only): a fresh one, no error.
    lost = store_request(store, "/read", cookie: cookie)
    expect([lost.status, lost.body, lost.errors]).to eq([200, "", ""])
    fresh = store_request(store)
    expect(fresh.errors).to be_empty
    expect(store_request(store, cookie: fresh.cookie).body).to eq("2")
    expect(item_n(second, fresh.cookie)).to eq(2)
    expect(proxy.errors).to be_empty
  end
end
