# frozen_string_literal: true

# The precompiled platform gems (rake-compiler's convention: `native:gem`):
# release extensions placed under a Ruby-minor folder
# (lib/aws_sessionstore_dynamodb_rs/3.1/), in a gem per platform that
# installs without Rust, on exactly the Ruby minors it carries
# (required_ruby_version, NativeGem.ruby_requirement). The source gem
# (`gem build`) stays as it is and compiles on install.
#
#   rake native:gems                # every platform gem (script/matrix/native-gems build):
#                                   #   pkg/aws-sessionstore-dynamodb-rs-VERSION-x86_64-linux.gem (Ruby 3.1, 3.2, 3.3, 3.4, 4.0)
#                                   #   pkg/aws-sessionstore-dynamodb-rs-VERSION-aarch64-linux.gem (Ruby 3.3)
#   rake native:gem                 # this Ruby only, x86_64-linux (quick; what native_gem_spec.rb checks)
#   PROFILE=dev rake native:gem     # same layout from the dev build (seconds)
#   NATIVE_GEM_DIR=DIR              # where the gems go (default pkg/)
#   rake native:package NATIVE_BUILDS=DIR   # one gem per DIR/<platform>/, with DIR/<platform>/<minor>/<crate>.so
#                                   #   (script/matrix/native-gems stages its builds so; NATIVE_PACKAGE_PLATFORMS
#                                   #   limits it to some platforms)

require "fileutils"
require "rbconfig"
require "rubygems/package"

# Packs built extensions into a platform gem.
module NativeGem
  module_function

  # Builds the gem for `platform` carrying `builds` ({ "3.1" => "path/to/lib.so" }); returns its path.
  def build(platform, builds, out_dir)
    spec = Gem::Specification.load("aws-sessionstore-dynamodb-rs.gemspec")
    stage = File.expand_path("tmp/native-gem-#{platform}-#{Process.pid}")
    FileUtils.rm_rf stage
    lib_files = spec.files.select { |f| f.start_with?("lib/") || f.start_with?("exe/") } +
                %w[README.md CHANGELOG.md].select { |f| File.exist?(f) }
    lib_files.each do |file|
      FileUtils.mkdir_p File.join(stage, File.dirname(file))
      FileUtils.cp file, File.join(stage, file)
    end
    sos = builds.sort.map do |minor, built|
      so = "lib/#{CRATE}/#{minor}/#{CRATE}.so"
      FileUtils.mkdir_p File.join(stage, File.dirname(so))
      FileUtils.cp built, File.join(stage, so)
      so
    end
    spec.platform = Gem::Platform.new(platform)
    spec.extensions = []
    spec.files = lib_files + sos
    spec.required_ruby_version = ruby_requirement(builds.keys)
    FileUtils.mkdir_p out_dir
    Dir.chdir(stage) do
      file = Gem::Package.build(spec)
      FileUtils.mv file, File.join(out_dir, File.basename(file))
      File.join(out_dir, File.basename(file))
    end
  ensure
    FileUtils.rm_rf stage if stage
  end

  # The Ruby minors in release order: a platform gem's range must have a
  # build for each one inside it.
  RUBY_MINORS = %w[3.0 3.1 3.2 3.3 3.4 4.0 4.1 4.2].freeze

  # Exactly the minors inside, as RubyGems can say it: from the oldest
  # (">= 3.1": no 3.1 preview) to before the next minor's first development
  # build ("< 4.1.dev": 4.1.0dev and 4.1 previews are prereleases, above
  # "4.1.dev" and below "4.1"), so a Ruby without a build gets the source
  # gem. RubyGems can't say "3.1 or 3.3", so a hole in the range is refused.
  def ruby_requirement(minors)
    sorted = minors.sort_by { |m| Gem::Version.new(m) }
    unknown = sorted - RUBY_MINORS
    raise ArgumentError, "unknown Ruby minor #{unknown.join(", ")} (NativeGem::RUBY_MINORS)" unless unknown.empty?

    inside = RUBY_MINORS[RUBY_MINORS.index(sorted.first)..RUBY_MINORS.index(sorted.last)]
    missing = inside - sorted
    unless missing.empty?
      raise ArgumentError, "no build for Ruby #{missing.join(", ")} between #{sorted.first} and #{sorted.last}: " \
                           "the gem would install there and not load"
    end

    major, minor = sorted.last.split(".").map(&:to_i)
    [">= #{sorted.first}", "< #{major}.#{minor + 1}.dev"]
  end
end

namespace :native do
  desc "Build the precompiled x86_64-linux gem for this Ruby only (PROFILE=release|dev, NATIVE_GEM_DIR=pkg)"
  task :gem do
    profile = ENV.fetch("PROFILE", "release")
    sh "cargo", "build", "--lib", "--profile", profile, "-p", CRATE
    target = ENV.fetch("CARGO_TARGET_DIR", "target")
    built = cargo_library(File.join(target, profile == "dev" ? "debug" : profile))
    minor = RUBY_VERSION[/\A\d+\.\d+/]
    puts NativeGem.build("x86_64-linux", { minor => built }, File.expand_path(ENV.fetch("NATIVE_GEM_DIR", "pkg")))
  end

  desc "Build every platform gem: x86_64-linux (Ruby 3.1 to 4.0) and aarch64-linux (Ruby 3.3) " \
       "(script/matrix/native-gems build; root for the Debian folders)"
  task :gems do
    sh "script/matrix/native-gems", "build"
  end

  desc "Package staged builds: NATIVE_BUILDS=DIR holding DIR/<platform>/<minor>/#{CRATE}.so (NATIVE_GEM_DIR=pkg)"
  task :package do
    root = ENV.fetch("NATIVE_BUILDS") { abort "rake native:package: NATIVE_BUILDS is not set" }
    out_dir = File.expand_path(ENV.fetch("NATIVE_GEM_DIR", "pkg"))
    platforms = Dir.children(root).select { |p| File.directory?(File.join(root, p)) }.sort
    platforms &= ENV["NATIVE_PACKAGE_PLATFORMS"].split if ENV["NATIVE_PACKAGE_PLATFORMS"]
    abort "rake native:package: nothing staged in #{root}" if platforms.empty?
    platforms.each do |platform|
      builds = Dir[File.join(root, platform, "*", "#{CRATE}.so")].to_h { |so| [File.basename(File.dirname(so)), so] }
      abort "rake native:package: no builds in #{File.join(root, platform)}" if builds.empty?
      puts NativeGem.build(platform, builds, out_dir)
    end
  end
end
