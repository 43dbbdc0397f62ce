# frozen_string_literal: true

require_relative "../session_store_migration/session_table_migration"

module DynamoDb
  module Generators
    # `rails generate dynamo_db:user_index_migration [Name]`: an
    # ActiveRecord migration adding the user index (`user_key`) to the
    # existing session table (down removes it).
    class UserIndexMigrationGenerator < Rails::Generators::NamedBase
      include SessionTableMigration

      source_root File.expand_path("templates", __dir__)

      session_table_migration "add_user_index_to_dynamo_db_sessions",
                              File.expand_path("templates/user_index_migration.rb.tt", __dir__)
    end
  end
end
