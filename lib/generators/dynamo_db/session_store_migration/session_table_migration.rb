# frozen_string_literal: true

require "rails/generators"
require "rails/generators/migration"

module DynamoDb
  module Generators
    # What the migration generators (dynamo_db:session_store_migration, the
    # v0.5 sessionstore:dynamodb and dynamo_db:user_index_migration) share:
    # the Name argument, the template's version and the migration number.
    module SessionTableMigration
      # The ActiveRecord migration calling Table.create_table/delete_table.
      TEMPLATE = File.expand_path("templates/session_store_migration.rb.tt", __dir__)

      def self.included(base)
        base.include Rails::Generators::Migration
        base.extend ClassMethods
      end

      # Class methods of the generators.
      module ClassMethods
        # Declares the Name argument (the migration's class name,
        # `default_name` unless given) and the step writing `template` to
        # db/migrate/<timestamp>_<name>.rb.
        def session_table_migration(default_name, template = TEMPLATE)
          argument :name, type: :string, default: default_name,
                          desc: "Name of the migration class", banner: "Name"
          define_method(:generate_migration_file) { migration_template(template, "db/migrate/#{file_name}.rb") }
        end

        # A timestamp, past the newest migration's number so that two
        # generated in the same second still differ; ActiveRecord's own rule
        # when loaded.
        def next_migration_number(dirname)
          next_number = current_migration_number(dirname) + 1
          if defined?(::ActiveRecord::Migration)
            ::ActiveRecord::Migration.next_migration_number(next_number)
          else
            [Time.now.utc.strftime("%Y%m%d%H%M%S"), format("%.14d", next_number)].max
          end
        end
      end

      private

      def migration_version
        "#{Rails::VERSION::MAJOR}.#{Rails::VERSION::MINOR}"
      end
    end
  end
end
