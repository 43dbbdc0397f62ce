# frozen_string_literal: true

require "fileutils"
require "rbconfig"
require "rubygems"

# Gem install specs run offline, and RubyGems is not reachable here, so the
# one dependency Debian does not package, rack-session, is stood in for by
# an empty installed gem. On Rack 2.2 (Debian's) the store loads
# Rack::Session::Abstract::Persisted from rack itself, as rack-session 1.0.x
# would have it; the stand-in only satisfies RubyGems' dependency check and
# activation. On a Ruby whose RubyGems has no rack at all (Rack on RUBYLIB),
# the Rack this process loaded is installed as a gem instead.
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
    install_gem(gem_home, "rack-session", "1.0.2", "Spec stand-in: rack-session cannot be fetched here")
  end

  # The `gem` command of the Ruby running the specs, whatever `gem` comes
  # first on PATH (Debian's is for its own Ruby only).
  def gem_command(*args)
    [RbConfig.ruby, "-rrubygems/gem_runner", "-e", "Gem::GemRunner.new.run(ARGV.clone)", "--", *args]
  end

  # Rack, and on Rack 3 rack-session, as this process loaded them, installed
  # into gem_home for a Ruby whose RubyGems has no installed copy that
  # satisfies `gemspec` (a Ruby that takes Rack from RUBYLIB, which
  # `gem install` and a fresh `ruby` with RUBYLIB cleared never see): their
  # lib/ folders copied as gems. @return [Array<String>] the names installed.
  def install_loaded_rack(gem_home, gemspec)
    loaded = { "rack" => [Rack.release, "rack.rb"] }
    loaded["rack-session"] = [Rack::Session::VERSION, "rack/session/version.rb"] if defined?(Rack::Session::VERSION)
    gemspec.runtime_dependencies.filter_map do |dep|
      version, feature = loaded[dep.name]
      next unless version && dep.matching_specs.empty?

      file = $LOADED_FEATURES.find { |f| f.end_with?("/#{feature}") } or next
      install_gem(gem_home, dep.name, version, "Spec copy of the loaded #{dep.name}",
                  lib: file.delete_suffix("/#{feature}"))
      dep.name
    end
  end

  # An installed gem in gem_home: its specification, and lib/ (a copy of
  # `lib`, or empty).
  def install_gem(gem_home, name, version, summary, lib: nil)
    spec = Gem::Specification.new do |s|
      s.name = name
      s.version = version
      s.summary = summary
      s.authors = ["spec"]
      s.files = []
      s.require_paths = ["lib"]
    end
    dir = File.join(gem_home, "gems", spec.full_name)
    FileUtils.mkdir_p(dir)
    lib ? FileUtils.cp_r(lib, File.join(dir, "lib")) : FileUtils.mkdir_p(File.join(dir, "lib"))
    FileUtils.mkdir_p(File.join(gem_home, "specifications"))
    File.write(File.join(gem_home, "specifications", "#{spec.full_name}.gemspec"), spec.to_ruby)
  end
end
