# frozen_string_literal: true

require "rbconfig"
require "socket"

# Helpers the bench scripts share.
module BenchSupport
  module_function

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # A loopback port nothing listens on (at the time of asking).
  def free_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  # Whether the extension under `lib` is a dev-profile (unoptimised) build,
  # as the extension itself says (Native::DEBUG_BUILD), asked in a fresh Ruby.
  def debug_build?(lib)
    script = 'require "aws-sessionstore-dynamodb-rs"; print Aws::SessionStore::DynamoDB::Native::DEBUG_BUILD'
    IO.popen([RbConfig.ruby, "-I", lib, "-e", script], err: File::NULL, &:read) == "true"
  end
end
