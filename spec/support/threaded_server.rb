# frozen_string_literal: true

# What the specs' loopback servers (SlowServer, TlsProxy) share: @server
# accepted on by the @acceptor thread, a thread per connection in @threads.
module ThreadedServer
  # Stops accepting, cuts every connection and closes the listener.
  def stop
    @acceptor.kill
    @threads.each(&:kill)
    @server.close
  end
end
