# frozen_string_literal: true

require "openssl"
require "socket"
require_relative "threaded_server"

# A TLS endpoint on loopback in front of DynamoDB Local: a throwaway CA, a
# certificate for "localhost" signed by it, and a byte pump per connection.
# The store then speaks https exactly as it does to AWS, with certificate
# verification against the CA file it is given (SSL_CERT_FILE).
class TlsProxy
  include ThreadedServer

  attr_reader :port, :connections, :ca_file

  def initialize(upstream_port, dir)
    @upstream_port = upstream_port
    @ca_key = OpenSSL::PKey::RSA.new(2048)
    @ca = certificate("CN=aws-sessionstore-dynamodb-rs spec CA", @ca_key, nil, ca: true)
    @key = OpenSSL::PKey::RSA.new(2048)
    @cert = certificate("CN=localhost", @key, @ca, ca: false)
    @ca_file = File.join(dir, "spec-ca.pem")
    File.write(@ca_file, @ca.to_pem)
    context = OpenSSL::SSL::SSLContext.new
    context.cert = @cert
    context.key = @key
    @tcp = TCPServer.new("127.0.0.1", 0)
    @port = @tcp.addr[1]
    @server = OpenSSL::SSL::SSLServer.new(@tcp, context)
    @server.start_immediately = true
    @connections = 0
    @threads = []
    @acceptor = Thread.new { accept_loop }
  end

  def endpoint
    "https://localhost:#{port}"
  end

  private

  def certificate(subject, key, issuer, ca:)
    cert = OpenSSL::X509::Certificate.new
    cert.version = 2
    cert.serial = rand(1 << 64)
    cert.subject = OpenSSL::X509::Name.parse(subject)
    cert.issuer = issuer ? issuer.subject : cert.subject
    cert.public_key = key.public_key
    cert.not_before = Time.now - 60
    cert.not_after = Time.now + 3600
    extensions = OpenSSL::X509::ExtensionFactory.new
    extensions.subject_certificate = cert
    extensions.issuer_certificate = issuer || cert
    if ca
      cert.add_extension(extensions.create_extension("basicConstraints", "CA:TRUE", true))
      cert.add_extension(extensions.create_extension("keyUsage", "keyCertSign,cRLSign", true))
    else
      cert.add_extension(extensions.create_extension("basicConstraints", "CA:FALSE", true))
      cert.add_extension(extensions.create_extension("keyUsage", "digitalSignature,keyEncipherment", true))
      cert.add_extension(extensions.create_extension("extendedKeyUsage", "serverAuth", false))
      cert.add_extension(extensions.create_extension("subjectAltName", "DNS:localhost", false))
    end
    cert.sign(issuer ? @ca_key : key, OpenSSL::Digest.new("SHA256"))
    cert
  end

  def accept_loop
    loop do
      client = begin
        @server.accept
      rescue OpenSSL::SSL::SSLError
        next # a client that refused our certificate
      end
      @connections += 1
      @threads << Thread.new(client) { |c| pump(c) }
    end
  end

  def pump(client)
    upstream = TCPSocket.new("127.0.0.1", @upstream_port)
    loop do
      ready, = IO.select([client, upstream])
      ready.each do |from|
        to = from.equal?(client) ? upstream : client
        data = from.read_nonblock(65_536, exception: false)
        next if data == :wait_readable
        return nil if data.nil? # the peer closed: stop pumping (ensure closes both)

        to.write(data)
        # TLS records already decrypted but not yet read don't wake select.
        to.write(from.read_nonblock(from.pending)) while from.respond_to?(:pending) && from.pending.positive?
      end
    end
  rescue IOError, SystemCallError, OpenSSL::SSL::SSLError
    nil
  ensure
    [client, upstream].each { |s| s&.close rescue nil } # rubocop:disable Style/RescueModifier
  end
end
