# frozen_string_literal: true

# A short tour of aws-sessionstore-dynamodb-rs against DynamoDB Local.
# Run it with `script/demo`, which sets everything up; by hand:
#
#   eval "$(script/dynamodb-local/start)"
#   AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy \
#     ruby -Ilib examples/demo.rb
#
# The pieces are kept apart so a multi-process (Puma cluster) demo can reuse
# them: Demo.store_options and Demo::CounterApp build the server side,
# Demo::Visitor is a browser that keeps its cookie over any transport with
# `get(path, cookie) -> [body, set_cookie]`, and Demo::Tour prints the steps.

require "securerandom"
require "rack"
require "rack/mock"
require "aws-sessionstore-dynamodb-rs"

module Demo
  Store = Aws::SessionStore::DynamoDB

  # The cookie Rack's session middleware uses by default.
  COOKIE_NAME = "rack.session"

  # Options shared by the table functions and the middleware. A fresh table
  # name per run, so runs never see each other's sessions.
  def self.store_options
    @store_options ||= {
      endpoint: ENV.fetch("DYNAMODB_ENDPOINT") { abort "DYNAMODB_ENDPOINT is not set: run script/demo" },
      table_name: "demo_sessions_#{SecureRandom.hex(4)}",
      billing_mode: :pay_per_request,
      # DynamoDB's TTL may delete a session two hours after its last write.
      max_stale: 2 * 60 * 60
    }
  end

  # A tiny Rack app: counts a visitor's requests; /logout drops the session.
  CounterApp = lambda do |env|
    session = env["rack.session"]
    if env["PATH_INFO"] == "/logout"
      env["rack.session.options"][:drop] = true
      [200, { "content-type" => "text/plain" }, ["logged out"]]
    else
      session["count"] = session.fetch("count", 0) + 1
      [200, { "content-type" => "text/plain" }, ["count=#{session['count']}"]]
    end
  end

  # The app wrapped in the session store, as `use RackMiddleware, ...` would.
  def self.session_app(secret_key: SecureRandom.hex(64))
    Store::RackMiddleware.new(CounterApp, store_options.merge(secret_key: secret_key))
  end

  # Calls a Rack app in-process, no server involved.
  class MockTransport
    def initialize(app)
      @request = Rack::MockRequest.new(app)
    end

    # @return [Array(String, String)] the body and the Set-Cookie header.
    def get(path, cookie)
      headers = cookie ? { "HTTP_COOKIE" => "#{COOKIE_NAME}=#{cookie}" } : {}
      response = @request.get(path, headers)
      [response.body, response["Set-Cookie"]]
    end
  end

  # A browser with one cookie jar slot: the session cookie.
  class Visitor
    attr_reader :cookie

    def initialize(transport)
      @transport = transport
      @cookie = nil
    end

    # @return [String] the response body.
    def get(path = "/")
      body, set_cookie = @transport.get(path, @cookie)
      value = set_cookie.to_s[/#{Regexp.escape(COOKIE_NAME)}=([^;]*)/o, 1]
      @cookie = Rack::Utils.unescape(value) if value && !value.empty?
      body
    end
  end

  # The printed walk-through.
  class Tour
    def initialize(out = $stdout)
      @out = out
      @options = Demo.store_options
      @table = @options[:table_name]
    end

    def run
      create_table
      app = Demo.session_app
      @client = Store::Native.client(app.config.native_client_options)
      visitor = Visitor.new(MockTransport.new(app))
      visit(visitor, 3)
      show_item(visitor.cookie)
      logout(visitor)
    ensure
      delete_table if @created
    end

    private

    def step(title)
      @out.puts
      @out.puts "== #{title}"
    end

    def create_table
      step "Create table #{@table} (on-demand, TTL on expire_at)"
      result = Store::Table.create_table(@options)
      @created = true
      @out.puts "  #{result}, #{@options[:endpoint]}"
    end

    def visit(visitor, times)
      step "A visitor makes #{times} requests, sending back the session cookie"
      1.upto(times) do |i|
        body = visitor.get("/")
        @out.puts "  request #{i}: #{body}   cookie #{short(visitor.cookie)}"
        check(body == "count=#{i}", "expected count=#{i}, got #{body}")
      end
    end

    # The item exactly as the official gem writes it: the cookie value is the
    # key, `data` is JSON, timestamps are Time#to_f strings, expire_at a number.
    def show_item(cookie)
      step "The DynamoDB item behind the cookie (official gem's format)"
      item = @client.get_item(@table, "session_id", cookie, true)
      check(item, "no item for the cookie")
      item.sort.each do |name, value|
        type = value.is_a?(Numeric) ? "N" : "S"
        shown = name == "session_id" ? short(value) : value.inspect
        @out.puts format("  %-10s %s  %s", name, type, shown)
      end
    end

    def logout(visitor)
      step "Logout (drop): the item is deleted"
      cookie = visitor.cookie
      @out.puts "  GET /logout: #{visitor.get('/logout')}"
      gone = @client.get_item(@table, "session_id", cookie, true).nil?
      @out.puts "  item still there? #{gone ? 'no' : 'yes'}"
      check(gone, "the item survived the logout")
      body = visitor.get("/")
      @out.puts "  same cookie again: #{body} (a fresh session)"
      check(body == "count=1", "expected a fresh session, got #{body}")
    end

    def delete_table
      step "Delete table #{@table}"
      @out.puts "  #{Store::Table.delete_table(@options)}"
    end

    # The demo doubles as a smoke test: a wrong answer fails it.
    def check(condition, message)
      raise "demo failed: #{message}" unless condition
    end

    # "<hmac>--<sid>", shortened to fit a line.
    def short(cookie)
      return "(none)" unless cookie

      digest, sid = cookie.split("--", 2)
      "#{digest[0, 8]}…--#{sid.to_s[0, 8]}…"
    end
  end
end

Demo::Tour.new.run if $PROGRAM_NAME == __FILE__
