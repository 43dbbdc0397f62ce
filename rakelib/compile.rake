# frozen_string_literal: true

# Development build: cargo's dev profile, incremental, copied in place so
# `ruby -Ilib` finds it. `rake compile PROFILE=release` for an optimised one.
# In place means lib/aws_sessionstore_dynamodb_rs/<ruby minor>/, the
# precompiled gem's layout, which the loader tries first: builds for several
# Rubies (script/test runs 3.1, 3.3 and 3.4) live side by side. Their cargo
# outputs must not share a target dir either (rb-sys and magnus are bound to
# one Ruby): script/test gives each Ruby but the host's its own
# CARGO_TARGET_DIR.
CRATE = "aws_sessionstore_dynamodb_rs"
RUBY_MINOR = RUBY_VERSION[/\A\d+\.\d+/]
NATIVE_SO = "lib/#{CRATE}/#{RUBY_MINOR}/#{CRATE}.#{RbConfig::CONFIG["DLEXT"]}".freeze
# Where builds went before they were per Ruby (the loader's fallback).
LEGACY_NATIVE_SO = "lib/#{CRATE}/#{CRATE}.#{RbConfig::CONFIG["DLEXT"]}".freeze

# What cargo names the library on this OS (libX.so, libX.dylib, X.dll).
def cargo_library(dir)
  candidates = %W[lib#{CRATE}.so lib#{CRATE}.dylib #{CRATE}.dll].map { |name| File.join(dir, name) }
  candidates.max_by { |path| File.exist?(path) ? File.mtime(path) : Time.at(0) }
end

desc "Build the native extension in place (PROFILE=dev|release, default dev; dev adds the test-hooks feature)"
task :compile do
  profile = ENV.fetch("PROFILE", "dev")
  features = ENV.fetch("CARGO_FEATURES", profile == "dev" ? "test-hooks" : "")
  args = ["cargo", "build", "--lib", "--profile", profile, "-p", CRATE]
  args += ["--features", features] unless features.empty?
  sh(*args)
  out_dir = profile == "dev" ? "debug" : profile
  target = ENV.fetch("CARGO_TARGET_DIR", "target")
  mkdir_p File.dirname(NATIVE_SO)
  # Copy to a temp name then rename, so a running process keeps its mapping.
  # (a per-process name: two builds at once must not share it)
  tmp = "#{NATIVE_SO}.#{Process.pid}.tmp"
  cp cargo_library("#{target}/#{out_dir}"), tmp
  mv tmp, NATIVE_SO
end

namespace :compile do
  desc "Build the native extension in place with the release profile"
  task :release do
    ENV["PROFILE"] = "release"
    Rake::Task[:compile].invoke
  end
end

desc "Remove the in-place native extension (this Ruby's, and an older unversioned one)"
task :clean do
  rm_f [NATIVE_SO, LEGACY_NATIVE_SO]
end
