# frozen_string_literal: true

require "aws/session_store/dynamo_db/configuration"

RSpec.describe Aws::SessionStore::DynamoDB::EnvFlag do
  it "reads on and off words, whatever their case and surrounding spaces" do
    %w[1 true yes on TRUE On].each { |word| expect(described_class.parse("X", word)).to be(true), word }
    ["", "0", "false", "no", "off", " OFF ", "No", nil].each do |word|
      expect(described_class.parse("X", word)).to be(false), word.inspect
    end
  end

  it "refuses any other word with a clear error naming the variable" do
    %w[maybe y 2 enabled].each do |word|
      expect { described_class.parse("ALLOW_MARSHAL", word) }
        .to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError,
                        %r{ALLOW_MARSHAL="#{word}" is not a boolean: use one of 1/true/yes/on or 0/false/no/off})
    end
  end

  it "is what boolean AWS_DYNAMO_DB_SESSION_* options are parsed with" do
    ENV["AWS_DYNAMO_DB_SESSION_ENABLE_LOCKING"] = "on"
    ENV["AWS_DYNAMO_DB_SESSION_CONSISTENT_READ"] = "off"
    config = Aws::SessionStore::DynamoDB::Configuration.new
    expect([config.enable_locking, config.consistent_read]).to eq([true, false])
    ENV["AWS_DYNAMO_DB_SESSION_ENABLE_LOCKING"] = "sometimes"
    expect { Aws::SessionStore::DynamoDB::Configuration.new }
      .to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError, /AWS_DYNAMO_DB_SESSION_ENABLE_LOCKING/)
  ensure
    ENV.delete("AWS_DYNAMO_DB_SESSION_ENABLE_LOCKING")
    ENV.delete("AWS_DYNAMO_DB_SESSION_CONSISTENT_READ")
  end

  describe ".fetch" do
    let(:name) { "AWS_SESSIONSTORE_ENV_FLAG_SPEC" }

    after { ENV.delete(name) }

    it "gives the default while the variable is unset" do
      expect(described_class.fetch(name)).to be(false)
      expect(described_class.fetch(name, default: true)).to be(true)
    end

    it "parses a set variable, an empty one being off whatever the default" do
      ENV[name] = "Yes"
      expect(described_class.fetch(name)).to be(true)
      ENV[name] = ""
      expect(described_class.fetch(name, default: true)).to be(false)
    end

    it "refuses a set variable that is no on/off word, naming it" do
      ENV[name] = "maybe"
      expect { described_class.fetch(name, default: true) }
        .to raise_error(Aws::SessionStore::DynamoDB::Errors::ConfigurationError,
                        "#{name}=\"maybe\" is not a boolean: use one of 1/true/yes/on or 0/false/no/off")
    end
  end
end
