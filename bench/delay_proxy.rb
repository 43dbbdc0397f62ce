# frozen_string_literal: true

# A lean HTTP/1.1 reverse proxy that adds a fixed delay to every request
# before forwarding it: DynamoDB Local answers in about a millisecond, real
# DynamoDB in several, and thread scaling only shows when calls take time.
# Run it in its own process (rake bench does), so its work never competes
# for the GVL of the server being measured.
#
#   ruby bench/delay_proxy.rb --upstream http://127.0.0.1:PORT [--delay-ms 5]
#        [--owner PID] [--max-seconds 1800]
#
# Prints "http://127.0.0.1:PORT" (its own endpoint) on a line of its own once
# it listens. Loopback only. A thread per client connection, one keep-alive
# upstream connection each; bodies framed by Content-Length (or chunked,
# passed through as is). Exits on SIGTERM/SIGINT, when the --owner process is
# gone, or after --max-seconds, whichever comes first.

require "optparse"
require "socket"
require "uri"

module DelayProxy
  MAX_LINE = 16 * 1024

  module_function

  def main(argv)
    upstream = nil
    delay_ms = 5.0
    owner = nil
    max_seconds = 1800
    OptionParser.new do |o|
      o.on("--upstream URL") { |v| upstream = URI(v) }
      o.on("--delay-ms MS", Float) { |v| delay_ms = v }
      o.on("--owner PID", Integer) { |v| owner = v }
      o.on("--max-seconds S", Integer) { |v| max_seconds = v }
    end.parse!(argv)
    abort "usage: delay_proxy.rb --upstream http://HOST:PORT [--delay-ms MS]" unless upstream&.host

    server = TCPServer.new("127.0.0.1", 0)
    $stdout.puts "http://127.0.0.1:#{server.addr[1]}"
    $stdout.flush
    stop = Queue.new
    %w[TERM INT].each { |sig| trap(sig) { stop << sig } }
    Thread.new do
      sleep max_seconds
      stop << "max-seconds"
    end
    if owner
      Thread.new do
        loop do
          sleep 1
          Process.kill(0, owner)
        rescue Errno::ESRCH
          stop << "owner gone"
          break
        rescue Errno::EPERM
          nil
        end
      end
    end
    Thread.new do
      loop do
        client = server.accept
        Thread.new(client) { |c| serve(c, upstream.host, upstream.port, delay_ms / 1000.0) }
      end
    rescue IOError, SystemCallError
      nil
    end
    stop.pop
    server.close
    exit!(0) # connection threads may sit in reads: don't wait for them
  end

  def serve(client, host, port, delay)
    client.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    upstream = nil
    loop do
      head, length, chunked, close = read_head(client)
      break if head.nil?

      if head =~ /^expect:\s*100-continue\r?$/i
        head = head.gsub(/^expect:[^\n]*\n/i, "")
        client.write("HTTP/1.1 100 Continue\r\n\r\n")
      end
      body = read_body(client, length, chunked)
      sleep delay
      attempts = 0
      begin
        attempts += 1
        reused = !upstream.nil?
        upstream ||= Socket.tcp(host, port, connect_timeout: 5).tap do |s|
          s.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
        end
        upstream.write(head + body)
        rhead, rlength, rchunked, rclose = read_head(upstream)
        raise EOFError, "upstream closed" if rhead.nil?

        rbody = read_body(upstream, rlength, rchunked)
      rescue IOError, SystemCallError
        upstream&.close
        upstream = nil
        retry if reused && attempts < 2
        raise
      end
      client.write(rhead + rbody)
      if rclose
        upstream.close
        upstream = nil
      end
      break if close
    end
  rescue IOError, SystemCallError
    nil
  ensure
    client.close unless client.closed?
    upstream&.close unless upstream.nil? || upstream.closed?
  end

  # @return [Array(String, Integer, Boolean, Boolean)] the raw head, its
  #   Content-Length, whether the body is chunked, whether to close after;
  #   nil head on EOF before a message.
  def read_head(io)
    line = io.gets("\n", MAX_LINE)
    line = io.gets("\n", MAX_LINE) while line == "\r\n"
    return nil if line.nil?

    head = +line
    length = 0
    chunked = false
    close = line.include?("HTTP/1.0")
    loop do
      line = io.gets("\n", MAX_LINE)
      raise EOFError, "eof inside headers" if line.nil?

      head << line
      break if ["\r\n", "\n"].include?(line)

      name, value = line.split(":", 2)
      case name.downcase
      when "content-length" then length = Integer(value.strip, 10)
      when "transfer-encoding" then chunked = value.downcase.include?("chunked")
      when "connection" then close = value.downcase.include?("close")
      end
    end
    [head, length, chunked, close]
  end

  def read_body(io, length, chunked)
    return io.read(length) || raise(EOFError, "eof inside body") unless chunked

    body = +""
    loop do
      size_line = io.gets("\n", MAX_LINE) or raise EOFError, "eof inside chunked body"
      body << size_line
      size = Integer(size_line.split(";", 2).first.strip, 16)
      if size.zero?
        loop do # trailers up to the blank line
          trailer = io.gets("\n", MAX_LINE) or raise EOFError, "eof inside trailers"
          body << trailer
          break if ["\r\n", "\n"].include?(trailer)
        end
        return body
      end
      body << io.read(size + 2)
    end
  end
end

DelayProxy.main(ARGV) if $PROGRAM_NAME == __FILE__
