# frozen_string_literal: true

# An empty rack-session 1.0.2 for offline Debian 12 machines (see ../../../Gemfile):
# on Rack 2 the session code is Rack's own, which is all rack-session 1.0.x
# stands for. Never used on Rack 3 (the Gemfile picks the real gem there).
Gem::Specification.new do |s|
  s.name = "rack-session"
  s.version = "1.0.2"
  s.summary = "Offline stand-in for rack-session 1.0.x on Rack 2 (Debian 12 packages none)"
  s.authors = ["aws-sessionstore-dynamodb-rs developers"]
  s.license = "MIT"
  s.files = []
  s.require_paths = ["lib"]
  s.required_ruby_version = ">= 3.1"
  s.add_dependency "rack", "< 3"
end
