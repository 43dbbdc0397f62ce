# frozen_string_literal: true

desc "Run RSpec (needs DYNAMODB_ENDPOINT; script/test sets everything up)"
task spec: :compile do
  sh "rspec"
end
