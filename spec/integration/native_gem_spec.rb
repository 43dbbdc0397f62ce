# frozen_string_literal: true

require "spec_helper"
require "open3"
require "tmpdir"
require "rbconfig"
require "rubygems/package"
require_relative "../support/gem_fixtures"

# The precompiled platform gem (`rake native:gem`): built here from the
# checkout's dev build (PROFILE=dev: the same layout as the release gem, in
# seconds), installed with `gem install --local` into an empty GEM_HOME with
# no cargo on PATH, then loaded by a fresh Ruby that talks to DynamoDB Local.
# Every command is this Ruby's (its `gem`, run by RbConfig.ruby; its bindir
# first on PATH), whichever Ruby runs the suite.
RSpec.describe "rake native:gem (the precompiled x86_64-linux gem)" do
  let(:repo) { File.expand_path("../..", __dir__) }
  let(:minor) { RUBY_VERSION[/\A\d+\.\d+/] }
  let(:next_minor) { RUBY_VERSION[/\A\d+/] + ".#{minor.split(".").last.to_i + 1}" }

  it "carries the extension under its Ruby minor, installs without Rust, and loads by Ruby version" do
    Dir.mktmpdir("native-gem") do |dir|
      out, status = Open3.capture2e({ "PROFILE" => "dev", "NATIVE_GEM_DIR" => dir }, "rake", "native:gem",
                                    chdir: repo)
      expect(status).to be_success, out
      gem_file = Dir[File.join(dir, "*.gem")].first
      expect(File.basename(gem_file)).to match(/\Aaws-sessionstore-dynamodb-rs-[\d.]+-x86_64-linux\.gem\z/)

      spec = Gem::Package.new(gem_file).spec
      expect(spec.files).to include("lib/aws_sessionstore_dynamodb_rs/#{minor}/aws_sessionstore_dynamodb_rs.so",
                                    "lib/aws-sessionstore-dynamodb-rs.rb")
      expect(spec.files.grep(/extconf|Cargo|\.rs$|target/)).to be_empty
      expect(spec.extensions).to be_empty
      # Exactly the minor inside: not its previous one, not the next one's
      # development builds or previews.
      expect(spec.required_ruby_version.to_s).to eq(">= #{minor}, < #{next_minor}.dev")

      home = File.join(dir, "home")
      # No cargo anywhere on PATH (rustup's lives in ~/.cargo/bin); this
      # Ruby's bindir first, so its own gem and ruby are the ones found.
      path = [RbConfig::CONFIG["bindir"], "/usr/bin", "/bin"].uniq.join(File::PATH_SEPARATOR)
      env = { "GEM_HOME" => home, "GEM_PATH" => ([home] + Gem.path).join(File::PATH_SEPARATOR), "PATH" => path,
              "RUBYOPT" => nil, "RUBYLIB" => nil, "CARGO" => nil }
      expect(system(env, "sh", "-c", "command -v cargo", out: File::NULL)).to be(false)
      GemFixtures.install_rack_session_stand_in(home)
      out, status = Open3.capture2e(env, RbConfig.ruby, "-S", "gem", "install", "--local", "--no-document", gem_file,
                                    chdir: dir)
      expect(status).to be_success, out
      expect(Dir[File.join(home, "gems", "*", "ext")]).to be_empty

      script = <<~RUBY
        require "aws-sessionstore-dynamodb-rs"
        puts $LOADED_FEATURES.grep(/aws_sessionstore_dynamodb_rs\\.so\\z/)
        client = Aws::SessionStore::DynamoDB::Native::Client.new(
          endpoint: #{DynamoDBLocalHelper.endpoint.inspect}, region: "us-east-1",
          access_key_id: "dummy", secret_access_key: "dummy")
        p client.describe_table("no-such-table-#{SecureRandom.hex(4)}") rescue puts "answer: \#{$!.class}"
        puts "test hook: \#{Aws::SessionStore::DynamoDB::Native.respond_to?(:__panic__)}"
      RUBY
      out, status = Open3.capture2e(env, RbConfig.ruby, "-e", script, chdir: dir)
      expect(status).to be_success, out
      loaded, answer, hook = out.lines.map(&:chomp)
      expect(hook).to eq("test hook: false") # test-only hooks never ship
      expect(loaded).to start_with(home).and end_with("/aws_sessionstore_dynamodb_rs/#{minor}/aws_sessionstore_dynamodb_rs.so")
      expect(answer).to eq("answer: Aws::SessionStore::DynamoDB::Errors::ResourceNotFoundError")

      # Another Ruby minor: a clear error naming what is inside and what to do.
      other = GemFixtures.require_as_ruby("3.9.0")
      out, status = Open3.capture2e(env, RbConfig.ruby, "-W0", "-e", other, chdir: dir)
      expect(status).to be_success, out
      expect(out).to include("carries the native extension for Ruby #{minor}, not Ruby 3.9",
                             "--platform ruby")
    end
  end

  it "declares what Rack 3 users need: rack-session >= 1.0.1 (Rack 2 and 3 alike)" do
    spec = Gem::Specification.load(File.join(repo, "aws-sessionstore-dynamodb-rs.gemspec"))
    deps = spec.runtime_dependencies.to_h { |d| [d.name, d.requirement.to_s] }
    expect(deps).to include("rack" => ">= 2.2, < 3.3", "rack-session" => ">= 1.0.1")
  end

  it "states only the floor in the source gem, so a Ruby released later installs and compiles it" do
    spec = Gem::Specification.load(File.join(repo, "aws-sessionstore-dynamodb-rs.gemspec"))
    expect(spec.required_ruby_version.to_s).to eq(">= 3.1")
    %w[3.1.0 4.0.5 4.1.0.dev 4.1.0 5.0.0].each do |v|
      expect(spec.required_ruby_version.satisfied_by?(Gem::Version.new(v))).to be(true), v
    end
    expect(spec.required_ruby_version.satisfied_by?(Gem::Version.new("3.0.7"))).to be(false)
  end
end
