# frozen_string_literal: true

# A small HTTP/1.1 reverse proxy for specs, placed between the store and
# DynamoDB Local: it records every DynamoDB JSON-protocol request (operation
# from X-Amz-Target, parsed JSON body) and forwards it, or lets a hook answer
# instead (fault injection).
#
#   proxy = CountingProxy.new(DynamoDBLocalHelper.endpoint)
#   store = RackMiddleware.new(app, store_options(endpoint: proxy.endpoint))
#   ... requests ...
#   proxy.count('UpdateItem')          # => 1
#   proxy.bodies('UpdateItem').first   # => { 'TableName' => ..., 'UpdateExpression' => ... }
#   proxy.stop
#
# The hook, given to new or set later with #on_request, is called once per
# request with (operation, body, message) (the raw request: a block may take
# just the first two) and returns one of:
#
#   nil                       forward to DynamoDB (the default)
#   :drop                     close the client's connection without answering
#   :drop_after_forward       forward, then close without answering (the write
#                             happened, the client never hears of it)
#   [status, body]            answer with this status and body instead
#   [status, body, headers]   same, with extra response headers
#   Numeric                   stall that many seconds, then forward (cut
#                             short, without forwarding, when the client
#                             hangs up or the proxy stops)
#
#   proxy.on_request do |op, _body|
#     [400, CountingProxy.error_body('ProvisionedThroughputExceededException')] if op == 'UpdateItem'
#   end
#
# Faults that are not about one operation are Toxiproxy's (spec/support/
# toxiproxy.rb). With faults: true the proxy sits between two Toxiproxy
# proxies, store -> front -> CountingProxy -> back -> DynamoDB:
#
#   proxy = CountingProxy.new(DynamoDBLocalHelper.endpoint, faults: true)
#   proxy.go_down     # the front is disabled: its listener closes and every
#                     # connection is cut, new ones are refused
#   proxy.come_back   # it listens again on the same port
#   proxy.retarget('http://127.0.0.1:OTHER')  # the back connects to another
#                     # DynamoDB from now on (its open connections are cut)
#   proxy.delay_all(3)  # every request reaches DynamoDB 3 s late (nil: on time)
#
# Every request is recorded, answered by the hook or not. Exceptions raised
# by the hook, or unexpected ones inside the proxy, are answered with a 500
# (when possible) and kept in #errors so a spec can assert there were none.
#
# Thread-safe: a thread per connection, keep-alive on both sides (one
# upstream connection per client connection), bodies framed by
# Content-Length (chunked bodies are accepted and re-framed). #stop closes
# the listener and every socket and joins the threads.

require "json"
require "securerandom"
require "socket"
require "uri"
require_relative "toxiproxy"

class CountingProxy
  # Malformed HTTP from either side; the connection is closed.
  class ProtocolError < StandardError; end

  # A parsed HTTP message: start line, headers as [name, value] pairs (order
  # and case kept), and the whole body.
  Message = Struct.new(:start_line, :headers, :body) do
    def header(name)
      name = name.downcase
      pair = headers.find { |key, _| key.downcase == name }
      pair && pair[1]
    end

    def version
      start_line.split(" ", 3).find { |part| part.start_with?("HTTP/") }
    end

    # Whether the sender wants the connection closed after this message.
    def close?
      tokens = header("Connection").to_s.downcase.split(/\s*,\s*/)
      return true if tokens.include?("close")

      version == "HTTP/1.0" && !tokens.include?("keep-alive")
    end
  end

  MAX_LINE_BYTES = 16 * 1024
  MAX_HEADERS = 200
  MAX_BODY_BYTES = 64 * 1024 * 1024
  # Headers that describe one connection, not the message: never passed on.
  HOP_BY_HOP = %w[connection keep-alive proxy-connection transfer-encoding te trailer upgrade expect
                  content-length].freeze
  JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
  REASONS = {
    200 => "OK", 400 => "Bad Request", 403 => "Forbidden", 404 => "Not Found", 413 => "Payload Too Large",
    429 => "Too Many Requests", 500 => "Internal Server Error", 502 => "Bad Gateway",
    503 => "Service Unavailable", 504 => "Gateway Timeout"
  }.freeze
  JOIN_TIMEOUT = 2

  # A DynamoDB JSON error body, e.g. error_body('ThrottlingException').
  def self.error_body(code, message = code)
    JSON.generate("__type" => "com.amazonaws.dynamodb.v20120810##{code}", "message" => message)
  end

  # Starts a proxy, yields it, and stops it afterwards.
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

  # @param upstream [String] the DynamoDB endpoint, "http://host:port".
  # @param faults [Boolean] put Toxiproxy in front and behind, for #go_down,
  #   #come_back, #retarget and #delay_all (raises Toxiproxy::Error when
  #   none can be had: call skip_without_toxiproxy first).
  # @yield [operation, body] optional hook, see the class comment.
  def initialize(upstream = ENV.fetch("DYNAMODB_ENDPOINT"), faults: false, &hook)
    Toxiproxy.host_port(upstream) # http:// only
    @upstream = upstream
    @hook = hook
    @lock = Mutex.new
    @requests = []
    @errors = []
    @sockets = []
    @threads = []
    @stopped = false
    @server = TCPServer.new("127.0.0.1", 0)
    @port = @server.addr[1]
    @acceptor = Thread.new { accept_loop }
    @acceptor.report_on_exception = false
    attach_toxiproxy if faults
  end

  # @return [String] "http://127.0.0.1:PORT", to give the store as :endpoint
  #   (the front Toxiproxy's with faults: true).
  def endpoint
    @front ? @front.endpoint : "http://127.0.0.1:#{@port}"
  end

  # Sets (or with no block, clears) the hook. @return [self]
  def on_request(&hook)
    @lock.synchronize { @hook = hook }
    self
  end

  # @return [Array<Array(String, Object)>] [operation, body] of every request
  #   so far, oldest first; body is the parsed JSON (the raw String if it
  #   wasn't JSON).
  def requests
    @lock.synchronize { @requests.dup }
  end

  # @return [Array<String>] the operation of every request so far.
  def operations
    requests.map(&:first)
  end

  # @return [Integer] how many requests had this operation (all when nil).
  def count(operation = nil)
    list = requests
    operation ? list.count { |op, _| op == operation } : list.size
  end

  # @return [Array<Object>] the bodies of the requests with this operation.
  def bodies(operation)
    requests.select { |op, _| op == operation }.map(&:last)
  end

  # Forgets the recorded requests and errors (connections stay open).
  def reset!
    @lock.synchronize do
      @requests.clear
      @errors.clear
    end
    self
  end

  # @return [Array<Exception>] unexpected errors inside the proxy or the hook.
  def errors
    @lock.synchronize { @errors.dup }
  end

  def stopped?
    @lock.synchronize { @stopped }
  end

  # Closes the listener and every connection, joins the threads, and
  # deletes the Toxiproxy proxies. Idempotent.
  def stop
    sockets, threads = @lock.synchronize do
      return nil if @stopped

      @stopped = true
      [@sockets.dup, @threads.dup]
    end
    [@front, @back].compact.each(&:delete)
    close_quietly(@server)
    sockets.each { |socket| close_quietly(socket) }
    ([@acceptor] + threads).each do |thread|
      next if thread.join(JOIN_TIMEOUT)

      thread.kill
      thread.join(JOIN_TIMEOUT)
    end
    nil
  end

  # DynamoDB (or the network) going away: the front Toxiproxy closes its
  # listener and cuts every connection; connecting is refused until
  # #come_back. Recorded requests are kept. @return [self]
  def go_down
    toxiproxy(:go_down).disable
    self
  end

  # Listens again on the same port after #go_down. @return [self]
  def come_back
    toxiproxy(:come_back).enable
    self
  end

  # Forwards to another DynamoDB from now on (e.g. one restarted on a new
  # port): the back Toxiproxy's upstream; its open connections are cut.
  # @return [self]
  def retarget(upstream)
    Toxiproxy.host_port(upstream) # http:// only
    toxiproxy(:retarget, @back).upstream = upstream
    @lock.synchronize { @upstream = upstream }
    self
  end

  # Every request reaches DynamoDB this many seconds late, open connections
  # included (a Toxiproxy latency toxic behind the proxy: each is recorded
  # at once, then forwarded late); nil or 0 removes the delay. @return [self]
  def delay_all(seconds)
    back = toxiproxy(:delay_all, @back)
    back.remove_toxics
    back.add_toxic("latency", latency: (seconds.to_f * 1000).round) if seconds.to_f.positive?
    self
  end

  private

  def attach_toxiproxy
    @back = Toxiproxy.server.create_proxy(upstream: @upstream)
    @front = Toxiproxy.server.create_proxy(upstream: "http://127.0.0.1:#{@port}")
  rescue StandardError
    stop
    raise
  end

  def toxiproxy(method, link = @front)
    raise ArgumentError, "CountingProxy##{method} needs CountingProxy.new(..., faults: true)" unless link
    raise "CountingProxy is stopped" if stopped?

    link
  end

  def accept_loop
    loop do
      client = @server.accept
      @lock.synchronize do
        if @stopped
          close_quietly(client)
          return
        end
        @sockets << client
        thread = Thread.new(client) { |socket| serve(socket) }
        thread.report_on_exception = false
        @threads << thread
      end
    end
  rescue IOError, SystemCallError
    nil # the listener was closed by stop
  end

  # One client connection: requests one after the other (keep-alive).
  def serve(client)
    prepare(client)
    upstream = { socket: nil }
    loop do
      request = read_message(client, request: true)
      break if request.nil? # the client closed between requests

      break unless handle(client, request, upstream)
      break if request.close?
    end
  rescue IOError, SystemCallError, ProtocolError
    nil # a closed or broken connection ends this thread; nothing to answer
  rescue StandardError => e
    record_error(e)
  ensure
    close_upstream(upstream) if upstream
    forget(client)
    @lock.synchronize { @threads.delete(Thread.current) }
  end

  # Answers one request. @return [Boolean] whether to keep the connection.
  def handle(client, request, upstream)
    operation = request.header("X-Amz-Target").to_s.split(".").last.to_s
    body = parse_body(request.body)
    hook = @lock.synchronize do
      @requests << [operation, body].freeze
      @hook
    end
    action = begin
      hook&.call(operation, body, request)
    rescue StandardError => e
      record_error(e)
      [500, self.class.error_body("InternalServerError", "CountingProxy hook raised #{e.class}")]
    end

    case action
    when nil then relay(client, request, upstream)
    when :drop then false
    when :drop_after_forward
      forward(request, upstream)
      false
    when Numeric
      stall(client, action) && relay(client, request, upstream)
    when Array
      status, text, headers = action
      write_response(client, Integer(status), REASONS.fetch(Integer(status), "Status"),
                     { "Content-Type" => JSON_CONTENT_TYPE,
                       "x-amzn-RequestId" => SecureRandom.uuid }.merge(headers || {}).to_a,
                     text.to_s.b, close: request.close?)
      true
    else
      raise ArgumentError, "CountingProxy hook returned #{action.inspect}"
    end
  end

  # Forwards and passes the answer back. @return [Boolean] keep the connection.
  def relay(client, request, upstream)
    response = forward(request, upstream)
    if response.nil?
      write_response(client, 502, REASONS[502], [["Content-Type", JSON_CONTENT_TYPE]],
                     self.class.error_body("BadGateway", "CountingProxy could not reach DynamoDB").b,
                     close: request.close?)
      return true
    end
    _version, status, reason = response.start_line.split(" ", 3)
    headers = response.headers.reject { |name, _| HOP_BY_HOP.include?(name.downcase) }
    write_response(client, Integer(status, 10), reason.to_s, headers, response.body, close: request.close?)
    true
  end

  # Sends the request upstream on this connection's keep-alive socket.
  # A reused socket that turns out closed is reopened once.
  # @return [Message, nil] nil when DynamoDB can't be reached.
  def forward(request, upstream)
    attempts = 0
    begin
      attempts += 1
      reused = !upstream[:socket].nil?
      upstream[:socket] ||= open_upstream
      socket = upstream[:socket]
      return nil unless socket

      socket.write(serialize_request(request))
      response = read_message(socket, request: false)
      raise EOFError, "upstream closed before answering" if response.nil?

      close_upstream(upstream) if response.close?
      response
    rescue IOError, SystemCallError, ProtocolError
      close_upstream(upstream)
      retry if reused && attempts < 2 && !stopped?
      nil
    end
  end

  def open_upstream
    return nil if stopped?

    host, port = Toxiproxy.host_port(@back ? @back.endpoint : @upstream).split(":")
    socket = Socket.tcp(host, Integer(port, 10), connect_timeout: 5)
    prepare(socket)
    @lock.synchronize do
      if @stopped
        close_quietly(socket)
        return nil
      end
      @sockets << socket
    end
    socket
  rescue SystemCallError, SocketError
    nil
  end

  def close_upstream(upstream)
    socket = upstream[:socket]
    upstream[:socket] = nil
    forget(socket) if socket
  end

  def serialize_request(request)
    headers = request.headers.reject { |name, _| HOP_BY_HOP.include?(name.downcase) }
    headers += [["Content-Length", request.body.bytesize.to_s], %w[Connection keep-alive]]
    head = +"#{request.start_line}\r\n"
    headers.each { |name, value| head << "#{name}: #{value}\r\n" }
    head << "\r\n"
    head.b << request.body
  end

  def write_response(socket, status, reason, headers, body, close:)
    head = +"HTTP/1.1 #{status} #{reason}\r\n"
    headers.each { |name, value| head << "#{name}: #{value}\r\n" }
    head << "Content-Length: #{body.bytesize}\r\n"
    head << "Connection: #{close ? "close" : "keep-alive"}\r\n\r\n"
    socket.write(head.b << body)
  end

  # Reads one message. @return [Message, nil] nil on a clean EOF before it.
  def read_message(socket, request:)
    start = read_line(socket)
    start = read_line(socket) while start == "" # tolerate stray CRLFs between messages
    return nil if start.nil?

    headers = read_headers(socket)
    message = Message.new(start, headers, nil)
    if request && message.header("Expect").to_s.casecmp?("100-continue")
      socket.write("HTTP/1.1 100 Continue\r\n\r\n")
    end
    message.body = read_body(socket, message, request: request)
    message
  end

  def read_headers(socket)
    headers = []
    loop do
      line = read_line(socket)
      raise ProtocolError, "connection closed inside headers" if line.nil?
      break if line.empty?
      raise ProtocolError, "too many headers" if headers.size >= MAX_HEADERS

      name, value = line.split(":", 2)
      raise ProtocolError, "malformed header line #{line[0, 40].inspect}" if value.nil? || name.strip.empty?

      headers << [name.strip, value.strip]
    end
    headers
  end

  def read_body(socket, message, request:)
    if message.header("Transfer-Encoding").to_s.downcase.include?("chunked")
      read_chunked(socket)
    elsif (length = message.header("Content-Length"))
      size = Integer(length, 10, exception: false)
      raise ProtocolError, "bad Content-Length #{length.inspect}" if size.nil? || size.negative?

      read_exact(socket, size)
    elsif request || !response_has_body?(message)
      "".b
    else
      read_to_eof(socket) # a response framed by closing the connection
    end
  end

  def response_has_body?(message)
    status = message.start_line.split(" ", 3)[1].to_i
    !(status < 200 || status == 204 || status == 304)
  end

  def read_chunked(socket)
    body = +"".b
    loop do
      line = read_line(socket)
      raise ProtocolError, "connection closed inside a chunked body" if line.nil?

      size = Integer(line.split(";", 2).first.strip, 16, exception: false)
      raise ProtocolError, "bad chunk size #{line[0, 20].inspect}" if size.nil? || size.negative?

      if size.zero?
        read_headers(socket) # trailers, discarded
        return body
      end
      raise ProtocolError, "chunked body too large" if body.bytesize + size > MAX_BODY_BYTES

      body << read_exact(socket, size)
      raise ProtocolError, "chunk not followed by CRLF" unless read_line(socket) == ""
    end
  end

  # Reads exactly size bytes, across as many partial reads as it takes.
  def read_exact(socket, size)
    raise ProtocolError, "body too large" if size > MAX_BODY_BYTES

    body = +"".b
    while body.bytesize < size
      chunk = socket.readpartial(size - body.bytesize)
      body << chunk
    end
    body
  rescue EOFError
    raise ProtocolError, "connection closed after #{body.bytesize} of #{size} body bytes"
  end

  def read_to_eof(socket)
    body = +"".b
    loop do
      body << socket.readpartial(64 * 1024)
      raise ProtocolError, "body too large" if body.bytesize > MAX_BODY_BYTES
    end
  rescue EOFError
    body
  end

  # A line without its CRLF (or LF); nil on EOF before any byte.
  def read_line(socket)
    line = socket.gets("\n", MAX_LINE_BYTES)
    return nil if line.nil?
    raise ProtocolError, "line too long or cut short" unless line.end_with?("\n")

    line.chomp("\n").chomp("\r")
  end

  def parse_body(body)
    return nil if body.nil? || body.empty?

    JSON.parse(body.dup.force_encoding(Encoding::UTF_8))
  rescue JSON::ParserError
    body.dup
  end

  # Waits up to seconds before forwarding. @return [Boolean] false when the
  # client hung up meanwhile (or stop closed its socket: IOError).
  def stall(client, seconds)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds.to_f
    loop do
      remaining = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
      return true if remaining <= 0
      next unless client.wait_readable(remaining)

      # Readable before the deadline: the client hung up (EOF), or sent
      # its next request early, which waits its turn.
      return false if client.recv_nonblock(1, Socket::MSG_PEEK, exception: false).to_s.empty?

      sleep [deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC), 0].max
    end
  end

  def prepare(socket)
    socket.binmode
    socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
  rescue IOError, SystemCallError
    nil
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
