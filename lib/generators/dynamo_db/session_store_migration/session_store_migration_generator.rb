# frozen_string_literal: true

require_relative "session_table_migration"

module DynamoDb
  module Generators
    # `rails generate dynamo_db:session_store_migration [Name]`: an
    # ActiveRecord migration creating the session table (down deletes it).
    class SessionStoreMigrationGenerator < Rails::Generators::NamedBase
      include SessionTableMigration

      source_root File.expand_path("templates", __dir__)

      session_table_migration "create_dynamo_db_sessions_table"
    end
  end
end
