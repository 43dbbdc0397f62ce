# frozen_string_literal: true

# First, before the gem loads: a warning located in lib/ fails the run.
require_relative "support/lib_warnings"
# Line coverage of lib/ when asked for (COVERAGE=1), also before the gem loads.
require_relative "support/coverage" if ENV["COVERAGE"]

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)

require "rack"
require "rack/lint"
require "rack/mock"
require "json"
require "openssl" # the reference HMAC for cookies: the store itself does not load it
require_relative "support/raw_dynamodb"
require_relative "support/dynamodb_local"

# Options every store spec shares: the local server and dummy credentials.
module StoreSpecHelpers
  SECRET = "spec-secret-key-#{"k" * 48}".freeze

  def native_options
    {
      endpoint: DynamoDBLocalHelper.endpoint, region: "us-east-1",
      access_key_id: "dummy", secret_access_key: "dummy"
    }
  end

  def store_options(extra = {})
    native_options.merge(table_name: table_name, secret_key: SECRET).merge(extra)
  end

  # The item of the session whose cookie the last response set.
  def raw_item(cookie_value)
    raw_dynamodb.get_item(table_name, "session_id" => { "S" => cookie_value })["Item"]
  end

  def all_items
    raw_dynamodb.scan_all(table_name)
  end

  # Native::Client#get_item on the "session_id" key, consistent.
  def native_get(client, table, key)
    client.get_item(Aws::SessionStore::DynamoDB::Native::ItemRequest.new(table: table, key_name: "session_id",
                                                                         key: key, consistent: true))
  end

  # Native::Client#save_session of a new item with `data`.
  def native_save_new(client, table, key, data)
    client.save_session(Aws::SessionStore::DynamoDB::Native::SaveRequest.new(
                          table: table, key_name: "session_id", key: key, data: data, created_at: "1.0",
                          new_session: true
                        ))
  end
end

# Which stack this run tests: Debian's Rack 2.2 / Rails 6.1, or Rack 3 /
# Rails 7.2 from ../shared/vendor/ruby (script/test sets RUBYLIB).
module SpecStack
  module_function

  def rack3?
    Gem::Version.new(Rack.release) >= Gem::Version.new("3.0")
  end

  def rails_version
    require "rails/version"
    Rails::VERSION::STRING
  rescue LoadError
    "none"
  end

  def description
    session = rack3? ? ", rack-session #{rack_session_version}" : ""
    "Ruby #{RUBY_VERSION}#{ruby_flags}, Rack #{Rack.release}#{session}, Rails #{rails_version}"
  end

  # " (+YJIT, -W:deprecated)" when this run has them on.
  def ruby_flags
    flags = []
    flags << "+YJIT" if defined?(RubyVM::YJIT) && RubyVM::YJIT.enabled?
    flags << "-W:deprecated" if Warning[:deprecated]
    flags.empty? ? "" : " (#{flags.join(", ")})"
  end

  def rack_session_version
    Rack::Session::VERSION
  rescue StandardError
    "?"
  end
end

if SpecStack.rack3?
  require "rack/session/version" rescue nil # rubocop:disable Style/RescueModifier
  # Rack::Lint on the inside too: whatever the middleware hands the app (the
  # env, rack.session) and passes back must satisfy Rack 3's SPEC.
  # store_request (spec/support/store_requests.rb) lints the outside.
  module LintTheApp
    def initialize(app, options = {})
      super(Rack::Lint.new(app), options)
    end
  end
  require "aws-sessionstore-dynamodb-rs"
  Aws::SessionStore::DynamoDB::RackMiddleware.prepend(LintTheApp)
end

RSpec.configure do |config|
  config.include StoreSpecHelpers
  config.before(:suite) { puts "Stack: #{SpecStack.description}" }
  # Warnings located in lib/ (support/lib_warnings.rb): an example's fail
  # it; those of loading the files fail the run once every example ran.
  loading_warnings = []
  config.before(:suite) { loading_warnings = LibWarnings.take }
  config.after do
    message = LibWarnings.failure(LibWarnings.take, "during this example")
    raise message if message
  end
  config.after(:suite) do
    message = LibWarnings.failure(loading_warnings + LibWarnings.take, "while the spec files loaded")
    raise message if message
  end
  config.disable_monkey_patching!
  config.order = :random
  Kernel.srand config.seed
  config.expect_with(:rspec) { |c| c.syntax = :expect }
end
