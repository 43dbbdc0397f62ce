# frozen_string_literal: true

# `rake bench`: the performance and cost report (bench/report.rb) against an
# optimised build. Installs what the benches need (script/bench-setup), builds
# the extension with the release profile, then starts its own DynamoDB Local
# and redis-server on loopback, runs every bench and stops them. The report
# is printed and written to tmp/bench/report.md.
#
# BENCH_GC_ITEMS=100000 for the full garbage collection figure (default
# 20000); BENCH_REQUESTS (default 2000) and BENCH_SECONDS (wrk, default 10).
# The side-by-side section runs this Ruby (and + YJIT), Ruby 3.3 and 3.4 in
# their Debian folders and Ruby 4.0 (and 4.0 + YJIT) from its kit, each
# store in a process of its own (BENCH_RUBIES, BENCH_RUBY_ROUNDS);
# BENCH_SECTIONS="every Ruby" runs that section alone (bench/report.rb).
desc "Performance and cost report (release build, own DynamoDB Local and redis-server; tmp/bench/report.md)"
task :bench do
  cargo_bin = File.join(Dir.home, ".cargo", "bin")
  ENV["PATH"] = "#{cargo_bin}:#{ENV.fetch("PATH", "")}" if File.directory?(cargo_bin)
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  sh "script/bench-setup"
  # Quiet file operations: stdout carries the report only.
  verbose(false) { Rake::Task["compile:release"].invoke }
  ENV["BENCH_COMPILE_SECONDS"] = format("%.0f", Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
  ruby "bench/report.rb"
end
