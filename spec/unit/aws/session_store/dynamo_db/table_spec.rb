# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/store_environment"

# Table's Ruby half: the request it builds from the options (ENV and YAML
# included), and what it says about the answer. MemoryClient has no
# tables, so a recording client stands in here; creating, deleting and
# describing real tables is in spec/integration/table_spec.rb.
RSpec.describe Aws::SessionStore::DynamoDB::Table do
  include_context "with a clean store environment"

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  # Answers what `answers` says and records every call.
  let(:client_class) do
    Class.new do
      attr_reader :calls

      def initialize(answers)
        @answers = answers
        @calls = []
      end

      %i[create_table delete_table describe_table add_user_index remove_user_index].each do |name|
        define_method(name) do |request|
          @calls << [name, request]
          @answers.fetch(name)
        end
      end
    end
  end
  let(:answers) do
    { create_table: :created, delete_table: :deleted, describe_table: { status: "ACTIVE" },
      add_user_index: :created, remove_user_index: :deleted }
  end
  let(:client) { client_class.new(answers) }
  let(:client_options) { [] }

  before do
    dynamo::Native.client_factory = lambda { |options|
      client_options << options
      client
    }
  end

  after { dynamo::Native.client_factory = nil }

  describe ".create_table" do
    it "asks for a provisioned table keyed by table_key, TTL on, with the default capacities" do
      expect(described_class.create_table(table_name: "t1")).to eq(:created)
      name, request = client.calls.fetch(0)
      expect(name).to eq(:create_table)
      expect(request.to_h).to eq(table: "t1", key_name: "session_id", billing_mode: "provisioned",
                                 read_capacity: 10, write_capacity: 5, enable_ttl: true, user_index: false,
                                 instrument: nil)
    end

    it "passes on-demand billing, capacities, a key and TTL off as given" do
      described_class.create_table(table_name: "t2", table_key: "id", billing_mode: :pay_per_request,
                                   read_capacity: 3, write_capacity: 4, enable_ttl: false)
      expect(client.calls.fetch(0)[1].to_h).to eq(table: "t2", key_name: "id", billing_mode: "pay_per_request",
                                                  read_capacity: 3, write_capacity: 4, enable_ttl: false,
                                                  user_index: false, instrument: nil)
    end

    it "asks for the user index with user_key, unless user_index is false" do
      described_class.create_table(table_name: "t3", user_key: "user_id")
      described_class.create_table(table_name: "t3", user_key: ->(session) { session["id"] })
      described_class.create_table(table_name: "t3", user_key: "user_id", user_index: false)
      expect(client.calls.map { |_, request| request.user_index }).to eq([true, true, false])
    end

    it "warns that an existing table lacks the user index, naming the command that adds it" do
      answers[:create_table] = :exists
      expect { described_class.create_table(table_name: "t1", user_key: "user_id") }
        .to output(/already exists.*\n.*Table t1 has no index user_id-index .*add-user-index/).to_stderr
      answers[:describe_table] = { status: "ACTIVE", user_index: "ACTIVE" }
      expect { described_class.create_table(table_name: "t1", user_key: "user_id") }
        .to output("Table t1 already exists, skipping creation.\n").to_stderr
    end

    it "reads the options from ENV and the YAML file too, under runtime ones" do
      ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = "from_env"
      ENV["AWS_DYNAMO_DB_SESSION_READ_CAPACITY"] = "7"
      path = yaml_file("table_key: from_yaml\nwrite_capacity: 2\nregion: eu-west-1\n")
      described_class.create_table(config_file: path, write_capacity: 9)
      expect(client.calls.fetch(0)[1].to_h).to include(table: "from_env", key_name: "from_yaml", read_capacity: 7,
                                                       write_capacity: 9)
      expect(client_options.fetch(0)).to include(region: "eu-west-1")
    end

    it "only warns when the table exists" do
      answers[:create_table] = :exists
      result = nil
      expect { result = described_class.create_table(table_name: "t1") }
        .to output("Table t1 already exists, skipping creation.\n").to_stderr
      expect(result).to eq(:exists)
    end

    it "refuses bad options before any call" do
      expect { described_class.create_table(read_capacity: 0) }.to raise_error(dynamo::Errors::ConfigurationError)
      expect { described_class.create_table(billing_mode: :free) }.to raise_error(dynamo::Errors::ConfigurationError)
      expect(client.calls).to be_empty
    end
  end

  describe ".add_user_index and .remove_user_index" do
    it "ask for the index with the table's options, and answer the client's outcome" do
      expect(described_class.add_user_index(table_name: "t1", read_capacity: 2)).to eq(:created)
      expect(described_class.remove_user_index(table_name: "t1")).to eq(:deleted)
      (add, request), (remove, name) = client.calls
      expect([add, remove]).to eq(%i[add_user_index remove_user_index])
      expect(request.to_h).to include(table: "t1", read_capacity: 2, user_index: true)
      expect(name.table).to eq("t1")
    end
  end

  describe ".delete_table" do
    it "deletes the table named by the options" do
      expect(described_class.delete_table(table_name: "t1")).to eq(:deleted)
      expect(client.calls).to eq([[:delete_table, dynamo::Native::TableName.new(table: "t1")]])
    end

    it "only warns when the table is missing" do
      answers[:delete_table] = :missing
      expect { expect(described_class.delete_table(table_name: "gone")).to eq(:missing) }
        .to output("Table gone does not exist, nothing to delete.\n").to_stderr
    end
  end

  describe ".describe_table" do
    it "answers what the client reports for the table named" do
      expect(described_class.describe_table(table_name: "t1")).to eq(status: "ACTIVE")
      expect(client.calls).to eq([[:describe_table, dynamo::Native::TableName.new(table: "t1")]])
    end
  end
end
