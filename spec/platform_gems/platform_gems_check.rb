# frozen_string_literal: true

require "spec_helper"
require "open3"
require "tmpdir"
require "rubygems/package"
require_relative "../support/gem_fixtures"

# The install proof of the platform gems that `script/matrix/native-gems test`
# builds (it runs this file; the name keeps it out of a plain `rspec` run,
# which has no gems to check): each gem is installed with `gem install
# --local` into an empty GEM_HOME, by a Ruby with no cargo on PATH, and
# serves sessions through the middleware, with locking, against DynamoDB
# Local (spec/platform_gems/serve_sessions.rb):
# - x86_64-linux on Ruby 3.1 (this host), 3.2 and 4.0 (the relocatable
#   Rubies script/matrix/kit-ruby unpacks), 3.3 (script/matrix/debian-ruby's trixie
#   folder) and 3.4 (its sid folder);
# - aarch64-linux on Ruby 3.3, in an arm64 Debian 13 folder under
#   qemu-aarch64-static (script/matrix/native-gems arm64-ruby).
# Every extension inside must need glibc 2.34 or older (Amazon Linux 2023)
# and be stripped. The install rules are read from the gems themselves: each
# platform gem's required_ruby_version admits exactly the Ruby minors whose
# extension it carries, and the source gem states only the floor.
RSpec.describe "the platform gems (script/matrix/native-gems test)" do
  repo = File.expand_path("../..", __dir__)
  gem_dir = ENV.fetch("NATIVE_GEMS_DIR") { raise "NATIVE_GEMS_DIR is not set: run script/matrix/native-gems test" }
  floor_max = Gem::Version.new(ENV.fetch("NATIVE_GLIBC_FLOOR", "2.34"))
  platforms = ENV.fetch("NATIVE_PLATFORMS", "x86_64-linux aarch64-linux").split
  rubies = { "x86_64-linux" => ENV.fetch("NATIVE_RUBIES_X86_64", "3.1 3.2 3.3 3.4 4.0").split,
             "aarch64-linux" => %w[3.3] }
  # Ruby releases a requirement is read against: every minor's first and a
  # late patch release, before, inside and after what the gems carry.
  releases = %w[2.7 3.0 3.1 3.2 3.3 3.4 4.0 4.1 4.2 5.0].flat_map { |m| ["#{m}.0", "#{m}.99"] }
  minor_of = ->(version) { version[/\A\d+\.\d+/] }
  crate = "aws_sessionstore_dynamodb_rs"
  clean_env = { "RUBYOPT" => nil, "RUBYLIB" => nil, "CARGO" => nil, "GEM_PATH" => nil }

  def self.gem_file(gem_dir, platform)
    files = Dir[File.join(gem_dir, "aws-sessionstore-dynamodb-rs-*-#{platform}.gem")]
    raise "expected one #{platform} gem in #{gem_dir}, found #{files.inspect}" unless files.size == 1

    files.first
  end

  def glibc_floor(so)
    out, status = Open3.capture2e("readelf", "-V", "-W", so)
    raise out unless status.success?

    out.scan(/GLIBC_(\d[\d.]*)/).flatten.map { |v| Gem::Version.new(v) }.max
  end

  # Runs the gem install and serve_sessions.rb on `minor` of `platform`
  # with GEM_HOME `home`; returns { "name" => "value" } from its output.
  def install_and_serve(platform, minor, gem, home)
    serve = "spec/platform_gems/serve_sessions.rb"
    out = if platform == "aarch64-linux"
            env = { "GEM_HOME" => home }
            run(env, "script/matrix/native-gems", "arm64-ruby", "/usr/bin/gem3.3", "install", "--local", "--no-document", gem)
            run(env, "script/matrix/native-gems", "arm64-ruby", serve)
          elsif minor == RUBY_VERSION[/\A\d+\.\d+/]
            # Debian 12's Rack 2.2 has no rack-session gem: an empty stand-in.
            GemFixtures.install_rack_session_stand_in(home)
            env = { "GEM_HOME" => home, "GEM_PATH" => ([home] + Gem.path).join(File::PATH_SEPARATOR),
                    "PATH" => "/usr/local/bin:/usr/bin:/bin" }
            run(env, "gem", "install", "--local", "--no-document", gem)
            run(env, RbConfig.ruby, serve)
          elsif %w[3.2 4.0].include?(minor)
            # A relocatable Ruby: its own gem and ruby, its installed Rack 3.2.
            kit = run({}, "script/matrix/kit-ruby", "ensure", minor).strip
            env = { "GEM_HOME" => home, "PATH" => "#{kit}/bin:/usr/bin:/bin" }
            run(env, "#{kit}/bin/gem", "install", "--local", "--no-document", gem)
            run(env, "#{kit}/bin/ruby", serve)
          else
            folder = { "3.3" => "trixie", "3.4" => "sid" }.fetch(minor)
            inside = ["/usr/bin/env", "PATH=/usr/bin:/bin", "GEM_HOME=#{home}"]
            run({}, "script/matrix/debian-ruby", "run", folder, "--", *inside, "gem", "install", "--local", "--no-document", gem)
            run({}, "script/matrix/debian-ruby", "run", folder, "--", *inside, "ruby", serve)
          end
    out.lines.filter_map { |l| l.chomp.split(": ", 2) if l.include?(": ") }.to_h
  end

  define_method(:run) do |env, *cmd|
    out, status = Open3.capture2e(clean_env.merge(env), *cmd, chdir: repo)
    expect(status).to be_success, "#{cmd.join(" ")}:\n#{out}"
    out
  end

  platforms.each do |platform|
    describe platform do
      let(:gem) { self.class.gem_file(gem_dir, platform) }

      it "carries the extension for Ruby #{rubies.fetch(platform).join(", ")}, stripped (release), " \
         "each needing glibc #{floor_max} at most" do
        Dir.mktmpdir("platform-gem") do |dir|
          package = Gem::Package.new(gem)
          expect(package.spec.platform.to_s).to eq(platform)
          expect(package.spec.extensions).to be_empty
          package.extract_files(dir)
          sos = Dir[File.join(dir, "lib", crate, "*", "#{crate}.so")].sort
          expect(sos.map { |f| File.basename(File.dirname(f)) }).to eq(rubies.fetch(platform).sort)
          floors = sos.to_h { |so| [so.delete_prefix("#{dir}/"), glibc_floor(so)] }
          puts "  #{File.basename(gem)}: #{File.size(gem)} bytes; " +
               floors.map { |f, v| "#{f.split("/")[-2]}: glibc #{v}" }.join(", ")
          expect(floors.select { |_, v| v > floor_max }).to be_empty,
                                                            "above glibc #{floor_max} (Amazon Linux 2023): #{floors}"
          # Release builds are stripped (Cargo.toml: profile.release strip = true).
          unless ENV["PROFILE"] == "dev"
            sos.each do |so|
              sections, = Open3.capture2e("readelf", "-S", "-W", so)
              expect(sections).not_to include(".symtab"), "#{so} is not stripped"
            end
          end
        end
      end

      it "states exactly the Ruby minors it carries (required_ruby_version), with no minor left out inside" do
        spec = Gem::Package.new(gem).spec
        inside = spec.files.filter_map { |f| f[%r{\Alib/#{crate}/(\d+\.\d+)/#{crate}\.so\z}, 1] }
        expect(inside.sort).to eq(rubies.fetch(platform).sort)
        # A release (x.y.0, x.y.99) installs exactly where a build is inside.
        requirement = spec.required_ruby_version
        admitted = releases.select { |v| requirement.satisfied_by?(Gem::Version.new(v)) }
        expect(admitted.map(&minor_of).uniq).to eq(inside.sort_by { |m| Gem::Version.new(m) }), requirement.to_s
        # The next minor's development builds and previews (4.1.0dev, as the
        # 4.1 kit reports itself) get the source gem: their ABI is not ours.
        major, last = inside.max_by { |m| Gem::Version.new(m) }.split(".").map(&:to_i)
        %W[#{major}.#{last + 1}.0.dev #{major}.#{last + 1}.0.preview1 #{major + 1}.0.0.dev].each do |v|
          expect(requirement.satisfied_by?(Gem::Version.new(v))).to be(false), "#{requirement} admits #{v}"
        end
      end

      rubies.fetch(platform).each do |minor|
        it "installs on Ruby #{minor} into an empty GEM_HOME with no cargo and serves sessions, locked" do
          Dir.mktmpdir("platform-gem-#{minor}-", File.join(repo, "tmp")) do |home|
            seen = install_and_serve(platform, minor, gem, home)
            arch = platform.split("-").first
            expect(seen["ruby"]).to start_with("#{minor}.").and include(arch)
            expect(seen["cargo on PATH"]).to eq("false")
            expect(seen["gem"]).to eq(File.basename(gem, ".gem"))
            expect(seen["loaded"]).to start_with(home).and end_with("/#{crate}/#{minor}/#{crate}.so")
            expect(seen["first"]).to start_with("1 z\u00fcrich")
            expect(seen["read back"]).to start_with("2 z\u00fcrich").and include(arch)
            expect(seen["lock held in request"]).to eq("true")
            expect(seen["lock released"]).to eq("true")
            expect(seen["done"]).to eq("ok")
          end
        end
      end
    end
  end

  it "leaves the source gem with only the floor it needs, so a Ruby released later installs and compiles it" do
    Dir.mktmpdir("source-gem") do |dir|
      file = File.join(dir, "source.gem")
      run({}, "gem", "build", "aws-sessionstore-dynamodb-rs.gemspec", "--output", file)
      spec = Gem::Package.new(file).spec
      expect(spec.platform.to_s).to eq("ruby")
      expect(spec.extensions).to eq(["ext/#{crate}/extconf.rb"])
      expect(spec.required_ruby_version.to_s).to eq(">= 3.1")
      admitted = (releases + %w[4.1.0.dev 4.1.0.preview1]).select do |v|
        spec.required_ruby_version.satisfied_by?(Gem::Version.new(v))
      end
      expect(admitted).to eq((releases + %w[4.1.0.dev 4.1.0.preview1]).reject { |v| v.start_with?("2.", "3.0") })
    end
  end

  if platforms.include?("x86_64-linux")
    it "is refused by RubyGems on a Ruby with no build inside (4.1.0dev), which gets the source gem" do
      kit = run({}, "script/matrix/kit-ruby", "ensure", "4.1-dev").strip
      Dir.mktmpdir("platform-gem-4.1-", File.join(repo, "tmp")) do |home|
        env = { "GEM_HOME" => home, "PATH" => "#{kit}/bin:/usr/bin:/bin" }
        out, status = Open3.capture2e(clean_env.merge(env), "#{kit}/bin/gem", "install", "--local", "--no-document",
                                      "--ignore-dependencies", self.class.gem_file(gem_dir, "x86_64-linux"), chdir: repo)
        expect(status).not_to be_success
        expect(out).to include("requires Ruby version >= 3.1, < 4.1.dev", "4.1.0.dev")
        expect(Dir[File.join(home, "gems", "*")]).to be_empty
      end
    end

    it "names the source gem in its LoadError if loaded by a Ruby with no build inside anyway" do
      Dir.mktmpdir("platform-gem-none-", File.join(repo, "tmp")) do |home|
        GemFixtures.install_rack_session_stand_in(home)
        env = { "GEM_HOME" => home, "GEM_PATH" => ([home] + Gem.path).join(File::PATH_SEPARATOR) }
        run(env, "gem", "install", "--local", "--no-document", self.class.gem_file(gem_dir, "x86_64-linux"))
        script = GemFixtures.require_as_ruby("4.1.0")
        out = run(env, RbConfig.ruby, "-W0", "-e", script)
        expect(out).to include("carries the native extension for Ruby #{rubies.fetch("x86_64-linux").join(", ")}, " \
                               "not Ruby 4.1", "--platform ruby")
      end
    end
  end
end
