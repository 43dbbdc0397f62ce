# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # The garbage collection progress line of the rake tasks and the CLI.
      # On a TTY, each #update rewrites one line in place (`\r`); #finish
      # clears it and prints the summary. Elsewhere only the summary is
      # printed.
      #
      #   progress = Progress.new($stdout)
      #   result = GarbageCollection.collect_garbage(options) { |stats| progress.update(stats) }
      #   progress.finish(result.summary)
      class Progress
        # @param io [IO] where to write.
        # @param tty [Boolean] whether to draw the progress line.
        def initialize(io = $stdout, tty: io.respond_to?(:tty?) && io.tty?)
          @io = io
          @tty = tty
          @width = 0
        end

        # Draws the counters. @return [true] so it can end a progress block.
        def update(stats)
          return true unless @tty

          line = self.class.line(stats)
          @io.print("\r#{line.ljust(@width)}")
          @io.flush
          @width = line.size
          true
        end

        # Clears the progress line (if any) and prints the summary line.
        def finish(summary)
          clear
          @io.puts(summary)
          @io.flush
        end

        # Clears the progress line, if one was drawn.
        def clear
          return if @width.zero?

          @io.print("\r#{" " * @width}\r")
          @width = 0
        end

        # One progress line for these counters.
        def self.line(stats)
          verb = stats[:dry_run] ? "would delete" : "deleted"
          count = stats[:dry_run] ? stats[:matched] : stats[:deleted]
          format("scanned %<s>d, matched %<m>d, %<v>s %<d>d (%<e>.1f s)",
                 s: stats[:scanned].to_i, m: stats[:matched].to_i, v: verb, d: count.to_i, e: stats[:elapsed].to_f)
        end
      end
    end
  end
end
