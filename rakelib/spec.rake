# frozen_string_literal: true

# spec/unit: no server (Configuration, errors, serializers): seconds, no Java.
# spec/integration: against DynamoDB Local (script/test starts one and runs
# everything, on every stack).
desc "Run RSpec (needs DYNAMODB_ENDPOINT; script/test sets everything up)"
task spec: :compile do
  sh "rspec"
end

namespace :spec do
  desc "Unit specs only: no DynamoDB, no Java (seconds)"
  task unit: :compile do
    sh "rspec", "spec/unit"
  end

  desc "Unit specs with the line coverage of lib/ (needs simplecov: Debian's ruby-simplecov)"
  task coverage: :compile do
    sh({ "COVERAGE" => "1" }, "rspec", "spec/unit")
  end

  desc "Integration specs only (needs DYNAMODB_ENDPOINT)"
  task integration: :compile do
    sh "rspec", "spec/integration"
  end
end
