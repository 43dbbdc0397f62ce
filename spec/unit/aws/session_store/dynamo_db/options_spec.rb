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
end
