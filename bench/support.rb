# frozen_string_literal: true

require "rbconfig"
require "socket"

# Helpers the bench scripts share.
module BenchSupport
  module_function

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # A field of this process's /proc status in KiB ("VmRSS", "VmHWM").
  def status_kib(field)
    File.read("/proc/self/status")[/^#{field}:\s+(\d+)\s+kB/, 1].to_i
  end

  # DynamoDB `delay_ms` away: a Toxiproxy server of its own (a process
  # apart, built by script/toxiproxy) in front of endpoint, with a latency
  # toxic on every request. @return [Array(String, Integer)] the delayed
  # endpoint and the server's pid (its own process group), for stop_process.
  def delayed_endpoint(endpoint, delay_ms)
    require_relative "../spec/support/toxiproxy"
    binary = Toxiproxy.binary or abort("bench: #{Toxiproxy.unavailable}")
    server = Toxiproxy::Server.start(binary)
    proxy = server.create_proxy(upstream: endpoint)
    proxy.add_toxic("latency", latency: Integer(delay_ms.round))
    [proxy.endpoint, server.pid]
  end

  # TERM to a child (its process group by default), KILL after 10 s, and
  # reaped; nothing if it is already gone (or pid is nil).
  def stop_process(pid, group: true)
    return unless pid

    target = group ? -pid : pid
    Process.kill("TERM", target)
    deadline = monotonic + 10
    loop do
      return if Process.wait(pid, Process::WNOHANG)
      break if monotonic > deadline

      sleep 0.1
    end
    Process.kill("KILL", target)
    Process.wait(pid)
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  end

  # Kills the process group a spawned `pgroup: true` child leads and reaps
  # the child; nothing if it is already gone (or pid is nil).
  def kill_group(pid)
    return unless pid

    Process.kill("KILL", -pid) rescue nil # rubocop:disable Style/RescueModifier
    Process.wait(pid) rescue nil # rubocop:disable Style/RescueModifier
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
