# frozen_string_literal: true

# Loaded by the Railtie after session_store.rake: in a Rails app the session
# table tasks first load the app (:environment) and take its session store
# options (config.session_store, then ENV, then the config file under
# config/) as runtime options: never through ENV, so credentials among
# them don't reach processes the tasks start.

namespace :dynamo_db do
  namespace :session_store do
    # No desc: a prerequisite, not a task to run by hand.
    task rails_options: :environment do
      options = ActionDispatch::Session::DynamoDbStore.store_options
      # The tasks sign no cookie.
      Aws::SessionStore::DynamoDB::RakeTasks.options = options.except(:secret_key)
    end
  end
end

%w[create_table add_user_index delete_table clean].each do |name|
  Rake::Task["dynamo_db:session_store:#{name}"].enhance(["dynamo_db:session_store:rails_options"])
end
