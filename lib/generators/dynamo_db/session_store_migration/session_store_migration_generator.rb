# frozen_string_literal: true

require_relative "session_table_migration"

module DynamoDb
  module Generators
    # `rails generate dynamo_db:session_store_migration [Name]`: an
    # ActiveRecord migration creating the session table (down deletes it).
    class SessionStoreMigrationGenerator < Rails::Generators::NamedBase
      include SessionTableMigration

      source_root File.expand_path("templates", __dir__)

      argument :name, type: :string, default: "create_dynamo_db_sessions_table",
                      desc: "Name of the migration class", banner: "Name"

      # Writes db/migrate/<timestamp>_<name>.rb.
      def generate_migration_file
        write_session_table_migration
      end
    end
  end
end
