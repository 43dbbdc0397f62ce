# frozen_string_literal: true

require "aws/session_store/dynamo_db/configuration"
require_relative "../../../../../support/store_environment"

# Where options come from (runtime > ENV > legacy ENV > YAML > defaults):
# the edges configuration_spec.rb leaves out. Configuration.new is the way
# in; the sources have no public methods of their own.
RSpec.describe "Aws::SessionStore::DynamoDB::Configuration::Sources" do
  include_context "with a clean store environment"

  let(:config_class) { Aws::SessionStore::DynamoDB::Configuration }
  let(:config_error) { Aws::SessionStore::DynamoDB::Errors::ConfigurationError }

  def with_rails_env(env)
    stub_const("Rails", Module.new)
    Rails.define_singleton_method(:env) { env }
    yield
  end

  describe "ENV" do
    it "reads decimals without a leading digit, and negative numbers, as numbers" do
      ENV["AWS_DYNAMO_DB_SESSION_GC_OPERATION_DELAY"] = ".25"
      expect(config_class.new.gc_operation_delay).to eq(0.25)
      ENV["AWS_DYNAMO_DB_SESSION_LOCK_EXPIRY_TIME"] = "-1"
      expect { config_class.new }.to raise_error(config_error, /lock_expiry_time/)
    end

    it "keeps what only looks like a number as text, so a numeric option refuses it by name" do
      ENV["AWS_DYNAMO_DB_SESSION_READ_CAPACITY"] = "1e3"
      expect { config_class.new }.to raise_error(config_error, /read_capacity/)
      ENV["AWS_DYNAMO_DB_SESSION_READ_CAPACITY"] = "0x10"
      expect { config_class.new }.to raise_error(config_error, /read_capacity/)
    end

    it "beats the YAML file for booleans too" do
      ENV["AWS_DYNAMO_DB_SESSION_ENABLE_LOCKING"] = "off"
      config = config_class.new(config_file: yaml_file("enable_locking: true\nconsistent_read: false\n"))
      expect(config.enable_locking).to be(false)
      expect(config.consistent_read).to be(false)
    end

    it "loses to runtime options given with String keys" do
      ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = "from_env"
      expect(config_class.new("table_name" => "from_runtime").table_name).to eq("from_runtime")
    end

    it "reads a legacy boolean variable, with the deprecation line" do
      ENV["DYNAMO_DB_SESSION_ENABLE_LOCKING"] = "yes"
      config = nil
      expect { config = config_class.new }.to output(/DYNAMO_DB_SESSION_ENABLE_LOCKING.*deprecated/).to_stderr
      expect(config.enable_locking).to be(true)
    end
  end

  describe "the YAML file" do
    it "refuses ERB that fails, naming the file and the error" do
      path = yaml_file("table_name: <%= no_such_helper %>\n", "erb.yml")
      expect { config_class.new(config_file: path) }
        .to raise_error(config_error, /:config_file ".*erb\.yml" could not be read \(NameError: /)
    end

    it "refuses classes safe_load does not permit (a Date), naming the file" do
      expect { config_class.new(config_file: yaml_file("max_age: 2026-01-01\n", "date.yml")) }
        .to raise_error(config_error, /date\.yml" could not be read \(Psych::DisallowedClass/)
    end

    it "refuses a directory as if it were missing" do
      expect { config_class.new(config_file: tmpdir) }.to raise_error(config_error, /does not exist/)
    end

    it "refuses a file of one scalar" do
      expect { config_class.new(config_file: yaml_file("just text\n")) }
        .to raise_error(config_error, /must hold a Hash of options \(got String\)/)
    end

    it "takes a Rails environment's section under a Symbol key" do
      path = yaml_file(":production:\n  table_name: sym_prod\ntable_name: top\n")
      with_rails_env("production") do
        expect(config_class.new(config_file: path).table_name).to eq("sym_prod")
      end
    end
  end

  describe "a dynamo_db_client Hash" do
    it "fills only the client options no source set: runtime, ENV and YAML win" do
      ENV["AWS_DYNAMO_DB_SESSION_REGION"] = "eu-west-1"
      path = yaml_file("endpoint: http://127.0.0.1:8000\n")
      config = config_class.new(config_file: path, connect_timeout: 2,
                                dynamo_db_client: { "region" => "us-west-2", "endpoint" => "http://other:1",
                                                    "connect_timeout" => 9, "max_attempts" => 4 })
      expect(config.region).to eq("eu-west-1")
      expect(config.endpoint).to eq("http://127.0.0.1:8000")
      expect(config.connect_timeout).to eq(2)
      expect(config.max_attempts).to eq(4)
    end
  end

  it "refuses options that are not a Hash" do
    expect { config_class.new([[:table_name, "x"]]) }.to raise_error(config_error, /options must be a Hash \(got Array\)/)
  end
end
