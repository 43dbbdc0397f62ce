# frozen_string_literal: true

require "socket"
require "json"
require_relative "threaded_server"

# A DynamoDB-shaped HTTP server in Ruby threads on loopback that waits
# `delay` seconds before each answer. A native call against it can only
# finish if the GVL is released meanwhile: the server's threads need it.
class SlowServer
  include ThreadedServer

  attr_reader :port, :requests

  def initialize(delay:, body: "{}")
    @delay = delay
    @body = body
    @requests = 0
    @lock = Mutex.new
    @server = TCPServer.new("127.0.0.1", 0)
    @port = @server.addr[1]
    @threads = []
    @acceptor = Thread.new { accept_loop }
  end

  def endpoint
    "http://127.0.0.1:#{port}"
  end

  private

  def accept_loop
    loop do
      socket = @server.accept
      @threads << Thread.new(socket) { |s| serve(s) }
    end
  end

  def serve(socket)
    while (line = socket.gets)
      length = 0
      while (header = socket.gets) && header != "\r\n"
        length = header.split(":", 2)[1].to_i if header.downcase.start_with?("content-length:")
      end
      socket.read(length) if length.positive?
      @lock.synchronize { @requests += 1 }
      sleep @delay
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n" \
                   "x-amzn-RequestId: slow-#{@requests}\r\nContent-Length: #{@body.bytesize}\r\n\r\n#{@body}")
      break if line.nil?
    end
  rescue IOError, SystemCallError
    nil
  ensure
    socket.close unless socket.closed?
  end
end
