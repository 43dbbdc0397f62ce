# frozen_string_literal: true

require "aws/session_store/dynamo_db/configuration"

# The option table (options.rb) is the one place an option is declared:
# Configuration's defaults, readers, native options and validation come from
# it, and so must the README's options table and the generated YAML file.
RSpec.describe "Aws::SessionStore::DynamoDB::OPTIONS" do
  let(:mod) { Aws::SessionStore::DynamoDB }
  let(:readme) { File.read(File.expand_path("../../../../../README.md", __dir__)) }

  it "agrees with the README's options table (regenerate it with `rake docs:options`)" do
    start = readme.index("\n", readme.index("<!-- options table:")) + 1
    table = readme[start...readme.index("<!-- end of options table -->")].strip
    expect(table).to eq(mod.options_markdown_table)
  end

  it "gives Configuration its defaults, readers and native client options" do
    config = mod::Configuration.new
    mod::OPTIONS.each do |option|
      expect(config).to respond_to(option.name)
      expect(mod::Configuration::MEMBERS.fetch(option.name)).to eq(option.default)
    end
    expect(mod::Configuration::NATIVE_CLIENT_OPTIONS).to eq(
      %i[region endpoint access_key_id secret_access_key session_token profile connect_timeout
         operation_timeout max_attempts]
    )
  end

  it "checks each declared type and bound, naming the option" do
    errors = mod::Errors
    expect { mod::Configuration.new(gc_segments: 1_000_001) }
      .to raise_error(errors::ConfigurationError, /:gc_segments must be nil or an Integer between 1 and 1000000/)
    expect { mod::Configuration.new(lock_retry_delay: 60_001) }
      .to raise_error(errors::ConfigurationError, /:lock_retry_delay must be at most 60000 \(milliseconds\)/)
    expect { mod::Configuration.new(error_handler: Object.new) }
      .to raise_error(errors::ConfigurationError, /:error_handler must be nil or an object responding to #handle_error/)
  end

  describe "an Option" do
    def option(name)
      mod::OPTIONS.find { |o| o.name == name }
    end

    it "accepts nil exactly when nil is its default" do
      expect(option(:max_age).problem(nil)).to be_nil
      expect(option(:table_name).problem(nil)).to eq("a non-empty String")
    end

    it "checks numbers as real, finite and in bounds" do
      delay = option(:gc_operation_delay)
      expect(delay.problem(0)).to be_nil
      expect(delay.problem(0.5)).to be_nil
      [-1, Float::NAN, Float::INFINITY, Complex(1, 1), "1"].each do |bad|
        expect(delay.problem(bad)).to eq("a number >= 0"), bad.inspect
      end
      expect(option(:gc_max_deletes_per_second).problem(0)).to eq("nil or a positive number")
    end

    it "checks Integers against both bounds, and refuses a Float" do
      capacity = option(:read_capacity)
      expect(capacity.problem(1)).to be_nil
      expect(capacity.problem(0)).to eq("an Integer >= 1")
      expect(capacity.problem(1.0)).to eq("an Integer >= 1")
    end

    it "sums itself up for the generated YAML file: its unit or choices first, no bold" do
      mod::OPTIONS.each do |o|
        expect(o.summary).not_to include("*"), o.name.inspect
        expect(o.summary).to start_with("[#{(o.unit || o.choices&.join(", ")).delete("`*")}] ") if o.unit || o.choices
      end
      expect(option(:serializer).summary).to start_with("[json, json_allow_marshal, marshal] ")
    end

    it "is declared once per name, with a doc line, and frozen" do
      names = mod::OPTIONS.map(&:name)
      expect(names).to eq(names.uniq)
      expect(mod::OPTIONS).to all(be_frozen)
      mod::OPTIONS.each { |o| expect(o.doc).to be_a(String).and(satisfy { |doc| !doc.strip.empty? }) }
    end
  end
end
