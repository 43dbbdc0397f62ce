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

        # Environment variables the rake tasks' Configuration reads, set from
        # the Rails app's store options so the tasks see what the store sees:
        # `config.session_store` options replace ENV (they rank above it),
        # the config file found under Rails.root applies unless ENV names one.
        # Only affects the current (rake) process.
        #
        # @api private
        # @param options [Hash] from ActionDispatch::Session::DynamoDbStore.store_options
        # @param env [#[]=] ENV
        # @return [Hash{String => String}] the variables set
        def self.export_store_options(options, env = ENV)
          config = Configuration
          skipped = config::RUNTIME_ONLY_OPTIONS + [:secret_key]
          exported = {}
          options.each do |name, value|
            next if value.nil? || skipped.include?(name)

            exported["#{config::ENV_PREFIX}#{name.to_s.upcase}"] = env_string(value)
          end
          # A Hash given as :dynamo_db_client fills what nothing else set.
          client = options[:dynamo_db_client]
          if client.is_a?(Hash)
            client.each do |name, value|
              var = "#{config::ENV_PREFIX}#{name.to_s.upcase}"
              next if value.nil? || exported.key?(var) || !env.fetch(var, "").to_s.empty?

              exported[var] = env_string(value)
            end
          end
          exported.each { |var, value| env[var] = value }
          exported
        end

        # A value as Configuration parses it back from ENV.
        def self.env_string(value)
          return format("%.9f", value) if value.is_a?(Float) && value.to_s.include?("e")

          value.to_s
        end
        private_class_method :env_string
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
