# frozen_string_literal: true

require "rack"
require "rack/lint"
require "rack/mock"

# One Rack request through a session middleware, with the cookie carried by
# hand (so a spec decides which session each request presents), the
# rack.errors lines and the time it took.
#
#   include StoreRequestHelpers
#   response = store_request(store, "/", cookie: cookie)
#   response.cookie   # the rack.session value set by the answer, or nil
module StoreRequestHelpers
  # What Rack writes to rack.errors when write_session returns false.
  RACK_SAVE_WARNING = "Warning! Aws::SessionStore::DynamoDB::RackMiddleware failed to save session. Content dropped.\n"

  # The app most specs put behind the store: "/" increments session["n"],
  # "/read" only reads it; the body is the count.
  COUNTER_APP = lambda do |env|
    session = env["rack.session"]
    session["n"] = session.fetch("n", 0) + 1 unless env["PATH_INFO"] == "/read"
    [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
  end

  StoreResponse = Struct.new(:status, :body, :cookie, :errors, :elapsed, :headers, keyword_init: true)

  # The store under test, with the suite's store options (spec_helper's
  # store_options: DynamoDB Local, the spec secret) and a one-hour max_stale.
  def middleware(app, **options)
    Aws::SessionStore::DynamoDB::RackMiddleware.new(app, store_options({ max_stale: 3600 }.merge(options)))
  end

  # The store in front of COUNTER_APP.
  def counter(**options)
    middleware(COUNTER_APP, **options)
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # A new session holding {"n" => 0}, written through `store_class` with
  # `options`; returns its cookie value.
  def seed_session(options, store_class: Aws::SessionStore::DynamoDB::RackMiddleware)
    app = lambda do |env|
      env["rack.session"]["n"] = 0
      [200, {}, [""]]
    end
    store_request(store_class.new(app, options)).cookie
  end

  # Runs `path` through Rack::Lint and `app`; `cookie` is sent as the
  # rack.session cookie (escaped), `raw_cookie` as the whole Cookie header;
  # `env` adds to the Rack environment.
  def store_request(app, path = "/", cookie: nil, raw_cookie: nil, lint: true, env: {})
    env = env.dup
    env["HTTP_COOKIE"] = "rack.session=#{Rack::Utils.escape(cookie)}" if cookie
    env["HTTP_COOKIE"] = raw_cookie if raw_cookie
    started = monotonic
    response = Rack::MockRequest.new(lint ? Rack::Lint.new(app) : app).get(path, env)
    set = response.headers["Set-Cookie"].to_s[/\Arack\.session=([^;]*)/, 1]
    StoreResponse.new(status: response.status, body: response.body, cookie: set && Rack::Utils.unescape(set),
                      errors: response.errors, elapsed: monotonic - started, headers: response.headers)
  end
end
