# frozen_string_literal: true

require "spec_helper"
require "open3"
require "tmpdir"

# The rake tasks as a plain Rack app loads them, run as `rake` subprocesses
# configured through ENV.
RSpec.describe "aws/session_store/dynamo_db/rake_tasks" do
  let(:lib) { File.expand_path("../../lib", __dir__) }
  let(:raw_dynamodb) { DynamoDBLocalHelper.raw_client }
  let(:table_name) { DynamoDBLocalHelper.unique_table_name("rake-spec") }
  let(:env) do
    {
      "AWS_DYNAMO_DB_SESSION_TABLE_NAME" => table_name,
      "AWS_DYNAMO_DB_SESSION_ENDPOINT" => DynamoDBLocalHelper.endpoint,
      "AWS_DYNAMO_DB_SESSION_REGION" => "us-east-1",
      "AWS_DYNAMO_DB_SESSION_ACCESS_KEY_ID" => "dummy",
      "AWS_DYNAMO_DB_SESSION_SECRET_ACCESS_KEY" => "dummy",
      "AWS_DYNAMO_DB_SESSION_MAX_STALE" => "3600",
      "AWS_DYNAMO_DB_SESSION_GC_SEGMENTS" => "2",
      "AWS_DYNAMO_DB_SESSION_CONFIG_FILE" => nil,
      "AWS_DYNAMO_DB_SESSION_MAX_AGE" => nil,
      "DRY_RUN" => nil
    }
  end

  around do |example|
    Dir.mktmpdir("rake-spec") do |dir|
      @dir = dir
      @rakefile = File.join(dir, "Rakefile")
      # Required twice: the tasks must be defined once only.
      File.write(@rakefile, <<~RUBY)
        require "aws/session_store/dynamo_db/rake_tasks"
        require "aws/session_store/dynamo_db/rake_tasks"
      RUBY
      example.run
    end
  end

  after { raw_dynamodb.delete_table(table_name) }

  def rake(*args, extra_env: {})
    # chdir: no rakelib/ of the checkout
    Open3.capture3(env.merge(extra_env), "rake", "-I", lib, "-f", @rakefile, *args, chdir: @dir)
  end

  it "lists the eight tasks with descriptions" do
    out, err, status = rake("-T")
    expect(status.exitstatus).to eq(0), err
    expect(out.lines.size).to eq(8), out
    expect(out).to match(/^rake dynamo_db:session_store:add_user_index +# Add the user_id index/)
    expect(out).to match(/^rake dynamo_db:session_store:reencrypt +# Encrypt every session under the current key/)
    expect(out).to match(/^rake dynamo_db:session_store:revoke_user +# End every session of one user/)
    expect(out).to match(/^rake dynamo_db:session_store:migrate +# Rewrite v0.5 items/)
    expect(out).to match(/^rake dynamo_db:session_store:create_table +# Create the DynamoDB session table/)
      .and match(/^rake dynamo_db:session_store:delete_table +# Delete the DynamoDB session table/)
      .and match(/^rake dynamo_db:session_store:clean +# Delete expired sessions/)
      .and match(/^rake dynamo_db:collect_garbage +# Delete expired sessions \(the v0.5 name/)
  end

  it "creates the table, collects garbage (dry run, then for real) and deletes the table" do
    out, err, status = rake("dynamo_db:session_store:create_table")
    expect(status.exitstatus).to eq(0), err
    expect(out).to eq("Created table #{table_name}.\n")
    expect(raw_dynamodb.describe_table(table_name)["TableStatus"]).to eq("ACTIVE")

    now = Time.now.to_f
    raw_dynamodb.batch_put(table_name, Array.new(40) do |i|
      updated = i < 15 ? now - 7200 : now
      { "session_id" => { "S" => "s#{i}" }, "created_at" => { "S" => (now - 7200).to_s },
        "updated_at" => { "S" => updated.to_s }, "data" => { "S" => "{}" } }
    end)

    out, err, status = rake("dynamo_db:session_store:clean", extra_env: { "DRY_RUN" => "1" })
    expect(status.exitstatus).to eq(0), err
    expect(out).to match(/\Agarbage collection: scanned 40, would delete 15, in [\d.]+ s/)
    expect(raw_dynamodb.scan_all(table_name).size).to eq(40)

    out, err, status = rake("dynamo_db:collect_garbage")
    expect(status.exitstatus).to eq(0), err
    expect(out).to match(/\Agarbage collection: scanned 40, deleted 15, in [\d.]+ s/)
    expect(out).not_to include("\r")
    expect(raw_dynamodb.scan_all(table_name).size).to eq(25)

    out, err, status = rake("dynamo_db:session_store:delete_table")
    expect(status.exitstatus).to eq(0), err
    expect(out).to eq("Deleted table #{table_name}.\n")
    expect(raw_dynamodb.list_tables).not_to include(table_name)
  end

  it "adds the user index to an existing table, once" do
    raw_dynamodb.create_table(table_name)
    2.times do |run|
      out, err, status = rake("dynamo_db:session_store:add_user_index")
      expect(status.exitstatus).to eq(0), err
      expect(out).to eq("Index user_id-index of table #{table_name}: #{run.zero? ? "added" : "already there"}, active.\n")
    end
    indexes = raw_dynamodb.describe_table(table_name)["GlobalSecondaryIndexes"]
    expect(indexes.map { |index| index.values_at("IndexName", "IndexStatus") }).to eq([%w[user_id-index ACTIVE]])
  end

  it "parses DRY_RUN and ALLOW_MARSHAL strictly: off is off, an unknown word is an error" do
    _, err, status = rake("dynamo_db:session_store:create_table")
    expect(status.exitstatus).to eq(0), err
    now = Time.now.to_f.to_s
    marshal = [Marshal.dump("user_id" => 7)].pack("m*")
    raw_dynamodb.put_item(table_name, "session_id" => { "S" => "s1" }, "data" => { "S" => marshal },
                                      "created_at" => { "S" => now }, "updated_at" => { "S" => now })

    out, err, status = rake("dynamo_db:session_store:migrate",
                            extra_env: { "ALLOW_MARSHAL" => "off", "DRY_RUN" => "no" })
    expect(status.exitstatus).to eq(0), err
    expect(out).to include("Marshal kept 1")
    expect(raw_dynamodb.scan_all(table_name).first["data"]).to eq("S" => marshal)

    %w[ALLOW_MARSHAL DRY_RUN].each do |name|
      out, err, status = rake("dynamo_db:session_store:migrate", extra_env: { name => "maybe" })
      expect(status.exitstatus).to eq(1)
      expect(err).to include(%(#{name}="maybe" is not a boolean))
      expect(out).to eq("")
    end
    _, err, status = rake("dynamo_db:session_store:clean", extra_env: { "DRY_RUN" => "perhaps" })
    expect(status.exitstatus).to eq(1)
    expect(err).to include('DRY_RUN="perhaps" is not a boolean')
    expect(raw_dynamodb.scan_all(table_name).size).to eq(1)
  end

  describe "in a Rails app (tasks/rails.rake)" do
    it "takes the app's store options as runtime options and copies no credential into ENV" do
      File.write(@rakefile, <<~RUBY)
        require "aws/session_store/dynamo_db/rake_tasks"
        # Stand-ins for what the Railtie provides: the app's environment and
        # its config.session_store options.
        task :environment
        module ActionDispatch
          module Session
            class DynamoDbStore
              def self.store_options
                { table_name: #{table_name.inspect}, endpoint: #{DynamoDBLocalHelper.endpoint.inspect},
                  region: "us-east-1", access_key_id: "AKIACANARY", secret_access_key: "SECRETCANARY",
                  session_token: "TOKENCANARY", secret_key: "HMACCANARY" }
              end
            end
          end
        end
        load File.join(#{lib.inspect}, "aws/session_store/dynamo_db/tasks/rails.rake")
        task :show_env do
          leaked = ENV.select { |_, v| v.to_s.match?(/CANARY/) }.keys
          puts "leaked=\#{leaked.inspect}"
          puts "child=\#{`env`.scan(/CANARY/).size}"
        end
      RUBY
      rails_env = env.transform_values { nil }.merge("AWS_DYNAMO_DB_SESSION_MAX_STALE" => nil)
      out, err, status = rake("dynamo_db:session_store:create_table", "show_env", extra_env: rails_env)
      expect(status.exitstatus).to eq(0), err
      expect(out).to include("Created table #{table_name}.")
      expect(out).to include("leaked=[]", "child=0")
      expect(raw_dynamodb.describe_table(table_name)).to be_a(Hash)
    end
  end
end
