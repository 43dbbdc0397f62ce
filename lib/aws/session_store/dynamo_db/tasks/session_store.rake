# frozen_string_literal: true

# Session table tasks. Options come from Configuration: ENV
# (AWS_DYNAMO_DB_SESSION_TABLE_NAME, _ENDPOINT, _MAX_AGE, _MAX_STALE,
# _GC_SEGMENTS, ...) and the YAML file (AWS_DYNAMO_DB_SESSION_CONFIG_FILE).
# A plain Rack app loads them with:
#
#   require "aws/session_store/dynamo_db/rake_tasks"

require "aws-sessionstore-dynamodb-rs"
require "aws/session_store/dynamo_db/progress"

namespace :dynamo_db do
  namespace :session_store do
    # Runtime options set by the app (RakeTasks.options), then ENV and YAML.
    options = -> { Aws::SessionStore::DynamoDB::RakeTasks.options }

    desc "Create the DynamoDB session table (options from AWS_DYNAMO_DB_SESSION_* / the YAML config)"
    task :create_table do
      result = Aws::SessionStore::DynamoDB::Table.create_table(options.call)
      puts "Created table #{Aws::SessionStore::DynamoDB::Configuration.new(options.call).table_name}." if result == :created
    end

    desc "Add the user_id index (user_key) to the existing session table and wait until it is active"
    task :add_user_index do
      name = Aws::SessionStore::DynamoDB::Configuration.new(options.call).table_name
      result = Aws::SessionStore::DynamoDB::Table.add_user_index(options.call)
      puts "Index #{Aws::SessionStore::DynamoDB::Table::USER_INDEX} of table #{name}: " \
           "#{result == :created ? "added" : "already there"}, active."
    end

    desc "Delete the DynamoDB session table (options from AWS_DYNAMO_DB_SESSION_* / the YAML config)"
    task :delete_table do
      result = Aws::SessionStore::DynamoDB::Table.delete_table(options.call)
      puts "Deleted table #{Aws::SessionStore::DynamoDB::Configuration.new(options.call).table_name}." if result == :deleted
    end

    desc "Delete expired sessions (max_age/max_stale from AWS_DYNAMO_DB_SESSION_* / the YAML config; DRY_RUN=1 counts only)"
    task :clean do
      dry_run = Aws::SessionStore::DynamoDB::EnvFlag.fetch("DRY_RUN")
      progress = Aws::SessionStore::DynamoDB::Progress.new($stdout)
      begin
        result = Aws::SessionStore::DynamoDB::GarbageCollection.collect_garbage(options.call.merge(dry_run: dry_run)) do |stats|
          progress.update(stats)
        end
      ensure
        progress.clear
      end
      progress.finish(result.summary)
    end

    desc "Rewrite v0.5 items (number timestamps; Marshal data with ALLOW_MARSHAL=1) to the v4 format " \
         "(DRY_RUN=1 counts only; STATE=file to resume, default one per table in the current directory)"
    task :migrate do
      flag = Aws::SessionStore::DynamoDB::EnvFlag
      run = { dry_run: flag.fetch("DRY_RUN"), allow_marshal: flag.fetch("ALLOW_MARSHAL"),
              state_file: ENV.fetch("STATE", :default) }
      result = Aws::SessionStore::DynamoDB::Migration.migrate(options.call.merge(run))
      puts result.summary
    end

    desc "Encrypt every session under the current key of encrypt_data (encryption_keys from " \
         "AWS_DYNAMO_DB_SESSION_* / the YAML config; DRY_RUN=1 counts only; STATE=file to resume)"
    task :reencrypt do
      run = { dry_run: Aws::SessionStore::DynamoDB::EnvFlag.fetch("DRY_RUN"), state_file: ENV.fetch("STATE", :default) }
      result = Aws::SessionStore::DynamoDB::Migration.reencrypt(options.call.merge(run))
      puts result.summary
    end

    desc "End every session of one user (USER_ID=id; the sessions user_key tracks)"
    task :revoke_user do
      user = ENV.fetch("USER_ID", nil) || abort("revoke_user: set USER_ID=<the user's id>")
      count = Aws::SessionStore::DynamoDB::UserSessions.revoke(user, **options.call)
      puts "Revoked #{count} session(s) of user #{user}."
    end
  end

  desc "Delete expired sessions (the v0.5 name of dynamo_db:session_store:clean)"
  task collect_garbage: "session_store:clean"
end
