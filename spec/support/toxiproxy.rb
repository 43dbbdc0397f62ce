# frozen_string_literal: true

# Toxiproxy (built by script/toxiproxy) for network faults: a TCP proxy whose
# HTTP API disables it (an outage: the listener closes, every connection is
# cut), points it elsewhere (a moved endpoint) or adds toxics (latency, …).
#
#   proxy = Toxiproxy.server.create_proxy(upstream: "http://127.0.0.1:8000")
#   proxy.endpoint                      # => "http://127.0.0.1:PORT", loopback
#   proxy.disable / proxy.enable        # outage, and back on the same port
#   proxy.upstream = "http://127.0.0.1:9000"
#   proxy.add_toxic("latency", latency: 3000)   # ms, on the request's way
#   proxy.remove_toxics
#   proxy.delete
#
# Toxiproxy.server is the one whose URL script/test exports as
# TOXIPROXY_URL, or else one this process starts on 127.0.0.1 on a free port
# and stops at exit. Toxiproxy.unavailable is why neither can be had (no Go to
# build it, say), nil when one can.

require "json"
require "net/http"
require "securerandom"
require "socket"
require "uri"

module Toxiproxy
  class Error < StandardError; end

  ROOT = File.expand_path("../..", __dir__)

  # One Toxiproxy server, driven over its HTTP API.
  class Server
    attr_reader :url, :pid

    def initialize(url, pid: nil)
      @url = url
      @pid = pid
      uri = URI(url)
      @http = Net::HTTP.new(uri.host, uri.port)
      @lock = Mutex.new
    end

    # Starts toxiproxy-server (the binary at path) on 127.0.0.1 on a free port.
    def self.start(path)
      3.times do
        port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
        pid = Process.spawn(path, "-host", "127.0.0.1", "-port", port.to_s, %i[out err] => File::NULL, pgroup: true)
        server = new("http://127.0.0.1:#{port}", pid: pid)
        return server if server.wait_until_up(pid)

        server.stop
      end
      raise Error, "toxiproxy-server did not start"
    end

    # @return [Boolean] whether the API answered before the process ended.
    def wait_until_up(pid, seconds = 5)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
      while Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline
        return true if up?
        return false if Process.wait(pid, Process::WNOHANG)

        sleep 0.05
      end
      false
    end

    # @return [Boolean] whether the API answers (GET /version: plain text).
    def up?
      Net::HTTP.get_response(URI("#{url}/version")).is_a?(Net::HTTPSuccess)
    rescue SystemCallError, IOError
      false
    end

    # Stops the server this process started (one found by URL is left alone).
    def stop
      return unless @pid

      Process.kill("TERM", @pid)
      Process.wait(@pid)
    rescue Errno::ESRCH, Errno::ECHILD
      nil
    ensure
      @pid = nil
    end

    # A new proxy listening on a free loopback port. @return [Proxy]
    def create_proxy(upstream:, name: "spec-#{SecureRandom.hex(6)}")
      answer = request(:post, "/proxies", "name" => name, "listen" => "127.0.0.1:0",
                                          "upstream" => Toxiproxy.host_port(upstream))
      Proxy.new(self, name, answer.fetch("listen"))
    end

    # @return [Hash, nil] the parsed JSON answer (nil when empty).
    def request(method, path, payload = nil)
      klass = { get: Net::HTTP::Get, post: Net::HTTP::Post, delete: Net::HTTP::Delete }.fetch(method)
      req = klass.new(path, "Content-Type" => "application/json")
      req.body = JSON.generate(payload) if payload
      response = @lock.synchronize { @http.start { |http| http.request(req) } }
      unless response.is_a?(Net::HTTPSuccess)
        raise Error, "Toxiproxy #{method.upcase} #{path}: #{response.code} #{response.body.to_s.strip}"
      end

      response.body.to_s.empty? ? nil : JSON.parse(response.body)
    end
  end

  # One proxy of a Server.
  class Proxy
    attr_reader :name

    def initialize(server, name, listen)
      @server = server
      @name = name
      @listen = listen
    end

    # @return [String] "http://127.0.0.1:PORT", the same across disable/enable.
    def endpoint
      "http://#{@listen}"
    end

    def port
      Integer(@listen.split(":").last, 10)
    end

    # Closes the listener and every connection: connecting is refused.
    def disable
      update("enabled" => false)
    end

    # Listens again on the same port.
    def enable
      update("enabled" => true)
    end

    def enabled?
      @server.request(:get, path).fetch("enabled")
    end

    # Connects to another upstream from now on ("http://host:port").
    def upstream=(url)
      update("upstream" => Toxiproxy.host_port(url))
    end

    def upstream
      "http://#{@server.request(:get, path).fetch("upstream")}"
    end

    # Adds a toxic (Toxiproxy's names: latency, timeout, reset_peer, …) to
    # every connection, open ones included. stream: "upstream" acts on the
    # requests, "downstream" on the answers.
    def add_toxic(type, stream: "upstream", **attributes)
      @server.request(:post, "#{path}/toxics",
                      "type" => type, "stream" => stream, "name" => "#{type}_#{stream}",
                      "attributes" => attributes)
    end

    def remove_toxics
      (@server.request(:get, "#{path}/toxics") || []).each do |toxic|
        @server.request(:delete, "#{path}/toxics/#{toxic.fetch("name")}")
      end
    end

    def delete
      @server.request(:delete, path)
    rescue Error, SystemCallError, IOError
      nil
    end

    private

    def path
      "/proxies/#{name}"
    end

    def update(fields)
      @server.request(:post, path, fields)
      self
    end
  end

  module_function

  # "http://host:port" => "host:port" (Toxiproxy proxies TCP, not URLs).
  def host_port(url)
    uri = URI(url)
    raise ArgumentError, "Toxiproxy forwards to http:// only (got #{url.inspect})" unless uri.scheme == "http"

    "#{uri.host}:#{uri.port}"
  end

  # The server this process uses, started on first use. Raises Error when
  # none can be had (see #unavailable).
  def server
    @server ||= begin
      url = ENV["TOXIPROXY_URL"].to_s
      if url.empty?
        started = Server.start(binary || raise(Error, unavailable))
        at_exit { started.stop }
        started
      else
        Server.new(url)
      end
    end
  end

  # @return [String, nil] why no Toxiproxy can be had; nil when one can.
  def unavailable
    return nil if @server || !ENV["TOXIPROXY_URL"].to_s.empty? || binary

    @unavailable ||= "Toxiproxy is not built and script/toxiproxy could not build it " \
                     "(#{@build_output.to_s.lines.last.to_s.strip})"
  end

  # The binary script/toxiproxy built (it builds it if needed, once).
  def binary
    return @binary if defined?(@binary)

    output = IO.popen([File.join(ROOT, "script/toxiproxy")], err: %i[child out], &:read)
    @build_output = output
    path = output.lines.last.to_s.strip
    @binary = $?.success? && File.executable?(path) ? path : nil
  rescue SystemCallError => e
    @build_output = e.message
    @binary = nil
  end
end

if defined?(RSpec) && RSpec.respond_to?(:configure)
  # skip_without_toxiproxy: in an example (or before hook), skips it with one
  # line saying why when no Toxiproxy can be had; under CI=true that fails it.
  module ToxiproxySpecHelpers
    def skip_without_toxiproxy
      reason = Toxiproxy.unavailable
      return unless reason
      raise Toxiproxy::Error, "#{reason} (CI=true: Toxiproxy is required)" if ENV["CI"] == "true"

      skip reason
    end
  end

  RSpec.configure { |config| config.include ToxiproxySpecHelpers }
end
