# frozen_string_literal: true

# The store's OpenTelemetry spans against DynamoDB Local, with the SDK's
# InMemorySpanExporter: a changed and an unchanged request under a request
# span, a locked request that waits (two real requests, one paused), a
# move to the hashed key, a call that fails after its retries, table and
# UserSessions calls, and a garbage collection run; names, kinds, attributes, parentage and real
# durations, and no secret in any span of the run.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/store_requests"
require_relative "../support/storage_keys"
require_relative "../support/opentelemetry"
require "socket"

RSpec.describe "OpenTelemetry spans on DynamoDB Local" do
  include_context "with a session table"
  include_context "OpenTelemetry spans"
  include StorageKeys
  include StoreRequestHelpers

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:seen) { [] } # every span of the example, for the secrets check

  before { telemetry.install }

  after do
    seen.concat(spans)
    strings = seen.flat_map { |span| strings_of(span) }
    [StoreSpecHelpers::SECRET, "dummy", '"n":'].each do |secret|
      expect(strings.grep(/#{Regexp.escape(secret)}/)).to eq([])
    end
    @cookies&.each do |cookie|
      [cookie, cookie.split("--").last, hashed(cookie)].each { |id| expect(strings.grep(/#{id}/)).to eq([]) }
    end
  end

  def remember(cookie)
    (@cookies ||= []) << cookie
    cookie
  end

  def in_request(&block)
    tracer.in_span("GET /", kind: :server, &block)
  end

  def named(name)
    spans.select { |span| span.name == name }
  end

  it "a changed request: GetItem and UpdateItem under the request's span, with their real durations" do
    cookie = remember(store_request(counter).cookie)
    OpenTelemetrySupport.exporter.reset
    started = Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)
    in_request { expect(store_request(counter(touch_interval: 0), cookie: cookie).body).to eq("2") }
    request = named("GET /").first
    calls = spans - [request]
    expect(calls.map(&:name)).to eq(%w[DynamoDB.GetItem DynamoDB.UpdateItem])
    calls.each do |span|
      expect(span.kind).to eq(:client)
      expect(span.parent_span_id).to eq(request.span_id)
      expect(span.start_timestamp).to be >= started
      expect(span.end_timestamp).to be > span.start_timestamp
      expect(span.end_timestamp).to be <= request.end_timestamp
      expect(span.attributes).to include("rpc.system" => "aws-api", "rpc.service" => "DynamoDB",
                                         "aws.dynamodb.table_names" => [table_name],
                                         "aws_sessionstore_dynamodb.attempts" => 1)
      expect(span.attributes["aws.dynamodb.consumed_capacity"].first).to match(/"CapacityUnits":\d/)
    end
    expect(calls.first.attributes).to include("rpc.method" => "GetItem", "aws.dynamodb.consistent_read" => true)
  end

  it "an unchanged request: one GetItem" do
    cookie = remember(store_request(counter).cookie)
    OpenTelemetrySupport.exporter.reset
    in_request { store_request(counter, "/read", cookie: cookie) }
    expect(spans.map(&:name).sort).to eq(["DynamoDB.GetItem", "GET /"])
  end

  it "a locked request that waits: a lock wait span over its attempts" do
    options = { enable_locking: true, lock_retry_delay: 20, lock_expiry_time: 10_000, lock_max_wait_time: 5 }
    cookie = remember(store_request(counter(**options)).cookie)
    read = Queue.new
    go = Queue.new
    slow_app = lambda do |env|
      env["rack.session"]["n"]
      read << true
      go.pop
      [200, {}, ["slow"]]
    end
    slow = Thread.new { store_request(middleware(slow_app, **options), cookie: cookie) }
    read.pop
    OpenTelemetrySupport.exporter.reset
    waiter = Thread.new { in_request { store_request(counter(**options), cookie: cookie) } }
    sleep 0.6 # the wait checked below is 200 ms: room for a waiter thread that starts late
    go << true
    slow.value
    expect(waiter.value.body).to eq("2")
    request = named("GET /").first
    wait = named("aws-sessionstore-dynamodb lock wait").find { |span| span.parent_span_id == request.span_id }
    expect(wait.kind).to eq(:internal)
    expect(wait.attributes).to include("aws_sessionstore_dynamodb.outcome" => "acquired")
    attempts = spans.select { |span| span.parent_span_id == wait.span_id }
    expect(attempts.size).to be >= 3
    expect(attempts.map(&:kind).uniq).to eq([:client])
    expect(attempts.map(&:name).uniq - %w[DynamoDB.UpdateItem DynamoDB.GetItem]).to eq([])
    expect(wait.end_timestamp - wait.start_timestamp).to be >= 200_000_000
  end

  it "a move to the hashed key: TransactWriteItems under a move span" do
    cookie = remember(store_request(counter).cookie)
    OpenTelemetrySupport.exporter.reset
    in_request { expect(store_request(counter(hashed_keys: true), cookie: cookie).body).to eq("2") }
    move = named("aws-sessionstore-dynamodb move to hashed key").first
    expect(move.parent_span_id).to eq(named("GET /").first.span_id)
    expect(spans.select { |span| span.parent_span_id == move.span_id }.map(&:name)).to eq(["DynamoDB.TransactWriteItems"])
  end

  it "a call that fails after its retries: an error span with its attempts and an exception event" do
    closed = TCPServer.new("127.0.0.1", 0).then { |server| server.addr[1].tap { server.close } }
    store = counter(endpoint: "http://127.0.0.1:#{closed}", max_attempts: 3, connect_timeout: 0.2,
                    operation_timeout: 5)
    in_request { store_request(store, cookie: remember(store_request(counter).cookie)) }
    failed = named("DynamoDB.GetItem").first
    expect(failed.status.code).to eq(OpenTelemetry::Trace::Status::ERROR)
    expect(failed.attributes).to include("aws_sessionstore_dynamodb.attempts" => 3, "error.type" => "DispatchFailure")
    expect(failed.events.map(&:name)).to eq(["exception"])
    expect(failed.events.first.attributes).to include("exception.type" => "DispatchFailure")
  end

  it "a garbage collection run: its span, with the scans and batch deletes under it" do
    3.times { remember(store_request(counter).cookie) }
    raw_dynamodb.age_items(table_name, 3600)
    OpenTelemetrySupport.exporter.reset
    result = dynamo::GarbageCollection.collect_garbage(store_options(max_stale: 1, gc_segments: 1))
    expect(result[:deleted]).to eq(3)
    run = named("aws-sessionstore-dynamodb garbage collection").first
    expect(run.attributes).to include("aws_sessionstore_dynamodb.gc.scanned" => 3,
                                      "aws_sessionstore_dynamodb.gc.deleted" => 3)
    expect(spans.select { |span| span.parent_span_id == run.span_id }.map(&:name))
      .to eq(%w[DynamoDB.Scan DynamoDB.BatchWriteItem])
  end

  it "table calls under a span: one span per DynamoDB call, the waits' DescribeTables included" do
    options = store_options(table_name: "#{table_name}-otel")
    in_request { dynamo::Table.create_table(options) }
    created = spans.map(&:name) - ["GET /"]
    expect(created.first).to eq("DynamoDB.CreateTable")
    expect(created).to include("DynamoDB.DescribeTable", "DynamoDB.UpdateTimeToLive")
    OpenTelemetrySupport.exporter.reset
    in_request { dynamo::Table.delete_table(options) }
    deleted = spans.map(&:name) - ["GET /"]
    expect(deleted.first).to eq("DynamoDB.DeleteTable")
    # The wait ends on DescribeTable's ResourceNotFoundException: a failed span.
    expect(named("DynamoDB.DescribeTable").last.attributes["error.type"]).to eq("ResourceNotFoundException")
  ensure
    raw_dynamodb.delete_table("#{table_name}-otel")
  end

  it "UserSessions' calls under the request's span" do
    login = lambda do |env|
      env["rack.session"]["user_id"] = "42"
      [200, {}, ["in"]]
    end
    dynamo::Table.add_user_index(store_options)
    remember(store_request(middleware(login, user_key: "user_id")).cookie)
    OpenTelemetrySupport.exporter.reset
    in_request { expect(dynamo::UserSessions.revoke("42", **store_options(user_key: "user_id"))).to eq(1) }
    request = named("GET /").first
    calls = spans - [request]
    # The record and the user index, each for both forms of the user's id
    # (a hashed_keys rollout), then the revoke.
    expect(calls.map(&:name).sort)
      .to eq(%w[DynamoDB.DeleteItem DynamoDB.GetItem DynamoDB.GetItem DynamoDB.Query DynamoDB.Query])
    query = calls.find { |span| span.name == "DynamoDB.Query" }
    expect(query.attributes).to include("rpc.method" => "Query", "aws.dynamodb.table_names" => [table_name],
                                        "aws.dynamodb.index_name" => "user_id-index",
                                        "aws.dynamodb.consistent_read" => false)
    expect(calls.map(&:parent_span_id).uniq).to eq([request.span_id])
  end

  it "no garbage collection spans with gc_spans: false" do
    telemetry.uninstall
    telemetry.install(gc_spans: false)
    dynamo::GarbageCollection.collect_garbage(store_options(max_stale: 1))
    expect(spans).to eq([])
  end
end
