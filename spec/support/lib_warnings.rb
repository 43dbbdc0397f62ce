# frozen_string_literal: true

# Warnings are failures: a warning Ruby emits at a location in the gem's
# lib/ (a deprecation under -W:deprecated, which script/test turns on for
# the Ruby 4.0 stacks; a constant redefined; a frozen string literal
# mutated) fails the example during which it came, or the run when it came
# while the files loaded. Warnings located elsewhere (Rails, the specs) and
# the store's own messages to the application (Kernel#warn without a
# location) pass through untouched.
#
# Installed by spec_helper before the gem loads, so warnings raised while
# lib/ is parsed are caught too. It sees warnings of the RSpec process only;
# the processes specs start (Puma, Rails apps, README blocks) keep theirs.
module LibWarnings
  LIB = "#{File.expand_path("../../lib", __dir__)}/".freeze

  @seen = []
  @lock = Mutex.new

  class << self
    # A warning message located in lib/ ("…/lib/x.rb:12: warning: …").
    def from_lib?(message)
      message.to_s.start_with?(LIB)
    end

    def record(message)
      @lock.synchronize { @seen << message.to_s }
    end

    # The warnings recorded since the last call, cleared.
    def take
      @lock.synchronize do
        seen = @seen
        @seen = []
        seen
      end
    end

    # The failure message for warnings, or nil for none.
    def failure(warnings, where)
      return if warnings.empty?

      "#{warnings.size} Ruby warning(s) located in lib/ #{where} (warnings are failures):\n" +
        warnings.map { |w| "  #{w.chomp}" }.join("\n")
    end
  end

  # Prepended to Warning's singleton (Warning.extend): every warning Ruby
  # emits goes through Warning.warn.
  module Hook
    def warn(message, *args, **kwargs)
      LibWarnings.record(message) if LibWarnings.from_lib?(message)
      super
    end
  end
end

Warning.extend(LibWarnings::Hook)
