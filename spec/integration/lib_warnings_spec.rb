# frozen_string_literal: true

# Warnings are failures (spec/support/lib_warnings.rb): an RSpec run of a
# probe file, with -W:deprecated as script/test runs the Ruby 4.0 stacks.
# A deprecation warning located in lib/ fails the example it came in, and
# one raised while the files load fails the run; the same warning located
# outside lib/ changes nothing. The code is evaluated under a lib/ file
# name, the location Ruby gives a warning.

require "spec_helper"
require "open3"
require "rbconfig"
require "tmpdir"

RSpec.describe "Ruby warnings located in lib/" do
  let(:repo) { File.expand_path("../..", __dir__) }
  # A non-nil $; is deprecated on every Ruby the gem supports (3.1 to 4.1),
  # warned only with the deprecated category on.
  let(:deprecated) { '$; = ","; $; = nil' }
  let(:in_lib) { File.join(LibWarnings::LIB, "aws/session_store/dynamo_db/probe.rb") }
  let(:in_spec) { File.join(repo, "spec/probe.rb") }

  def probe(dir)
    path = File.join(dir, "probe_spec.rb")
    File.write(path, <<~RUBY)
      eval(#{deprecated.dump}, binding, #{in_lib.dump}, 7) # while the files load
      RSpec.describe "probe" do
        it("warns from lib/") { eval(#{deprecated.dump}, binding, #{in_lib.dump}, 12) }
        it("warns from elsewhere") { eval(#{deprecated.dump}, binding, #{in_spec.dump}, 3) }
      end
    RUBY
    path
  end

  it "fails the example that warned from lib/ and the run that did while loading, not the rest" do
    Dir.mktmpdir("lib-warnings") do |dir|
      runner = 'require "rspec/core"; exit RSpec::Core::Runner.run(ARGV)'
      out, status = Open3.capture2e(RbConfig.ruby, "-W:deprecated", "-e", runner, "--",
                                    "--no-color", "--order", "defined", probe(dir), chdir: repo)
      expect(status.exitstatus).to eq(1), out
      expect(out).to include("2 examples, 1 failure, 1 error occurred outside of examples")
      expect(out).to match(%r{1\) probe warns from lib/\n.*1 Ruby warning\(s\) located in lib/ during this example}m)
      expect(out).to include("#{in_lib}:12: warning:", "while the spec files loaded", "#{in_lib}:7: warning:")
      # The other warning happened (Ruby printed it) and failed nothing.
      expect(out).to include("#{in_spec}:3: warning:")
      expect(out).not_to match(/\d\) probe warns from elsewhere/)
    end
  end
end
