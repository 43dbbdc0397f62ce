# frozen_string_literal: true

# A small HTTP/1.1 reverse proxy for specs, between the store and DynamoDB
# Local: it records every DynamoDB JSON-protocol request (operation from
# X-Amz-Target, parsed JSON body), then forwards it or lets a hook answer.
#
#   proxy = CountingProxy.new(DynamoDBLocalHelper.endpoint)
#   store = RackMiddleware.new(app, store_options(endpoint: proxy.endpoint))
#   proxy.count('UpdateItem')          # => 1
#   proxy.bodies('UpdateItem').first   # => { 'TableName' => ..., ... }
#
# The hook (given to new, or set with #on_request) gets (operation, body,
# message) and returns nil (forward), :drop (hang up), :drop_after_forward,
# [status, body(, headers)] (answer instead), or a Numeric (stall that many
# seconds, then forward; cut short without forwarding when the client hangs
# up or on #stop). Hook or proxy exceptions are answered with a 500 and kept
# in #errors. With faults: true Toxiproxy sits in front and behind (store ->
# front -> CountingProxy -> back -> DynamoDB) for #go_down, #come_back,
# #retarget and #delay_all. A thread per connection, keep-alive both sides;
# bodies are re-framed with a Content-Length (only specs send chunked ones;
# DynamoDB Local always answers with a Content-Length).

require "json"
require "securerandom"
require "socket"
require "uri"
require_relative "toxiproxy"

class CountingProxy
  # Malformed HTTP from either side: the connection is closed.
  class ProtocolError < StandardError; end

  # A parsed HTTP message; headers are [name, value] pairs, order and case kept.
  Message = Struct.new(:start_line, :headers, :body) do
    def header(name)
      headers.find { |key, _| key.casecmp?(name) }&.last
    end

    def close?
      header("Connection").to_s.downcase.split(/\s*,\s*/).include?("close")
    end
  end

  MAX_LINE_BYTES = 16 * 1024
  MAX_BODY_BYTES = 64 * 1024 * 1024
  # Headers that describe one connection, not the message: never passed on.
  HOP_BY_HOP = %w[connection keep-alive proxy-connection transfer-encoding te trailer upgrade expect content-length].freeze
  JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
  REASONS = { 200 => "OK", 400 => "Bad Request", 500 => "Internal Server Error", 502 => "Bad Gateway" }.freeze
  JOIN_TIMEOUT = 2

  # A DynamoDB JSON error body, e.g. error_body('ThrottlingException').
  def self.error_body(code, message = code)
    JSON.generate("__type" => "com.amazonaws.dynamodb.v20120810##{code}", "message" => message)
  end
  BAD_GATEWAY = error_body("BadGateway", "CountingProxy could not reach DynamoDB")

  # Yields a new proxy, then stops it.
  def self.open(upstream = ENV.fetch("DYNAMODB_ENDPOINT"), **options, &block)
    proxy = new(upstream, **options)
    block.call(proxy)
  ensure
    proxy&.stop
  end

  attr_reader :port

  # @return [String] the DynamoDB endpoint requests are forwarded to.
  def upstream
    @lock.synchronize { @upstream }
  end

  # upstream: "http://host:port". faults: true puts Toxiproxy in front and behind (raises
  # Toxiproxy::Error when none can be had: call skip_without_toxiproxy first).
  def initialize(upstream = ENV.fetch("DYNAMODB_ENDPOINT"), faults: false, &hook)
    Toxiproxy.host_port(upstream) # http:// only
    @upstream = upstream
    @hook = hook
    @lock = Mutex.new
    @requests, @errors, @sockets, @threads = Array.new(4) { [] }
    @stopped = false
    @server = TCPServer.new("127.0.0.1", 0)
    @port = @server.addr[1]
    @acceptor = Thread.new { accept_loop }.tap { |thread| thread.report_on_exception = false }
    attach_toxiproxy if faults
  end

  # "http://127.0.0.1:PORT" for the store's :endpoint (the front Toxiproxy's with faults: true).
  def endpoint
    @front ? @front.endpoint : "http://127.0.0.1:#{@port}"
  end

  # Sets (or with no block, clears) the hook. @return [self]
  def on_request(&hook)
    @lock.synchronize { @hook = hook }
    self
  end

  # [operation, body] of every request so far, oldest first; body is the parsed JSON (else the String).
  def requests
    @lock.synchronize { @requests.dup }
  end

  def operations
    requests.map(&:first)
  end

  # How many requests had this operation (all when nil).
  def count(operation = nil)
    operation ? operations.count(operation) : requests.size
  end

  def bodies(operation)
    requests.select { |op, _| op == operation }.map(&:last)
  end

  # Forgets the recorded requests and errors.
  def reset!
    @lock.synchronize { [@requests, @errors].each(&:clear) }
    self
  end

  # Unexpected errors inside the proxy or the hook.
  def errors
    @lock.synchronize { @errors.dup }
  end

  def stopped?
    @lock.synchronize { @stopped }
  end

  # Closes every socket, joins the threads, deletes the Toxiproxy proxies. Idempotent.
  def stop
    sockets, threads = @lock.synchronize do
      return nil if @stopped

      @stopped = true
      [@sockets.dup, @threads.dup]
    end
    [@front, @back].compact.each(&:delete)
    ([@server] + sockets).each { |socket| close_quietly(socket) }
    ([@acceptor] + threads).each { |thread| thread.join(JOIN_TIMEOUT) || thread.kill.join(JOIN_TIMEOUT) }
    nil
  end

  def go_down
    fault(:go_down, @front, &:disable)
  end

  def come_back
    fault(:come_back, @front, &:enable)
  end

  def retarget(upstream)
    Toxiproxy.host_port(upstream) # http:// only
    fault(:retarget, @back) { |back| back.upstream = upstream }
    @lock.synchronize { @upstream = upstream }
    self
  end

  # nil or 0 removes the delay; open connections are delayed too.
  def delay_all(seconds)
    fault(:delay_all, @back) do |back|
      back.remove_toxics
      back.add_toxic("latency", latency: (seconds.to_f * 1000).round) if seconds.to_f.positive?
    end
  end

  private

  def attach_toxiproxy
    @back = Toxiproxy.server.create_proxy(upstream: @upstream)
    @front = Toxiproxy.server.create_proxy(upstream: "http://127.0.0.1:#{@port}")
  rescue StandardError
    stop
    raise
  end

  # Yields the Toxiproxy proxy and returns self.
  def fault(method, link)
    raise ArgumentError, "CountingProxy##{method} needs CountingProxy.new(..., faults: true)" unless link
    raise "CountingProxy is stopped" if stopped?

    yield link
    self
  end

  def accept_loop
    loop do
      client = @server.accept
      @lock.synchronize do
        return close_quietly(client) if @stopped

        @sockets << client
        @threads << Thread.new(client) { |socket| serve(socket) }.tap { |thread| thread.report_on_exception = false }
      end
    end
  rescue IOError, SystemCallError
    nil # the listener was closed by stop
  end

  def serve(client)
    prepare(client)
    upstream = { socket: nil }
    while (request = read_message(client, request: true))
      break unless handle(client, request, upstream) && !request.close?
    end
  rescue IOError, SystemCallError, ProtocolError
    nil # a closed or broken connection ends this thread; nothing to answer
  rescue StandardError => e
    record_error(e)
  ensure
    forget(upstream.delete(:socket)) if upstream
    forget(client)
    @lock.synchronize { @threads.delete(Thread.current) }
  end

  # @return [Boolean] whether to keep the connection (also for #answer and #relay).
  def handle(client, request, upstream)
    operation = request.header("X-Amz-Target").to_s.split(".").last.to_s
    body = parse_body(request.body)
    hook = @lock.synchronize { @requests << [operation, body].freeze && @hook }
    action = begin
      hook&.call(operation, body, request)
    rescue StandardError => e
      record_error(e)
      [500, self.class.error_body("InternalServerError", "CountingProxy hook raised #{e.class}")]
    end

    case action
    when nil then relay(client, request, upstream)
    when :drop then false
    when :drop_after_forward then forward(request, upstream) && false
    when Numeric then stall(client, action) && relay(client, request, upstream)
    when Array then answer(client, request, *action)
    else raise ArgumentError, "CountingProxy hook returned #{action.inspect}"
    end
  end

  def answer(client, request, status, text, headers = nil)
    status = Integer(status)
    headers = { "Content-Type" => JSON_CONTENT_TYPE, "x-amzn-RequestId" => SecureRandom.uuid }.merge(headers || {})
    write_message(client, "HTTP/1.1 #{status} #{REASONS.fetch(status, "Status")}", headers.to_a, text.to_s.b,
                  close: request.close?)
    true
  end

  def relay(client, request, upstream)
    response = forward(request, upstream)
    return answer(client, request, 502, BAD_GATEWAY) unless response

    write_message(client, response.start_line, response.headers, response.body, close: request.close?)
    true
  end

  # @return [Message, nil] nil when DynamoDB can't be reached (a stale keep-alive socket is reopened once).
  def forward(request, upstream)
    attempts = 0
    begin
      attempts += 1
      reused = !upstream[:socket].nil?
      socket = (upstream[:socket] ||= open_upstream) or return nil

      write_message(socket, request.start_line, request.headers, request.body, close: false)
      response = read_message(socket, request: false) or raise EOFError, "upstream closed before answering"
      forget(upstream.delete(:socket)) if response.close?
      response
    rescue IOError, SystemCallError, ProtocolError
      forget(upstream.delete(:socket))
      retry if reused && attempts < 2 && !stopped?
      nil
    end
  end

  def open_upstream
    return nil if stopped?

    socket = Socket.tcp(*Toxiproxy.host_port(@back ? @back.endpoint : @upstream).split(":"), connect_timeout: 5)
    prepare(socket)
    @lock.synchronize { @stopped ? close_quietly(socket) : (@sockets << socket) && socket }
  rescue SystemCallError, SocketError
    nil
  end

  def write_message(socket, start_line, headers, body, close:)
    head = +"#{start_line.chomp}\r\n"
    headers.each { |name, value| head << "#{name}: #{value}\r\n" unless HOP_BY_HOP.include?(name.downcase) }
    head << "Content-Length: #{body.bytesize}\r\nConnection: #{close ? "close" : "keep-alive"}\r\n\r\n"
    socket.write(head.b << body)
  end

  # @return [Message, nil] nil on a clean EOF before it.
  def read_message(socket, request:)
    start = read_line(socket) or return nil
    message = Message.new(start, read_headers(socket))
    chunked = request && message.header("Transfer-Encoding").to_s.downcase.include?("chunked")
    message.body = chunked ? read_chunked(socket) : read_exact(socket, parse_size(message.header("Content-Length") || "0", 10))
    message
  end

  def read_headers(socket)
    headers = []
    until (line = read_line(socket) || raise(ProtocolError, "connection closed inside headers")).empty?
      name, value = line.split(":", 2)
      raise ProtocolError, "malformed header line #{line[0, 40].inspect}" if value.nil? || name.strip.empty?

      headers << [name.strip, value.strip]
    end
    headers
  end

  def read_chunked(socket)
    body = +"".b
    loop do
      chunk = parse_size(read_line(socket) || raise(ProtocolError, "connection closed inside a chunked body"), 16)
      return body if chunk.zero? && read_headers(socket) # trailers, discarded

      body << read_exact(socket, chunk, body.bytesize)
      raise ProtocolError, "chunk not followed by CRLF" unless read_line(socket) == ""
    end
  end

  # A Content-Length or chunk-size line (extensions ignored).
  def parse_size(text, base)
    size = Integer(text.split(";", 2).first.strip, base, exception: false)
    raise ProtocolError, "bad size #{text[0, 20].inspect}" if size.nil? || size.negative?

    size
  end

  def read_exact(socket, size, already = 0)
    raise ProtocolError, "body too large" if already + size > MAX_BODY_BYTES

    body = +"".b
    body << socket.readpartial(size - body.bytesize) while body.bytesize < size
    body
  rescue EOFError
    raise ProtocolError, "connection closed after #{body.bytesize} of #{size} body bytes"
  end

  # A line without its CRLF (or LF); nil on EOF before any byte.
  def read_line(socket)
    line = socket.gets("\n", MAX_LINE_BYTES) or return nil
    raise ProtocolError, "line too long or cut short" unless line.end_with?("\n")

    line.chomp
  end

  def parse_body(body)
    JSON.parse(body.dup.force_encoding(Encoding::UTF_8)) unless body.empty?
  rescue JSON::ParserError
    body.dup
  end

  # @return [Boolean] false when the client hung up meanwhile (stop closing it raises IOError).
  def stall(client, seconds)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds.to_f
    while (remaining = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)).positive?
      next unless client.wait_readable(remaining)
      # Readable early: EOF, or the next request (which waits its turn).
      return false if client.recv_nonblock(1, Socket::MSG_PEEK, exception: false).to_s.empty?

      sleep [deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC), 0].max
    end
    true
  end

  def prepare(socket)
    socket.binmode
    socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
  end

  def forget(socket)
    @lock.synchronize { @sockets.delete(socket) }
    close_quietly(socket)
  end

  def close_quietly(io)
    io&.close unless io&.closed?
  rescue IOError, SystemCallError
    nil
  end

  def record_error(error)
    @lock.synchronize { @errors << error }
  end
end

if defined?(RSpec) && RSpec.respond_to?(:shared_context)
  # `proxy`: a CountingProxy in front of DynamoDB Local, which must have
  # seen no protocol error by the end of each example, then stopped.
  RSpec.shared_context "through a counting proxy" do
    let(:proxy) { CountingProxy.new(DynamoDBLocalHelper.endpoint) }

    after do
      expect(proxy.errors).to be_empty
      proxy.stop
    end
  end
end
