# frozen_string_literal: true

# The extension against the C API of the Ruby running it: every Ruby symbol
# it leaves to the loader is one this Ruby's libruby defines (a symbol a
# newer Ruby removed would otherwise fail at its first call, not at load),
# and it calls none of the untyped Data API that Ruby 4.1 removes (it wraps
# its objects with TypedData only, through magnus). Read from the ELF
# dynamic symbol tables with binutils' nm, which the native build needs.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "open3"
require "rbconfig"

RSpec.describe "The extension's use of Ruby's C API" do
  # Ruby 3.x declares these; Ruby 4.1 removed them (with Data_Wrap_Struct,
  # Data_Make_Struct and Data_Get_Struct, macros over them).
  untyped_data_api = %w[rb_data_object_wrap rb_data_object_zalloc rb_data_object_alloc rb_data_object_make]

  let(:extension) { $LOADED_FEATURES.find { |f| f.end_with?("/aws_sessionstore_dynamodb_rs.#{RbConfig::CONFIG["DLEXT"]}") } }
  # The libruby this process runs on, as mapped (Debian's lives in a
  # multiarch folder RbConfig does not name); a static Ruby exports its API
  # from the executable.
  let(:libruby) do
    maps = File.readlines("/proc/self/maps").map { |line| line.split.last.to_s }
    maps.find { |path| File.basename(path).match?(/\Alibruby.*\.so/) } || RbConfig.ruby
  end

  # Dynamic symbol names of `path` (nm -D with `flags`).
  def symbols(path, *flags)
    out, status = Open3.capture2e("nm", "-D", *flags, path)
    raise "nm -D #{flags.join(" ")} #{path} failed:\n#{out}" unless status.success?

    out.lines.map(&:chomp).filter_map { |line| line.split.last if line.match?(/\s[A-Za-z]\s\S+\z/) }
  end

  it "needs only Ruby symbols this Ruby's libruby defines, and none of the untyped Data API" do
    expect(extension).not_to be_nil, "the extension is not loaded"
    wanted = symbols(extension, "--undefined-only").grep(/\A(rb|ruby)_/)
    expect(wanted).to include("rb_data_typed_object_wrap", "rb_check_typeddata") # TypedData, via magnus
    expect(wanted & untyped_data_api).to be_empty

    defined = symbols(libruby, "--defined-only")
    expect(defined).to include("rb_data_typed_object_wrap")
    expect(wanted - defined).to be_empty, "#{libruby} (Ruby #{RUBY_VERSION}) lacks #{(wanted - defined).inspect}"
  end
end
