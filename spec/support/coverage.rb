# frozen_string_literal: true

# Line coverage of lib/ (COVERAGE=1 rspec spec/unit, or rake spec:coverage).
# spec_helper requires this before the gem loads, only when COVERAGE is
# set; without SimpleCov (Debian: ruby-simplecov) the run goes on uncovered.
# Every file under lib/ counts, loaded or not; the summary goes to stdout
# (total, the files no line of which ran, the least covered of the rest); tmp/coverage keeps SimpleCov's
# result set, no HTML.
begin
  require "simplecov"
rescue LoadError
  warn "COVERAGE is set but simplecov is not installed (Debian: ruby-simplecov): no coverage figure"
  return
end

module LibCoverage
  ROOT = File.expand_path("../..", __dir__)
  LIB = "#{ROOT}/lib/".freeze
  LOWEST = 8

  # Prints the figure instead of writing an HTML report.
  class Formatter
    def format(result)
      files = result.files.sort_by { |file| [file.covered_percent, file.filename] }
      unrun, run = files.partition { |file| file.covered_lines.empty? }
      puts format_line("lib/ line coverage", result.covered_percent, result.covered_lines, result.total_lines)
      puts "not run at all: #{unrun.map { |file| relative(file) }.join(", ")}" unless unrun.empty?
      puts "least covered:"
      run.first(LOWEST).each do |file|
        puts format_line("  #{relative(file)}", file.covered_percent, file.covered_lines.size,
                         file.covered_lines.size + file.missed_lines.size)
      end
    end

    private

    def relative(file)
      file.filename.delete_prefix(LIB)
    end

    def format_line(label, percent, covered, total)
      Kernel.format("%-64<l>s %6.2<p>f%% (%<c>d of %<t>d lines)", l: label, p: percent, c: covered, t: total)
    end
  end
end

SimpleCov.root(LibCoverage::ROOT)
SimpleCov.coverage_dir("tmp/coverage")
SimpleCov.formatter = LibCoverage::Formatter
SimpleCov.print_error_status = false
SimpleCov.start do
  enable_coverage :line
  track_files "lib/**/*.rb"
  add_filter { |source| !source.filename.start_with?(LibCoverage::LIB) }
end
