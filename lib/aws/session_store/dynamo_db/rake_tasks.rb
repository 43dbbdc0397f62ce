# frozen_string_literal: true

# Loads the session table rake tasks into a plain Rack app's Rakefile:
#
#   require "aws/session_store/dynamo_db/rake_tasks"
#
# Defines dynamo_db:session_store:create_table, :delete_table, :clean and
# dynamo_db:collect_garbage (options from AWS_DYNAMO_DB_SESSION_* / YAML).

require "rake"
require "aws-sessionstore-dynamodb-rs"

module Aws
  module SessionStore
    module DynamoDB
      # Loads the .rake file once per process.
      module RakeTasks
        RAKE_FILE = File.expand_path("tasks/session_store.rake", __dir__)

        def self.load!
          return false if @loaded

          @loaded = true
          load RAKE_FILE
          true
        end
      end
    end
  end
end

Aws::SessionStore::DynamoDB::RakeTasks.load!
