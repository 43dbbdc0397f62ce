# frozen_string_literal: true

require_relative "../../dynamo_db/session_store_migration/session_table_migration"

module Sessionstore
  module Generators
    # The generator of the gem's v0.5 README, `rails generate
    # sessionstore:dynamodb [Name]`: the table migration and
    # config/sessionstore/dynamodb.yml, the config file those versions read.
    # New apps: dynamo_db:session_store_migration and dynamo_db:session_store_config.
    class DynamodbGenerator < Rails::Generators::NamedBase
      include DynamoDb::Generators::SessionTableMigration

      # The templates of the dynamo_db generators: one file format for both.
      TEMPLATES = File.expand_path("../../dynamo_db", __dir__)

      source_root File.expand_path("templates", __dir__)

      session_table_migration "sessionstore_migration"

      # Writes config/sessionstore/dynamodb.yml.
      def copy_config_file
        template(File.join(TEMPLATES, "session_store_config/templates/aws_dynamo_db_session_store.yml.tt"),
                 "config/sessionstore/dynamodb.yml")
      end

      private

      def environment_label
        "every environment (the v0.5 file name; config/aws_dynamo_db_session_store.yml takes precedence)"
      end
    end
  end
end
