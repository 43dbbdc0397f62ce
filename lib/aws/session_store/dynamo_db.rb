# frozen_string_literal: true

require_relative "dynamo_db/version"
require_relative "dynamo_db/errors"
require_relative "dynamo_db/warnings"
require_relative "dynamo_db/unknown_options"
require_relative "dynamo_db/env_flag"
require_relative "dynamo_db/serializer"
require_relative "dynamo_db/configuration"
require_relative "dynamo_db/native"
require_relative "dynamo_db/data_cipher"
require_relative "dynamo_db/instrumentation"
require_relative "dynamo_db/table"
require_relative "dynamo_db/garbage_collection"
require_relative "dynamo_db/locking"
require_relative "dynamo_db/request_state"
require_relative "dynamo_db/session_ids"
require_relative "dynamo_db/pending_deletes"
require_relative "dynamo_db/lifetime"
require_relative "dynamo_db/presented_ids"
require_relative "dynamo_db/backend_errors"
require_relative "dynamo_db/logouts"
require_relative "dynamo_db/session_reader"
require_relative "dynamo_db/user_tracking"
require_relative "dynamo_db/session_writer"
require_relative "dynamo_db/rack_middleware"
require_relative "dynamo_db/user_sessions"
require_relative "dynamo_db/telemetry"

module Aws
  module SessionStore
    # Rack and Rails sessions in Amazon DynamoDB, with a native Rust core.
    # Drop-in for the official aws-sessionstore-dynamodb gem: see the README.
    module DynamoDB
      # Only the CLI and the rake task need it: loaded on first use.
      autoload :Migration, File.expand_path("dynamo_db/migration", __dir__)
    end
  end
end

# In OpenTelemetry's instrumentation registry when it is loaded already
# (the railtie tries again before a Rails app's initializers).
Aws::SessionStore::DynamoDB::Telemetry.register

# The spelling used by the official gem's old README.
AWS = Aws unless defined?(AWS)

# Rails glue (store class, rake tasks, generators) only when Rails is loaded
# first, as Bundler.require in config/application.rb does. Without Rails this
# loads nothing of ActionDispatch.
require_relative "dynamo_db/railtie" if defined?(Rails::Railtie)
