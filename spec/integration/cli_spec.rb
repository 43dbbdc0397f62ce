# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"

# exe/aws-sessionstore-dynamodb as a subprocess against DynamoDB Local.
RSpec.describe "exe/aws-sessionstore-dynamodb" do
  let(:exe) { File.expand_path("../../exe/aws-sessionstore-dynamodb", __dir__) }
  let(:raw_dynamodb) { DynamoDBLocalHelper.raw_client }
  let(:table_name) { DynamoDBLocalHelper.unique_table_name("cli-spec") }
  let(:env) do
    {
      "DYNAMODB_ENDPOINT" => DynamoDBLocalHelper.endpoint,
      "AWS_DYNAMO_DB_SESSION_ENDPOINT" => DynamoDBLocalHelper.endpoint,
      "AWS_DYNAMO_DB_SESSION_ACCESS_KEY_ID" => "dummy",
      "AWS_DYNAMO_DB_SESSION_SECRET_ACCESS_KEY" => "dummy",
      "AWS_REGION" => "us-east-1",
      "AWS_DYNAMO_DB_SESSION_TABLE_NAME" => nil,
      "AWS_DYNAMO_DB_SESSION_CONFIG_FILE" => nil,
      "AWS_DYNAMO_DB_SESSION_MAX_AGE" => nil,
      "AWS_DYNAMO_DB_SESSION_MAX_STALE" => nil
    }
  end

  after { raw_dynamodb.delete_table(table_name) }

  def cli(*args, extra_env: {})
    Open3.capture3(env.merge(extra_env), RbConfig.ruby, exe, *args)
  end

  def seed(expired:, live:)
    now = Time.now.to_f
    items = Array.new(expired) do |i|
      { "session_id" => { "S" => "old-#{i}" }, "created_at" => { "S" => (now - 86_400).to_s },
        "updated_at" => { "S" => (now - 86_400).to_s }, "data" => { "S" => "{}" } }
    end
    items += Array.new(live) do |i|
      { "session_id" => { "S" => "new-#{i}" }, "created_at" => { "N" => now.to_s },
        "updated_at" => { "N" => now.to_s }, "data" => { "S" => "{}" } }
    end
    raw_dynamodb.batch_put(table_name, items)
  end

  it "creates the table, shows stats, counts and deletes expired sessions, deletes the table" do
    out, err, status = cli("--table", table_name, "create-table")
    expect([out, err, status.exitstatus]).to eq(["Created table #{table_name}.\n", "", 0])
    expect(raw_dynamodb.describe_table(table_name)["TableStatus"]).to eq("ACTIVE")

    seed(expired: 30, live: 20)
    out, err, status = cli("--table", table_name, "stats")
    expect(status.exitstatus).to eq(0), err
    expect(out).to match(/^Table: +#{table_name}$/).and match(/^Status: +ACTIVE$/)
      .and match(/^Items: +\d+/).and match(/^Size: +\d+ bytes$/).and match(/^Billing mode: +PROVISIONED$/)
      .and match(/^TTL: +ENABLED \(expire_at\)$/)

    out, err, status = cli("--table", table_name, "gc", "--dry-run", "--max-age", "3600", "--segments", "2")
    expect(status.exitstatus).to eq(0), err
    expect(out).to match(/\Agarbage collection: scanned 50, would delete 30, in [\d.]+ s/)
    expect(out).not_to include("\r") # not a TTY: no progress line
    expect(raw_dynamodb.scan_all(table_name).size).to eq(50)

    out, err, status = cli("--table", table_name, "gc", "--max-stale", "3600")
    expect(status.exitstatus).to eq(0), err
    expect(out).to match(/\Agarbage collection: scanned 50, deleted 30, in/)
    expect(raw_dynamodb.scan_all(table_name).map { |i| i["session_id"]["S"] }).to all(start_with("new-"))

    out, _err, status = cli("--table", table_name, "gc")
    expect(status.exitstatus).to eq(0)
    # Neither max_age nor max_stale: the 30-day default; nothing here is that old.
    expect(out).to match(/\Agarbage collection: scanned 20, deleted 0, in/)

    out, err, status = cli("--table", table_name, "delete-table")
    expect([out, err, status.exitstatus]).to eq(["Deleted table #{table_name}.\n", "", 0])
    expect(raw_dynamodb.list_tables).not_to include(table_name)
  end

  it "prints help with exit 0, globally and per command" do
    out, _err, status = cli("--help")
    expect(status.exitstatus).to eq(0)
    expect(out).to include("create-table", "delete-table", "gc", "stats", "revoke-user", "--table NAME",
                           "--endpoint URL")
    out, _err, status = cli("gc", "--help")
    expect(status.exitstatus).to eq(0)
    expect(out).to include("--dry-run", "--max-age", "--max-stale", "--segments", "--delay", "--rate")
  end

  it "exits 2 on an unknown command or option" do
    out, err, status = cli("frobnicate")
    expect([out, status.exitstatus]).to eq(["", 2])
    expect(err).to include('unknown command "frobnicate"')
    _out, err, status = cli("gc", "--bogus")
    expect(status.exitstatus).to eq(2)
    expect(err).to include("--bogus")
    _out, _err, status = cli
    expect(status.exitstatus).to eq(2)
  end

  it "exits 1 with one clear line when the table is missing" do
    %w[stats gc].each do |command|
      args = ["--table", table_name, command]
      args += ["--max-age", "60"] if command == "gc"
      out, err, status = cli(*args)
      expect(status.exitstatus).to eq(1)
      expect(out).to eq("")
      expect(err.lines.size).to eq(1)
      expect(err).to include("table not found").and include("non-existent table")
      expect(err).not_to match(/\.rb:\d+/)
    end
  end

  it "exits 1 with one clear line when the endpoint is unreachable" do
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] } # a port nobody listens on
    _out, err, status = cli("--endpoint", "http://127.0.0.1:#{port}", "--table", table_name, "stats")
    expect(status.exitstatus).to eq(1)
    expect(err.lines.size).to eq(1)
    expect(err).to include("could not reach DynamoDB")
  end

  it "stops a throttled gc on SIGTERM, prints what was done and exits 130" do
    raw_dynamodb.create_table(table_name)
    seed(expired: 300, live: 0)
    Open3.popen3(env, RbConfig.ruby, exe, "--table", table_name, "gc", "--max-age", "60", "--rate", "50") do |_in, out, err, wait|
      # 300 deletes at 50/s take 6 s; stop after a few batches.
      deadline = Time.now + 10
      sleep 0.1 until raw_dynamodb.scan_all(table_name).size <= 250 || Time.now > deadline
      Process.kill("TERM", wait.pid)
      status = wait.value
      output = out.read
      expect(status.exitstatus).to eq(130), err.read
      match = output.match(/garbage collection: scanned (\d+), deleted (\d+), in [\d.]+ s .*\(interrupted by SIGTERM\)/)
      expect(match).not_to be_nil, output
      deleted = Integer(match[2])
      expect(deleted).to be_between(1, 299)
      expect(raw_dynamodb.scan_all(table_name).size).to eq(300 - deleted)
    end
  end
end
