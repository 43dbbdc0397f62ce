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
      # Loads the .rake file once per process, and holds the options its
      # tasks use on top of AWS_DYNAMO_DB_SESSION_* / YAML.
      module RakeTasks
        RAKE_FILE = File.expand_path("tasks/session_store.rake", __dir__)

        # Runtime options for the tasks (a Rails app's session store options):
        # passed to Configuration, never through ENV, so credentials among
        # them don't reach child processes.
        # @return [Hash]
        def self.options
          @options || {}
        end

        # @param options [Hash]
        def self.options=(options)
          @options = options.dup.freeze
        end

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
