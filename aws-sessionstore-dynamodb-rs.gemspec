# frozen_string_literal: true

require_relative "lib/aws/session_store/dynamo_db/version"

Gem::Specification.new do |spec|
  spec.name = "aws-sessionstore-dynamodb-rs"
  spec.version = Aws::SessionStore::DynamoDB::VERSION
  spec.summary = "Rack and Rails sessions in Amazon DynamoDB, with a native Rust core"
  spec.description = <<~DESC
    A drop-in replacement for aws-sessionstore-dynamodb (and
    aws-actiondispatch-dynamodb): the same options, constants, generators,
    rake tasks and item format, with DynamoDB I/O, locking and garbage
    collection in Rust with Ruby's GVL released.
  DESC
  spec.authors = ["aws-sessionstore-dynamodb-rs developers"]
  spec.license = "Apache-2.0"
  # The floor only: the source gem compiles for the Ruby it is installed on,
  # so a Ruby released later installs it (doc/install.md). The platform
  # gems state exactly the minors they carry (rakelib/native.rake).
  spec.required_ruby_version = ">= 3.1"

  # Listed explicitly: never build output (target/, *.so) or test data.
  spec.files = Dir[
    "lib/**/*.rb", "lib/**/*.rake", "lib/generators/**/{USAGE,*.rb,*.yml,*.tt,*.erb}",
    "ext/aws_sessionstore_dynamodb_rs/src/**/*.rs",
    "ext/aws_sessionstore_dynamodb_rs/Cargo.toml",
    "ext/aws_sessionstore_dynamodb_rs/extconf.rb",
    "exe/*"
  ] + %w[Cargo.toml Cargo.lock README.md ext/README.md LICENSE CHANGELOG.md].select { |f| File.exist?(File.join(__dir__, f)) }
  spec.bindir = "exe"
  spec.executables = Dir.children(File.join(__dir__, "exe")).sort if Dir.exist?(File.join(__dir__, "exe"))
  spec.require_paths = ["lib"]
  spec.extensions = ["ext/aws_sessionstore_dynamodb_rs/extconf.rb"]

  # Tested in CI on Rack 2.2, 3.1 and 3.2 (CONTRIBUTING.md, the test matrix).
  spec.add_dependency "rack", ">= 2.2", "< 3.3"
  # Rack 3 moved Rack::Session::Abstract::Persisted to rack-session; 1.0.x
  # serves Rack 2, 2.x Rack 3, so Bundler picks the right one (as Rails 7.2
  # declares it).
  spec.add_dependency "rack-session", ">= 1.0.1"
end
