# frozen_string_literal: true

# A visit counter behind the DynamoDB session store: the app script/demo
# serves with Puma in cluster mode (examples/app/puma.rb).
#
#   GET /         counts this visitor's requests
#   GET /locked   the same with pessimistic locking: concurrent requests on
#                 one session run one after another, so none is lost
#   ?work=SECONDS holds the session that long, as a slow action would
#   GET /page     a page for a browser: the count, the worker that answered,
#                 a log in form (POST /page/login, a new session id) and a
#                 log out button (POST /page/logout, the session deleted)
#   GET /account  one user's sessions (user_key: "user"): the list; with
#                 /account/login?user=NAME signs in, /account/others-out
#                 signs out everywhere else (UserSessions)
#
# Each JSON answer names the worker process that served it and how long
# loading the session took (with locking: the wait for the lock). With
# DEMO_TLS=1 (Puma on https, examples/app/puma.rb) the page's cookie is
# Secure; it is HttpOnly and SameSite=Lax either way.
#
# The table, endpoint, region and credentials come from the environment
# (AWS_DYNAMO_DB_SESSION_TABLE_NAME, AWS_DYNAMO_DB_SESSION_ENDPOINT,
# AWS_REGION, AWS_ACCESS_KEY_ID, ...), as in production. By hand, against a
# table that exists:
#
#   SESSION_SECRET=$(ruby -rsecurerandom -e 'puts SecureRandom.hex(64)') \
#     puma -C examples/app/puma.rb examples/app/config.ru
require "json"
require "aws-sessionstore-dynamodb-rs"

counter = lambda do |env|
  session = env["rack.session"]
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  count = session.fetch("count", 0) + 1 # the first access loads the session
  loaded_in = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
  session["count"] = count
  work = Rack::Request.new(env).params["work"].to_f
  sleep(work.clamp(0, 5)) if work.positive?
  body = JSON.generate(count: count, pid: Process.pid, loaded_in: loaded_in.round(3))
  [200, { "content-type" => "application/json" }, [body]]
end

store = {
  secret_key: ENV.fetch("SESSION_SECRET"),
  max_stale: 2 * 3600 # unused for 2 hours: gone (DynamoDB TTL, garbage collection)
}

map "/locked" do
  use Aws::SessionStore::DynamoDB::RackMiddleware,
      **store,
      key: "demo.locked",
      enable_locking: true,
      lock_expiry_time: 5_000,  # ms: a lock this old was abandoned and may be taken over
      lock_retry_delay: 50,     # ms between attempts
      lock_max_wait_time: 10    # s, then LockWaitTimeoutError
  run counter
end

page_style = "font-family: sans-serif; max-width: 32em; margin: 2em auto"
page = lambda do |env|
  req = Rack::Request.new(env)
  session = env["rack.session"]
  case [req.request_method, req.path_info]
  when ["POST", "/login"]
    name = req.params["user"].to_s.gsub(/[^a-zA-Z0-9_-]/, "")[0, 32]
    session["user"] = name unless name.empty?
    env["rack.session.options"][:renew] = true # a new id on log in
    next [303, { "location" => "/page", "content-type" => "text/plain" }, ["logged in"]]
  when ["POST", "/logout"]
    session.destroy # the item is deleted: the old cookie opens nothing
    next [303, { "location" => "/page", "content-type" => "text/plain" }, ["logged out"]]
  end
  session["count"] = session.fetch("count", 0) + 1
  user = session["user"]
  who = if user
          %(<p>Logged in as <b id="user">#{user}</b></p>
            <form method="post" action="/page/logout"><button id="logout">Log out</button></form>)
        else
          %(<p id="user">Not logged in</p>
            <form method="post" action="/page/login"><input id="name" name="user">
            <button id="login">Log in</button></form>)
        end
  html = <<~HTML
    <!doctype html><html><head><meta charset="utf-8"><title>Session demo</title></head>
    <body style="#{page_style}">
    <h1>Sessions in DynamoDB</h1>
    <p>Visits in this session: <b id="count">#{session["count"]}</b></p>
    <p>Answered by worker <b id="worker">#{Process.pid}</b></p>
    #{who}
    </body></html>
  HTML
  # A new connection per page: the next one may reach the other worker.
  [200, { "content-type" => "text/html; charset=utf-8", "connection" => "close" }, [html]]
end

map "/page" do
  use Aws::SessionStore::DynamoDB::RackMiddleware,
      **store,
      key: "demo.page",
      httponly: true,
      same_site: :lax,
      secure: ENV["DEMO_TLS"] == "1"
  run page
end

account = lambda do |env|
  req = Rack::Request.new(env)
  session = env["rack.session"]
  sessions = Aws::SessionStore::DynamoDB::UserSessions.of(req)
  user = session["user"]
  body = case req.path_info
         when "/login"
           session["user"] = req.params["user"].to_s.gsub(/[^a-zA-Z0-9_-]/, "")[0, 32]
           env["rack.session.options"][:renew] = true # a new id on log in
           { user: session["user"] }
         when "/others-out" then { user: user, revoked: user ? sessions.revoke_others(user) : 0 }
         else
           list = user ? sessions.list(user) : []
           { user: user, sessions: list.map { |e| { handle: e.handle[0, 12], current: e.current, agent: e.user_agent } } }
         end
  [200, { "content-type" => "application/json" }, [JSON.generate(body.merge(pid: Process.pid))]]
end

map "/account" do
  use Aws::SessionStore::DynamoDB::RackMiddleware, **store, key: "demo.account", user_key: "user", keep_user_agent: true
  run account
end

map "/" do
  use Aws::SessionStore::DynamoDB::RackMiddleware, **store, key: "demo.session"
  run counter
end
