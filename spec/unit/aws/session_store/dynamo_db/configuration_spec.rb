# frozen_string_literal: true

require "fileutils"
require "pathname"
require "tmpdir"
require "aws/session_store/dynamo_db/configuration"
require_relative "../../../../support/store_environment"

RSpec.describe Aws::SessionStore::DynamoDB::Configuration do
  let(:errors) { Aws::SessionStore::DynamoDB::Errors }
  let(:config_error) { errors::ConfigurationError }
  include_context "with a clean store environment"

  def with_rails_env(env)
    stub_const("Rails", Module.new)
    Rails.define_singleton_method(:env) { env }
    yield
  end

  describe "defaults" do
    subject(:config) { described_class.new }

    it "matches the official gem" do
      expect(config.table_name).to eq("sessions")
      expect(config.table_key).to eq("session_id")
      expect(config.secret_key).to be_nil
      expect(config.consistent_read).to be(true)
      expect(config.read_capacity).to eq(10)
      expect(config.write_capacity).to eq(5)
      expect(config.raise_errors).to be(false)
      expect(config.max_age).to be_nil
      expect(config.max_stale).to be_nil
      expect(config.enable_locking).to be(false)
      expect(config.lock_expiry_time).to eq(500)
      expect(config.lock_retry_delay).to eq(500)
      expect(config.lock_max_wait_time).to eq(1)
      expect(config.serializer).to eq(:json)
      expect(config.config_file).to be_nil
      expect(config.dynamo_db_client).to be_nil
    end

    it "has the native client and table defaults of this gem" do
      expect(config.region).to be_nil
      expect(config.endpoint).to be_nil
      expect(config.access_key_id).to be_nil
      expect(config.secret_access_key).to be_nil
      expect(config.session_token).to be_nil
      expect(config.profile).to be_nil
      expect(config.connect_timeout).to eq(1)
      expect(config.operation_timeout).to eq(5)
      expect(config.max_attempts).to eq(10)
      expect(config.billing_mode).to eq(:provisioned)
      expect(config.enable_ttl).to be(true)
      expect(config.touch_interval).to be_nil
      expect(config.gc_segments).to be_nil
      expect(config.gc_operation_delay).to eq(0)
      expect(config.gc_max_deletes_per_second).to be_nil
    end

    it "builds a DefaultHandler from raise_errors" do
      expect(config.error_handler).to be_a(errors::DefaultHandler)
      expect(config.error_handler.raise_errors).to be(false)
      expect(described_class.new(raise_errors: true).error_handler.raise_errors).to be(true)
    end

    it "keeps a given error handler" do
      handler = errors::DefaultHandler.new(true)
      expect(described_class.new(error_handler: handler).error_handler).to equal(handler)
    end

    it "has a reader for every member and lists them in OPTION_NAMES" do
      expect(described_class::OPTION_NAMES).to eq(described_class::MEMBERS.keys)
      described_class::OPTION_NAMES.each { |name| expect(config).to respond_to(name) }
    end
  end

  describe "construction" do
    it "accepts a Hash, keywords, String keys, or nil" do
      expect(described_class.new({ table_name: "a" }).table_name).to eq("a")
      expect(described_class.new(table_name: "b").table_name).to eq("b")
      expect(described_class.new({ "table_name" => "c" }).table_name).to eq("c")
      expect(described_class.new(nil).table_name).to eq("sessions")
    end

    it "accepts another Configuration" do
      copy = described_class.new(described_class.new(table_name: "orig", secret_key: "s"))
      expect(copy.table_name).to eq("orig")
      expect(copy.secret_key).to eq("s")
    end

    it "keeps unknown options (Rack options) in to_hash and ignores them otherwise" do
      config = described_class.new(key: "rack.session", expire_after: 3600, secure: true)
      expect(config.to_hash).to include(key: "rack.session", expire_after: 3600, secure: true)
    end

    it "does not need a secret key" do
      expect { described_class.new }.not_to raise_error
    end

    it "raises MissingSecretKeyError with require_secret: true and no secret" do
      expect { described_class.new(require_secret: true) }
        .to raise_error(errors::MissingSecretKeyError, "No secret key provided!")
      expect { described_class.new({ table_name: "t" }, require_secret: true) }
        .to raise_error(errors::MissingSecretKeyError)
    end

    it "accepts require_secret: true with a secret, and does not store the flag" do
      config = described_class.new(secret_key: "s3cret", require_secret: true)
      expect(config.to_hash).not_to have_key(:require_secret)
    end

    it "checks the secret on demand with #validate_secret!" do
      expect { described_class.new.validate_secret! }.to raise_error(errors::MissingSecretKeyError)
      expect(described_class.new(secret_key: "x").validate_secret!).to be(true)
    end
  end

  describe "precedence" do
    let(:file) do
      yaml_file(<<~YAML)
        table_name: from_yaml
        table_key: yaml_key
        read_capacity: <%= 6 * 7 %>
        max_age: 100
        lock_retry_delay: 7
      YAML
    end

    before do
      ENV["AWS_DYNAMO_DB_SESSION_CONFIG_FILE"] = file
      ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = "from_env"
      ENV["AWS_DYNAMO_DB_SESSION_TABLE_KEY"] = "env_key"
      ENV["DYNAMO_DB_SESSION_TABLE_KEY"] = "legacy_key"
      ENV["DYNAMO_DB_SESSION_MAX_AGE"] = "200"
    end

    it "is runtime > ENV > legacy ENV > YAML (with ERB) > defaults" do
      config = nil
      expect { config = described_class.new(table_name: "from_runtime") }
        .to output(/DYNAMO_DB_SESSION_MAX_AGE.*deprecated.*AWS_DYNAMO_DB_SESSION_MAX_AGE/).to_stderr
      expect(config.table_name).to eq("from_runtime") # runtime beats ENV and YAML
      expect(config.table_key).to eq("env_key")       # ENV beats legacy ENV and YAML
      expect(config.max_age).to eq(200)               # legacy ENV beats YAML
      expect(config.read_capacity).to eq(42)          # YAML (ERB evaluated) beats the default
      expect(config.lock_retry_delay).to eq(7)
      expect(config.write_capacity).to eq(5)          # default
      expect(config.config_file).to eq(file)
    end

    it "lets a nil runtime value fall through to lower sources" do
      config = nil
      expect { config = described_class.new(table_name: nil) }.to output(/deprecated/).to_stderr
      expect(config.table_name).to eq("from_env")
    end

    it "does not warn about a legacy variable shadowed by the new one" do
      ENV.delete("DYNAMO_DB_SESSION_MAX_AGE")
      expect { described_class.new }.not_to output.to_stderr
    end
  end

  describe "environment variables" do
    it "parses Integers, Floats and booleans, and keeps Strings" do
      ENV["AWS_DYNAMO_DB_SESSION_READ_CAPACITY"] = "20"
      ENV["AWS_DYNAMO_DB_SESSION_MAX_STALE"] = "1.5"
      ENV["AWS_DYNAMO_DB_SESSION_CONSISTENT_READ"] = "false"
      ENV["AWS_DYNAMO_DB_SESSION_ENABLE_LOCKING"] = "TRUE"
      ENV["AWS_DYNAMO_DB_SESSION_REGION"] = "eu-west-1"
      config = described_class.new
      expect(config.read_capacity).to eq(20)
      expect(config.max_stale).to eq(1.5)
      expect(config.consistent_read).to be(false)
      expect(config.enable_locking).to be(true)
      expect(config.region).to eq("eu-west-1")
    end

    it "never parses String options" do
      ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = "123"
      ENV["AWS_DYNAMO_DB_SESSION_SECRET_KEY"] = "4567"
      config = described_class.new
      expect(config.table_name).to eq("123")
      expect(config.secret_key).to eq("4567")
    end

    it "turns serializer and billing_mode into Symbols" do
      ENV["AWS_DYNAMO_DB_SESSION_SERIALIZER"] = "marshal"
      ENV["AWS_DYNAMO_DB_SESSION_BILLING_MODE"] = "PAY_PER_REQUEST"
      config = described_class.new
      expect(config.serializer).to eq(:marshal)
      expect(config.billing_mode).to eq(:pay_per_request)
    end

    it "treats an empty variable as unset" do
      ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = ""
      expect(described_class.new.table_name).to eq("sessions")
    end

    it "reads legacy variables with one warning per variable name" do
      ENV["DYNAMO_DB_SESSION_TABLE_NAME"] = "legacy"
      expect { expect(described_class.new.table_name).to eq("legacy") }
        .to output(/ENV\['DYNAMO_DB_SESSION_TABLE_NAME'\] is deprecated; use ENV\['AWS_DYNAMO_DB_SESSION_TABLE_NAME'\]/)
        .to_stderr
      expect { described_class.new }.not_to output.to_stderr
      ENV["DYNAMO_DB_SESSION_TABLE_KEY"] = "legacy_key"
      expect { described_class.new }.to output(/DYNAMO_DB_SESSION_TABLE_KEY/).to_stderr
    end

    it "never reads error_handler or dynamo_db_client" do
      ENV["AWS_DYNAMO_DB_SESSION_ERROR_HANDLER"] = "Object"
      ENV["AWS_DYNAMO_DB_SESSION_DYNAMO_DB_CLIENT"] = "client"
      config = described_class.new
      expect(config.error_handler).to be_a(errors::DefaultHandler)
      expect(config.dynamo_db_client).to be_nil
    end

    it "reads the config file path from the legacy variable too" do
      ENV["DYNAMO_DB_SESSION_CONFIG_FILE"] = yaml_file("table_name: legacy_file\n")
      config = nil
      expect { config = described_class.new }.to output(/DYNAMO_DB_SESSION_CONFIG_FILE/).to_stderr
      expect(config.table_name).to eq("legacy_file")
    end
  end

  describe "YAML file" do
    it "is read from the :config_file option, ahead of the ENV path" do
      ENV["AWS_DYNAMO_DB_SESSION_CONFIG_FILE"] = yaml_file("table_name: env_file\n", "env.yml")
      path = yaml_file("table_name: option_file\n", "option.yml")
      config = described_class.new(config_file: path)
      expect(config.table_name).to eq("option_file")
      expect(config.config_file).to eq(path)
    end

    it "accepts a Pathname" do
      path = Pathname(yaml_file("table_name: pathname\n"))
      expect(described_class.new(config_file: path).table_name).to eq("pathname")
    end

    it "is read from AWS_DYNAMO_DB_SESSION_CONFIG_FILE" do
      ENV["AWS_DYNAMO_DB_SESSION_CONFIG_FILE"] = yaml_file("table_name: env_file\n")
      expect(described_class.new.table_name).to eq("env_file")
    end

    it "accepts String and Symbol keys, Symbols, and aliases" do
      path = yaml_file(<<~YAML)
        base: &base
          consistent_read: false
        :table_key: sym_key
        serializer: :json_allow_marshal
        billing_mode: pay_per_request
        <<: *base
      YAML
      config = described_class.new(config_file: path)
      expect(config.table_key).to eq("sym_key")
      expect(config.serializer).to eq(:json_allow_marshal)
      expect(config.billing_mode).to eq(:pay_per_request)
      expect(config.consistent_read).to be(false)
    end

    it "is overridden by runtime options and ENV" do
      path = yaml_file("table_name: yaml\nread_capacity: 3\n")
      ENV["AWS_DYNAMO_DB_SESSION_READ_CAPACITY"] = "4"
      config = described_class.new(config_file: path, table_name: "runtime")
      expect(config.table_name).to eq("runtime")
      expect(config.read_capacity).to eq(4)
    end

    it "never reads error_handler, dynamo_db_client or config_file from the file" do
      path = yaml_file("error_handler: x\ndynamo_db_client: y\nconfig_file: /nope.yml\n")
      config = described_class.new(config_file: path)
      expect(config.error_handler).to be_a(errors::DefaultHandler)
      expect(config.dynamo_db_client).to be_nil
      expect(config.config_file).to eq(path)
    end

    it "treats an empty file as no options" do
      expect(described_class.new(config_file: yaml_file("")).table_name).to eq("sessions")
    end

    it "raises ConfigurationError naming a missing path, from the option or ENV" do
      missing = File.join(tmpdir, "missing.yml")
      expect { described_class.new(config_file: missing) }
        .to raise_error(config_error, /:config_file.*missing\.yml.*does not exist/)
      ENV["AWS_DYNAMO_DB_SESSION_CONFIG_FILE"] = missing
      expect { described_class.new }.to raise_error(config_error, /missing\.yml/)
    end

    it "refuses a file that is not a Hash, or not safe YAML" do
      expect { described_class.new(config_file: yaml_file("- a\n- b\n")) }
        .to raise_error(config_error, /must hold a Hash.*Array/)
      expect { described_class.new(config_file: yaml_file("x: !ruby/object:Object {}\n")) }
        .to raise_error(config_error, /could not be read/)
      expect { described_class.new(config_file: yaml_file("a: [\n")) }
        .to raise_error(config_error, /could not be read/)
    end

    context "when Rails is defined" do
      let(:path) do
        yaml_file(<<~YAML)
          development:
            table_name: dev_sessions
          production:
            table_name: prod_sessions
            max_age: 3600
        YAML
      end

      it "uses the section named by Rails.env" do
        with_rails_env("production") do
          config = described_class.new(config_file: path)
          expect(config.table_name).to eq("prod_sessions")
          expect(config.max_age).to eq(3600)
        end
      end

      it "uses the whole file when it has no section for Rails.env" do
        flat = yaml_file("table_name: flat\n", "flat.yml")
        with_rails_env("test") do
          expect(described_class.new(config_file: flat).table_name).to eq("flat")
        end
      end
    end

    it "ignores environment sections when Rails is not defined" do
      hide_const("Rails") if defined?(Rails)
      path = yaml_file("production:\n  table_name: prod\ntable_name: top\n")
      expect(described_class.new(config_file: path).table_name).to eq("top")
    end
  end

  describe "dynamo_db_client" do
    it "refuses a client object, explaining what replaces it" do
      client = Object.new
      expect { described_class.new(dynamo_db_client: client) }
        .to raise_error(config_error, /:dynamo_db_client.*Object.*native.*:region.*:endpoint.*:max_attempts/m)
    end

    it "accepts a Hash of client options, under the explicit ones" do
      ENV["AWS_DYNAMO_DB_SESSION_MAX_ATTEMPTS"] = "7"
      config = described_class.new(
        region: "us-west-2",
        dynamo_db_client: { "region" => "eu-west-1", endpoint: "http://127.0.0.1:8000",
                            max_attempts: 9, connect_timeout: 2, profile: nil }
      )
      expect(config.region).to eq("us-west-2")              # runtime option wins
      expect(config.max_attempts).to eq(7)                  # ENV wins
      expect(config.endpoint).to eq("http://127.0.0.1:8000") # filled from the Hash
      expect(config.connect_timeout).to eq(2)               # the Hash beats the default
      expect(config.profile).to be_nil
      expect(config.dynamo_db_client).to be_a(Hash)
    end

    it "refuses unknown keys in the Hash" do
      expect { described_class.new(dynamo_db_client: { http_proxy: "x" }) }
        .to raise_error(config_error, /:dynamo_db_client.*:http_proxy/)
    end

    it "validates values taken from the Hash" do
      expect { described_class.new(dynamo_db_client: { max_attempts: 0 }) }
        .to raise_error(config_error, /:max_attempts/)
    end
  end

  describe "validation" do
    def expect_invalid(options, pattern)
      expect { described_class.new(options) }.to raise_error(config_error, pattern)
    end

    it "checks serializer" do
      expect_invalid({ serializer: :yaml }, /:serializer must be one of :json, :json_allow_marshal, :marshal.*Symbol/)
      expect(described_class.new(serializer: "marshal").serializer).to eq(:marshal)
    end

    it "checks table_name and table_key" do
      expect_invalid({ table_name: "" }, /:table_name must be a non-empty String.*String/)
      expect_invalid({ table_key: 5 }, /:table_key must be a non-empty String.*Integer/)
    end

    it "checks capacities" do
      expect_invalid({ read_capacity: 0 }, /:read_capacity must be an Integer >= 1.*Integer 0/)
      expect_invalid({ write_capacity: 1.5 }, /:write_capacity.*Float/)
      expect_invalid({ read_capacity: "10" }, /:read_capacity.*String/)
    end

    it "checks max_age and max_stale" do
      expect_invalid({ max_age: 0 }, /:max_age must be nil or a positive number/)
      expect_invalid({ max_stale: -1 }, /:max_stale must be nil or a positive number.*Integer/)
      expect_invalid({ max_stale: Float::INFINITY }, /:max_stale/)
      expect(described_class.new(max_age: 1.5).max_age).to eq(1.5)
    end

    it "checks lock options (zero allowed)" do
      expect_invalid({ lock_expiry_time: -1 }, /:lock_expiry_time must be a number >= 0/)
      expect_invalid({ lock_retry_delay: "x" }, /:lock_retry_delay.*String/)
      expect_invalid({ lock_max_wait_time: nil.to_a }, /:lock_max_wait_time.*Array/)
      expect(described_class.new(lock_retry_delay: 0).lock_retry_delay).to eq(0)
    end

    it "checks timeouts (positive)" do
      expect_invalid({ connect_timeout: 0 }, /:connect_timeout must be a positive number/)
      expect_invalid({ operation_timeout: -2 }, /:operation_timeout must be a positive number/)
    end

    it "checks max_attempts" do
      expect_invalid({ max_attempts: 0 }, /:max_attempts must be an Integer >= 1/)
      expect_invalid({ max_attempts: 2.0 }, /:max_attempts.*Float/)
    end

    it "checks billing_mode" do
      expect_invalid({ billing_mode: :on_demand }, /:billing_mode must be one of :provisioned, :pay_per_request/)
      expect_invalid({ billing_mode: 1 }, /:billing_mode.*Integer/)
      expect(described_class.new(billing_mode: "pay_per_request").billing_mode).to eq(:pay_per_request)
    end

    it "checks booleans" do
      %i[consistent_read raise_errors enable_locking enable_ttl].each do |name|
        expect_invalid({ name => "yes" }, /:#{name} must be true or false.*String/)
      end
    end

    it "checks the GC and touch options" do
      expect_invalid({ touch_interval: -1 }, /:touch_interval must be nil or an Integer >= 0/)
      expect_invalid({ gc_segments: 0 }, /:gc_segments must be nil or an Integer between 1 and 1000000/)
      expect_invalid({ gc_operation_delay: -0.1 }, /:gc_operation_delay must be a number >= 0/)
      expect_invalid({ gc_max_deletes_per_second: 0 }, /:gc_max_deletes_per_second must be nil or a positive/)
      expect(described_class.new(touch_interval: 0).touch_interval).to eq(0)
    end

    it "checks region, profile and endpoint" do
      expect_invalid({ region: "" }, /:region must be nil or a non-empty String/)
      expect_invalid({ profile: :dev }, /:profile.*Symbol/)
      expect_invalid({ endpoint: "localhost:8000" }, /:endpoint must be an http/)
      expect(described_class.new(endpoint: "https://dynamodb.us-east-1.amazonaws.com").endpoint)
        .to start_with("https://")
    end

    it "checks that static credentials come as a pair" do
      expect_invalid({ access_key_id: "AKID" }, /:access_key_id and :secret_access_key/)
      expect_invalid({ secret_access_key: "hunter2" }, /:access_key_id and :secret_access_key/)
      expect_invalid({ session_token: "tok" }, /:session_token needs/)
    end

    it "checks config_file and error_handler types" do
      expect_invalid({ config_file: 42 }, /:config_file.*Integer/)
      expect_invalid({ error_handler: Object.new }, /:error_handler.*#handle_error.*Object/)
    end

    it "names the class, never the value, of a bad secret" do
      [{ secret_key: 1234 }, { secret_key: "" },
       { access_key_id: "AKID", secret_access_key: :hunter2 },
       { access_key_id: "AKID", secret_access_key: "x", session_token: 98_765 }].each do |options|
        name = options.keys.last
        expect { described_class.new(options) }.to raise_error(config_error) { |e|
          expect(e.message).to include(":#{name}")
          expect(e.message).to match(/\(got (Integer|String|Symbol)\)\z/)
          expect(e.message).not_to match(/1234|hunter2|98765|""/)
        }
      end
    end
  end

  describe "#to_hash" do
    it "returns a complete copy, secrets included" do
      config = described_class.new(secret_key: "topsecret", access_key_id: "AK", secret_access_key: "SAK",
                                   session_token: "TOK")
      hash = config.to_hash
      expect(hash.keys).to include(*described_class::OPTION_NAMES)
      expect(hash).to include(secret_key: "topsecret", secret_access_key: "SAK", session_token: "TOK")
      expect(hash[:error_handler]).to equal(config.error_handler)
      hash[:table_name] = "changed"
      expect(config.to_hash[:table_name]).to eq("sessions")
    end
  end

  describe "#inspect" do
    let(:config) do
      described_class.new(secret_key: "topsecret", access_key_id: "AKIDPLAIN", secret_access_key: "SAKSECRET",
                          session_token: "TOKSECRET")
    end

    it "redacts secrets" do
      text = config.inspect
      expect(text).not_to include("topsecret", "SAKSECRET", "TOKSECRET")
      expect(text).to include("secret_key=[REDACTED]", "secret_access_key=[REDACTED]", "session_token=[REDACTED]")
      expect(text).to include('table_name="sessions"', "AKIDPLAIN")
      expect(config.to_s).to eq(text)
    end

    it "shows unset secrets as nil" do
      expect(described_class.new.inspect).to include("secret_key=nil")
    end

    it "redacts secrets inside a dynamo_db_client Hash" do
      config = described_class.new(dynamo_db_client: { access_key_id: "AK", secret_access_key: "SAKSECRET" })
      expect(config.inspect).not_to include("SAKSECRET")
    end

    it "does not show unknown (Rack) options" do
      expect(described_class.new(secret: "rack-cookie-secret").inspect).not_to include("rack-cookie-secret")
    end
  end

  describe "#native_client_options" do
    it "holds only the set native client options, frozen, timeouts as Floats" do
      config = described_class.new(region: "us-east-1", endpoint: "http://127.0.0.1:8000", table_name: "t",
                                   access_key_id: "AK", secret_access_key: "SK")
      expect(config.native_client_options).to eq(
        region: "us-east-1", endpoint: "http://127.0.0.1:8000", access_key_id: "AK", secret_access_key: "SK",
        connect_timeout: 1.0, operation_timeout: 5.0, max_attempts: 10
      )
      expect(config.native_client_options).to be_frozen
      expect(config.native_client_options[:connect_timeout]).to be_a(Float)
    end

    it "is equal for equal configurations" do
      a = described_class.new(region: "us-east-1", table_name: "a")
      b = described_class.new(region: "us-east-1", table_name: "b")
      expect(a.native_client_options).to eq(b.native_client_options)
      expect(a.native_client_options.hash).to eq(b.native_client_options.hash)
    end
  end

  describe "#serializer_object" do
    it "returns the serializer for the option" do
      expect(described_class.new.serializer_object.name).to eq(:json)
      expect(described_class.new(serializer: :marshal).serializer_object.name).to eq(:marshal)
    end
  end
end
