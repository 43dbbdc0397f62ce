# frozen_string_literal: true

require "spec_helper"
require "open3"
require "tmpdir"
require "rbconfig"
require_relative "../support/gem_fixtures"

# The offline build: `gem build` + `gem install --local` compile the
# extension through extconf.rb (no rb_sys gem), and a fresh Ruby loads the
# installed gem. The install reuses the checkout's cargo target dir with the
# dev profile so it takes seconds; the release path is the same Makefile.
# `gem` is the running Ruby's (any Ruby of script/test); where that Ruby's
# RubyGems has no rack, the Rack the specs loaded is installed with it.
RSpec.describe "gem build and gem install --local" do
  let(:repo) { File.expand_path("../..", __dir__) }

  it "installs offline, compiling the extension, and loads it in a fresh ruby" do
    Dir.mktmpdir("gem-install") do |dir|
      gem_file = File.join(dir, "aws-sessionstore-dynamodb-rs.gem")
      out, status = Open3.capture2e(*GemFixtures.gem_command("build", "aws-sessionstore-dynamodb-rs.gemspec",
                                                             "--output", gem_file), chdir: repo)
      expect(status).to be_success, out

      files, status = Open3.capture2e(*GemFixtures.gem_command("spec", gem_file, "files"))
      expect(status).to be_success, files
      expect(files).to include("ext/aws_sessionstore_dynamodb_rs/extconf.rb", "lib/aws-sessionstore-dynamodb-rs.rb",
                               "Cargo.lock")
      expect(files).not_to match(%r{target/|\.so\b|spec/})

      home = File.join(dir, "home")
      env = {
        "GEM_HOME" => home, "GEM_PATH" => ([home] + Gem.path).join(File::PATH_SEPARATOR),
        "AWS_SESSIONSTORE_CARGO_PROFILE" => "dev",
        # This Ruby's target dir (script/test gives each Ruby its own).
        "AWS_SESSIONSTORE_CARGO_TARGET_DIR" => File.expand_path(ENV.fetch("CARGO_TARGET_DIR", "target"), repo),
        "RUBYOPT" => nil, "RUBYLIB" => nil
      }
      GemFixtures.install_rack_session_stand_in(home)
      GemFixtures.install_loaded_rack(home, Gem::Specification.load(File.join(repo, "aws-sessionstore-dynamodb-rs.gemspec")))
      out, status = Open3.capture2e(env, *GemFixtures.gem_command("install", "--local", "--no-document", gem_file),
                                    chdir: dir)
      expect(status).to be_success, out

      script = 'require "aws-sessionstore-dynamodb-rs"; ' \
               'puts $LOADED_FEATURES.grep(/aws_sessionstore_dynamodb_rs\.so\z/); ' \
               "puts Aws::SessionStore::DynamoDB::Native::Client.name"
      out, status = Open3.capture2e(env, RbConfig.ruby, "-e", script, chdir: dir)
      expect(status).to be_success, out
      loaded, name = out.lines.map(&:chomp)
      expect(loaded).to start_with(home)
      expect(name).to eq("Aws::SessionStore::DynamoDB::Native::Client")
    end
  end
end
