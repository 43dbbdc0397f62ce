# frozen_string_literal: true

# `rake lint`: every static check CI runs, in script/test's order, cheapest
# first: RuboCop (.rubocop.yml), then cargo fmt and clippy (cargo:lint,
# rakelib/cargo.rake). It stops at the first that fails.
desc "RuboCop, cargo fmt --check and cargo clippy -D warnings (what script/test runs first)"
task lint: %i[lint:ruby cargo:lint]

namespace :lint do
  desc "RuboCop on the whole tree (.rubocop.yml)"
  task :ruby do
    sh "rubocop", "--format", "simple"
  end
end
