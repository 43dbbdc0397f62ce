# frozen_string_literal: true

require "rails/generators"
require "rails/generators/migration"

module DynamoDb
  module Generators
    # `rails generate dynamo_db:session_store_migration [Name]`: an
    # ActiveRecord migration creating the session table (down deletes it).
    class SessionStoreMigrationGenerator < Rails::Generators::NamedBase
      include Rails::Generators::Migration

      source_root File.expand_path("templates", __dir__)

      argument :name, type: :string, default: "create_dynamo_db_sessions_table",
                      desc: "Name of the migration class", banner: "Name"

      # Writes db/migrate/<timestamp>_<name>.rb.
      def generate_migration_file
        migration_template("session_store_migration.rb.tt", "db/migrate/#{file_name}.rb")
      end

      # A timestamp, past the newest migration's number so that two generated
      # in the same second still differ; ActiveRecord's own rule when loaded.
      def self.next_migration_number(dirname)
        next_number = current_migration_number(dirname) + 1
        if defined?(::ActiveRecord::Migration)
          ::ActiveRecord::Migration.next_migration_number(next_number)
        else
          [Time.now.utc.strftime("%Y%m%d%H%M%S"), format("%.14d", next_number)].max
        end
      end

      private

      def migration_version
        "#{Rails::VERSION::MAJOR}.#{Rails::VERSION::MINOR}"
      end
    end
  end
end
