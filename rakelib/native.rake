# frozen_string_literal: true

# The precompiled platform gem (rake-compiler's convention: `native:gem`):
# the release extension built here, placed under a Ruby-minor folder
# (lib/aws_sessionstore_dynamodb_rs/3.1/), in a gem for this platform that
# installs without Rust. The source gem (`gem build`) stays as it is and
# compiles on install.
#
#   rake native:gem                 # pkg/aws-sessionstore-dynamodb-rs-VERSION-x86_64-linux.gem
#   PROFILE=dev rake native:gem     # same layout from the dev build (what the spec uses: seconds)
#   NATIVE_GEM_DIR=DIR              # where the gem goes (default pkg/)

require "fileutils"
require "rbconfig"
require "rubygems/package"

namespace :native do
  desc "Build the precompiled x86_64-linux gem for this Ruby (PROFILE=release|dev, NATIVE_GEM_DIR=pkg)"
  task :gem do
    profile = ENV.fetch("PROFILE", "release")
    sh "cargo", "build", "--lib", "--profile", profile, "-p", CRATE
    target = ENV.fetch("CARGO_TARGET_DIR", "target")
    dlext = RbConfig::CONFIG["DLEXT"]
    built = cargo_library(File.join(target, profile == "dev" ? "debug" : profile))
    minor = RUBY_VERSION[/\A\d+\.\d+/]
    spec = Gem::Specification.load("aws-sessionstore-dynamodb-rs.gemspec")
    stage = File.expand_path("tmp/native-gem-#{Process.pid}")
    out_dir = File.expand_path(ENV.fetch("NATIVE_GEM_DIR", "pkg"))
    rm_rf stage
    begin
      lib_files = spec.files.select { |f| f.start_with?("lib/") || f.start_with?("exe/") } +
                  %w[README.md CHANGELOG.md].select { |f| File.exist?(f) }
      lib_files.each do |file|
        mkdir_p File.join(stage, File.dirname(file)), verbose: false
        cp file, File.join(stage, file), verbose: false
      end
      so = "lib/#{CRATE}/#{minor}/#{CRATE}.#{dlext}"
      mkdir_p File.join(stage, File.dirname(so)), verbose: false
      cp built, File.join(stage, so)
      spec.platform = Gem::Platform.new("x86_64-linux")
      spec.extensions = []
      spec.files = lib_files + [so]
      # Only this Ruby's minor is inside.
      spec.required_ruby_version = "~> #{minor}.0"
      mkdir_p out_dir
      Dir.chdir(stage) do
        file = Gem::Package.build(spec)
        mv file, File.join(out_dir, File.basename(file))
        puts File.join(out_dir, File.basename(file))
      end
    ensure
      rm_rf stage, verbose: false
    end
  end
end
