# frozen_string_literal: true

require "fileutils"
require "rubygems"

# Gem install specs run offline, and RubyGems is not reachable here, so the
# one dependency Debian does not package, rack-session, is stood in for by
# an empty installed gem. On Rack 2.2 (Debian's) the store loads
# Rack::Session::Abstract::Persisted from rack itself, as rack-session 1.0.x
# would have it; the stand-in only satisfies RubyGems' dependency check and
# activation.
module GemFixtures
  module_function

  # A Ruby script that requires the gem posing as Ruby `version` and prints
  # the LoadError's message (a platform gem with no build for that Ruby).
  def require_as_ruby(version)
    <<~RUBY
      Object.send(:remove_const, :RUBY_VERSION)
      RUBY_VERSION = "#{version}"
      begin
        require "aws-sessionstore-dynamodb-rs"
      rescue LoadError => e
        puts e.message
      end
    RUBY
  end

  def install_rack_session_stand_in(gem_home)
    spec = Gem::Specification.new do |s|
      s.name = "rack-session"
      s.version = "1.0.2"
      s.summary = "Spec stand-in: rack-session cannot be fetched here"
      s.authors = ["spec"]
      s.files = []
      s.require_paths = ["lib"]
    end
    FileUtils.mkdir_p(File.join(gem_home, "gems", spec.full_name, "lib"))
    FileUtils.mkdir_p(File.join(gem_home, "specifications"))
    File.write(File.join(gem_home, "specifications", "#{spec.full_name}.gemspec"), spec.to_ruby)
  end
end
