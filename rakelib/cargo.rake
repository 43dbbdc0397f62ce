# frozen_string_literal: true

namespace :cargo do
  desc "cargo test (unit tests; the DynamoDB ones use DYNAMODB_ENDPOINT)"
  task :test do
    sh "cargo", "test", "--quiet"
  end

  desc "cargo clippy -D warnings and cargo fmt --check"
  task :lint do
    sh "cargo", "fmt", "--all", "--check"
    sh "cargo", "clippy", "--all-targets", "--all-features", "--quiet", "--", "-D", "warnings"
  end
end
