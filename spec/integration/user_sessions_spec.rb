# frozen_string_literal: true

# One user's sessions against DynamoDB Local: UserSessions.revoke ends every
# session of the user with hashed keys and locking on and off, a request in
# flight (read before the revoke, saving after) never brings its session
# back, nor does a user index that lags behind (injected: a proxy answers
# its Query as an index not yet caught up), the index finds a session the
# user's record lacks, a session moved to its hashed key is revoked under
# the new key, and garbage collection never takes a user record. Races are
# two real requests with one paused in its app. Each table has the user
# index, added as an existing table gets it (Table.add_user_index), but
# where an example says otherwise.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/store_requests"
require_relative "../support/storage_keys"
require_relative "../support/counting_proxy"
require "open3"
require "rbconfig"
require "tmpdir"

RSpec.describe "UserSessions on DynamoDB Local" do
  include_context "with a session table"
  include StorageKeys
  include StoreRequestHelpers

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:user_sessions) { dynamo::UserSessions }
  let(:with_index) { true }

  before { dynamo::Table.add_user_index(store_options) if with_index }

  # A proxy whose user index Query answers what the index held before the
  # sessions signed in since (here: nothing): an index lagging behind.
  def lagging_index
    CountingProxy.new do |operation, body|
      if operation == "Query" && body["IndexName"] == dynamo::Table::USER_INDEX
        [200, JSON.generate("Items" => [], "Count" => 0, "ScannedCount" => 0)]
      end
    end
  end

  # "/login/<id>" signs in, "/read" answers the user's id, "/pause" reads
  # the session, says so on `read`, waits for `go`, then counts.
  def user_app(read = nil, go = nil)
    lambda do |env|
      session = env["rack.session"]
      body = case env["PATH_INFO"]
             when %r{\A/login/(.+)\z} then session["user_id"] = Regexp.last_match(1)
             when "/read" then session["user_id"]
             when "/pause", "/pause-renew"
               session["user_id"]
               read << true
               go.pop
               # Rack's renew (as Warden sets it on sign-in): a new id,
               # the data carried over.
               env["rack.session.options"][:renew] = true if env["PATH_INFO"] == "/pause-renew"
               session["n"] = 1
             end
      [200, { "content-type" => "text/plain" }, [body.to_s]]
    end
  end

  def login(options, user)
    store_request(middleware(user_app, user_key: "user_id", **options), "/login/#{user}").cookie
  end

  def read_user(options, cookie)
    store_request(middleware(user_app, user_key: "user_id", **options), "/read", cookie: cookie).body
  end

  # `path` with `cookie`, paused after it read the session while the block
  # runs; its response.
  def paused_request(options, path, cookie)
    read = Queue.new
    go = Queue.new
    store = middleware(user_app(read, go), user_key: "user_id", **options)
    request = Thread.new { store_request(store, path, cookie: cookie) }
    read.pop
    yield
    go << true
    request.value
  end

  # The table's session items (user records left out).
  def session_items
    all_items.reject { |item| item["session_id"]["S"].start_with?("user#") }
  end

  def stored_key(options, cookie)
    options[:hashed_keys] ? hashed(cookie) : cookie
  end

  [[false, false], [true, false], [false, true], [true, true]].each do |hashed_keys, locking|
    context "with hashed_keys #{hashed_keys ? "on" : "off"}, locking #{locking ? "on" : "off"}" do
      let(:options) { { hashed_keys: hashed_keys, enable_locking: locking } }

      it "revoke ends every session of the user, at once, and no other user's" do
        first = login(options, "42")
        second = login(options, "42")
        other = login(options, "7")
        expect(user_sessions.list("42", **store_options(options)).size).to eq(2)
        # Signed in a moment ago: the user's record is read strongly
        # consistent, so no session is missed for being new.
        expect(user_sessions.revoke("42", **store_options(options))).to eq(2)
        expect([read_user(options, first), read_user(options, second)]).to eq(["", ""])
        expect(read_user(options, other)).to eq("7")
        expect(raw_item(stored_key(options, first))).to be_nil
      end

      it "a request that read the session before the revoke cannot save it back" do
        cookie = login(options, "42")
        paused_request(options, "/pause", cookie) do
          expect(user_sessions.revoke("42", **store_options(options))).to eq(1)
        end
        expect(raw_item(stored_key(options, cookie))).to be_nil
        expect(read_user(options, cookie)).to eq("")
      end

      it "a request that read the session before the revoke and renews its id does not carry it over" do
        cookie = login(options, "42")
        response = paused_request(options, "/pause-renew", cookie) do
          expect(user_sessions.revoke("42", **store_options(options))).to eq(1)
        end
        # No new id is handed out, and the browser's cookie is cleared.
        expect(response.cookie).to eq("")
        expect(response.headers["Set-Cookie"]).to match(/max-age=0/i)
        expect(user_sessions.list("42", **store_options(options))).to eq([])
        expect(session_items).to eq([])
        expect(read_user(options, cookie)).to eq("")
      end

      it "a renew without a revoke still carries the session to the new id" do
        cookie = login(options, "42")
        read = Queue.new
        go = Queue.new
        go << true
        response = store_request(middleware(user_app(read, go), user_key: "user_id", **options), "/pause-renew",
                                 cookie: cookie)
        expect(response.cookie).not_to eq(cookie)
        expect(read_user(options, response.cookie)).to eq("42")
        expect(read_user(options, cookie)).to eq("")
      end

      it "with the user index lagging behind, revoke still ends every session, one in flight included" do
        first = login(options, "42")
        second = login(options, "42")
        proxy = lagging_index
        lagging = store_options(options.merge(endpoint: proxy.endpoint))
        response = paused_request(options, "/pause", first) do
          expect(user_sessions.list("42", **lagging).size).to eq(2)
          expect(user_sessions.revoke("42", **lagging)).to eq(2)
        end
        expect(response.status).to eq(200)
        expect(proxy.count("Query")).to eq(4) # both forms of the id, list and revoke: asked, answered stale
        expect([read_user(options, first), read_user(options, second)]).to eq(["", ""])
        expect(session_items).to eq([])
        expect(proxy.errors).to eq([])
      ensure
        proxy&.stop
      end

      it "the user index finds a session the user's record lacks, and revoke ends it" do
        cookie = login(options, "42")
        user = options[:hashed_keys] ? hashed_user("42") : "42"
        raw_dynamodb.delete_item(table_name, "session_id" => { "S" => "user##{user}" }) # a record lost
        expect(user_sessions.list("42", **store_options(options.merge(user_index: false)))).to eq([])
        expect(user_sessions.list("42", **store_options(options)).size).to eq(1)
        expect(user_sessions.revoke("42", **store_options(options))).to eq(1)
        expect(read_user(options, cookie)).to eq("")
      end

      it "revoke(except:) keeps the session given, ends the others" do
        mine = login(options, "42")
        other = login(options, "42")
        keep = Struct.new(:id).new(mine) # what Rack and Rails sessions answer to #id
        expect(user_sessions.revoke("42", except: keep, **store_options(options))).to eq(1)
        expect([read_user(options, mine), read_user(options, other)]).to eq(["42", ""])
      end
    end
  end

  context "on a table without the user index" do
    let(:with_index) { false }

    it "list and revoke work from the users' records, with one warning per table" do
      cookies = [login({}, "42"), login({}, "42")]
      expect do
        expect(user_sessions.list("42", **store_options).size).to eq(2)
        expect(user_sessions.revoke("42", **store_options)).to eq(2)
      end.to output(/the user index user_id-index of table #{table_name} can't be read .*add-user-index/)
        .to_stderr_from_any_process
      expect(cookies.map { |cookie| read_user({}, cookie) }).to eq(["", ""])
      expect { user_sessions.list("42", **store_options) }.not_to output.to_stderr_from_any_process
    end

    it "while DynamoDB still builds the index, works from the records and asks again next time" do
      CountingProxy.open do |proxy|
        proxy.on_request do |operation|
          if operation == "Query"
            [400, CountingProxy.error_body("ValidationException",
                                           "Cannot read from backfilling global secondary index: user_id-index")]
          end
        end
        login({}, "42")
        options = store_options(endpoint: proxy.endpoint)
        expect { expect(user_sessions.list("42", **options).size).to eq(1) }
          .to output(/can't be read \(ValidationException: Cannot read from backfilling/).to_stderr_from_any_process
        expect(user_sessions.revoke("42", **options)).to eq(1)
        expect(proxy.count("Query")).to eq(4) # every call asks: the index is used once it is built
      end
    end

    it "with user_index: false, asks for no index" do
      CountingProxy.open do |proxy|
        login({}, "42")
        options = store_options(endpoint: proxy.endpoint, user_index: false)
        expect { expect(user_sessions.revoke("42", **options)).to eq(1) }.not_to output.to_stderr_from_any_process
        expect(proxy.operations).not_to include("Query")
      end
    end
  end

  it "refused the index's Query (no IAM permission), revoke raises DynamoDB's error and deletes nothing" do
    CountingProxy.open do |proxy|
      proxy.on_request do |operation|
        [400, CountingProxy.error_body("AccessDeniedException", "not authorized to perform: dynamodb:Query")] if
          operation == "Query"
      end
      cookie = login({}, "42")
      expect { user_sessions.revoke("42", **store_options(endpoint: proxy.endpoint, max_attempts: 1)) }
        .to raise_error(dynamo::Errors::ServiceError) { |error| expect(error.code).to eq("AccessDeniedException") }
      expect(proxy.operations).not_to include("DeleteItem")
      expect(read_user({}, cookie)).to eq("42")
    end
  end

  describe "the user index on the table" do
    let(:with_index) { false }
    let(:other_table) { DynamoDBLocalHelper.unique_table_name("sessions-index") }

    after { raw_dynamodb.delete_table(other_table) }

    def index_of(table)
      raw_dynamodb.describe_table(table)["GlobalSecondaryIndexes"]&.find { |i| i["IndexName"] == "user_id-index" }
    end

    it "create_table with user_key makes it: user_id, KEYS_ONLY, ACTIVE, provisioned like the table" do
      options = store_options(table_name: other_table, user_key: "user_id", read_capacity: 3, write_capacity: 2)
      expect(dynamo::Table.create_table(options)).to eq(:created)
      index = index_of(other_table)
      expect(index).to include("IndexStatus" => "ACTIVE", "Projection" => { "ProjectionType" => "KEYS_ONLY" },
                               "KeySchema" => [{ "AttributeName" => "user_id", "KeyType" => "HASH" }])
      expect(index["ProvisionedThroughput"]).to include("ReadCapacityUnits" => 3, "WriteCapacityUnits" => 2)
      expect(dynamo::Table.describe_table(options)[:user_index]).to eq("ACTIVE")
    end

    it "create_table without user_key, or with user_index: false, makes none" do
      [{}, { user_key: "user_id", user_index: false }].each do |extra|
        dynamo::Table.create_table(store_options(table_name: other_table, billing_mode: :pay_per_request, **extra))
        expect(index_of(other_table)).to be_nil
        expect(dynamo::Table.describe_table(store_options(table_name: other_table))[:user_index]).to be_nil
        raw_dynamodb.delete_table(other_table)
      end
    end

    it "create_table on an existing table without it says how to add it" do
      expect { dynamo::Table.create_table(store_options(user_key: "user_id")) }
        .to output(/already exists.*\n.*has no index user_id-index.*add-user-index/m).to_stderr_from_any_process
      expect(index_of(table_name)).to be_nil
    end

    it "add_user_index adds it to a table with sessions, which it then finds; remove_user_index drops it" do
      cookie = login({}, "42")
      expect(dynamo::Table.add_user_index(store_options)).to eq(:created)
      expect(index_of(table_name)).to include("IndexStatus" => "ACTIVE",
                                              "Projection" => { "ProjectionType" => "KEYS_ONLY" })
      expect(dynamo::Table.add_user_index(store_options)).to eq(:exists)
      raw_dynamodb.delete_item(table_name, "session_id" => { "S" => "user#42" })
      expect(user_sessions.revoke("42", **store_options)).to eq(1)
      expect(read_user({}, cookie)).to eq("")
      expect(dynamo::Table.remove_user_index(store_options)).to eq(:deleted)
      expect(index_of(table_name)).to be_nil
      expect(dynamo::Table.remove_user_index(store_options)).to eq(:missing)
    end
  end

  it "a session moved to its hashed key is revoked under the new key" do
    cookie = login({}, "42")
    # The first request with hashed_keys moves it, and rewrites its user
    # in the new form: the new key joins the hashed user's record.
    expect(read_user({ hashed_keys: true }, cookie)).to eq("42")
    expect(raw_item(cookie)).to be_nil
    expect(raw_item(hashed(cookie))).to include("user_id" => { "S" => hashed_user("42") })
    expect(user_sessions.revoke("42", **store_options(hashed_keys: true))).to eq(1)
    expect(read_user({ hashed_keys: true }, cookie)).to eq("")
  end

  it "during a rollout of hashed_keys, revoke finds the sessions of either form of the user's id" do
    clear = login({}, "42")
    hashed_cookie = login({ hashed_keys: true }, "42")
    [{}, { hashed_keys: true }].each do |server|
      expect(user_sessions.list("42", **store_options(server)).size).to eq(2)
    end
    expect(user_sessions.revoke("42", **store_options)).to eq(2)
    expect([raw_item(clear), raw_item(hashed(hashed_cookie))]).to eq([nil, nil])
  end

  describe "from the command line" do
    let(:env) do
      { "AWS_DYNAMO_DB_SESSION_TABLE_NAME" => table_name, "AWS_DYNAMO_DB_SESSION_ENDPOINT" => DynamoDBLocalHelper.endpoint,
        "AWS_DYNAMO_DB_SESSION_REGION" => "us-east-1", "AWS_DYNAMO_DB_SESSION_ACCESS_KEY_ID" => "dummy",
        "AWS_DYNAMO_DB_SESSION_SECRET_ACCESS_KEY" => "dummy", "AWS_DYNAMO_DB_SESSION_SECRET_KEY" => StoreSpecHelpers::SECRET,
        "AWS_DYNAMO_DB_SESSION_CONFIG_FILE" => nil, "RUBYOPT" => nil }
    end
    let(:lib) { File.expand_path("../../lib", __dir__) }

    it "aws-sessionstore-dynamodb revoke-user ends the user's sessions; without an id it is a usage error" do
      cookies = [login({}, "42"), login({}, "42")]
      exe = File.expand_path("../../exe/aws-sessionstore-dynamodb", __dir__)
      out, err, status = Open3.capture3(env, RbConfig.ruby, "-I", lib, exe, "revoke-user", "42")
      expect([out, err, status.exitstatus]).to eq(["Revoked 2 session(s) of user 42.\n", "", 0])
      expect(cookies.map { |cookie| read_user({}, cookie) }).to eq(["", ""])
      _out, err, status = Open3.capture3(env, RbConfig.ruby, "-I", lib, exe, "revoke-user")
      expect([status.exitstatus, err]).to match([2, /revoke-user takes one USER_ID/])
    end

    it "aws-sessionstore-dynamodb add-user-index adds the index, and says so when it is there" do
      raw_dynamodb.delete_table(table_name)
      raw_dynamodb.create_table(table_name)
      exe = File.expand_path("../../exe/aws-sessionstore-dynamodb", __dir__)
      out, err, status = Open3.capture3(env, RbConfig.ruby, "-I", lib, exe, "add-user-index")
      expect([out, status.exitstatus]).to eq(["Index user_id-index of table #{table_name} is active.\n", 0]), err
      out, = Open3.capture3(env, RbConfig.ruby, "-I", lib, exe, "add-user-index")
      expect(out).to eq("Table #{table_name} already has index user_id-index, active.\n")
      out, = Open3.capture3(env, RbConfig.ruby, "-I", lib, exe, "stats")
      expect(out).to include("User index:   ACTIVE (user_id-index)")
    end

    it "rake dynamo_db:session_store:revoke_user USER_ID=42 ends the user's sessions" do
      cookie = login({}, "42")
      Dir.mktmpdir("rake-revoke") do |dir|
        File.write(File.join(dir, "Rakefile"), %(require "aws/session_store/dynamo_db/rake_tasks"\n))
        out, err, status = Open3.capture3(env.merge("USER_ID" => "42"), "rake", "-I", lib,
                                          "dynamo_db:session_store:revoke_user", chdir: dir)
        expect([out, status.exitstatus]).to eq(["Revoked 1 session(s) of user 42.\n", 0]), err
      end
      expect(read_user({}, cookie)).to eq("")
    end
  end

  it "garbage collection never takes a user record" do
    login({}, "42")
    raw_dynamodb.age_items(table_name, 3600)
    result = dynamo::GarbageCollection.collect_garbage(store_options(max_stale: 1))
    expect(result[:deleted]).to eq(1)
    expect(all_items.map { |item| item["session_id"]["S"] }).to eq(["user#42"])
    # The session's index entry went with it.
    query = raw_dynamodb.call("Query", "TableName" => table_name, "IndexName" => "user_id-index",
                                       "KeyConditionExpression" => "user_id = :u",
                                       "ExpressionAttributeValues" => { ":u" => { "S" => "42" } })
    expect(query["Items"]).to eq([])
  end
end
