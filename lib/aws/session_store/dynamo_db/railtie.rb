# frozen_string_literal: true

require "rails/railtie"

module Aws
  module SessionStore
    module DynamoDB
      # Rails glue, loaded by `require "aws-sessionstore-dynamodb-rs"` when
      # Rails is loaded first (Bundler.require in config/application.rb):
      #
      # - `config.session_store :dynamo_db_store` (and the v0.5 name
      #   `:dynamodb_store`): ActionDispatch::Session::DynamoDbStore.
      # - The config file under config/ read by every Configuration without
      #   a config_file (v0.5 did that), through AWS_DYNAMO_DB_SESSION_CONFIG_FILE.
      # - The rake tasks `dynamo_db:session_store:{create_table,delete_table,clean}`
      #   and `dynamo_db:collect_garbage`, with the app's session store options.
      # - The generators `dynamo_db:session_store_config`,
      #   `dynamo_db:session_store_migration` and `sessionstore:dynamodb`.
      class Railtie < ::Rails::Railtie
        # The OpenTelemetry instrumentation in its registry, if Bundler
        # loaded OpenTelemetry after this gem: before the initializers, where
        # apps call OpenTelemetry::SDK.configure. Declared first: a
        # railtie's initializers also run in the order declared.
        initializer "aws_sessionstore_dynamodb.opentelemetry", before: :load_config_initializers do
          Aws::SessionStore::DynamoDB::Telemetry.register
        end

        # The Rails config file (see ActionDispatch::Session::DynamoDbStore.config_file)
        # for every Configuration of the process, as the gem's v0.5 read
        # config/sessionstore/dynamodb.yml by itself: so migrations and
        # code calling Table.create_table or GarbageCollection.collect_garbage
        # without options see the store's table. Through the variable the
        # official gem reads; one set by the user is left alone. After the
        # app's initializers, so a config_file given to config.session_store
        # is the one.
        initializer "aws_sessionstore_dynamodb.config_file", after: :load_config_initializers do |app|
          var = "AWS_DYNAMO_DB_SESSION_CONFIG_FILE"
          next unless ENV.fetch(var, "").empty?

          file = (app.config.session_options || {})[:config_file] ||
                 ActionDispatch::Session::DynamoDbStore.config_file
          ENV[var] = file.to_s if file
        end

        # The tasks shared with plain Rack apps, plus a hidden prerequisite
        # that loads the app and hands them its session store options.
        rake_tasks do
          require "aws/session_store/dynamo_db/rake_tasks"
          load File.expand_path("tasks/rails.rake", __dir__)
        end

        generators do
          require "generators/dynamo_db/session_store_config/session_store_config_generator"
          require "generators/dynamo_db/session_store_migration/session_store_migration_generator"
          require "generators/sessionstore/dynamodb/dynamodb_generator"
        end
      end
    end
  end
end

# Loaded on first use (`config.session_store :dynamo_db_store` looks the
# class up by name), so requiring the gem loads none of ActionDispatch's
# session code, and this file can be required before or after the core.
module ActionDispatch
  module Session
    autoload :DynamoDbStore, "action_dispatch/session/dynamo_db_store"
    autoload :DynamodbStore, "action_dispatch/session/dynamo_db_store"
  end
end
