# frozen_string_literal: true

# A visit counter behind the DynamoDB session store: the app script/demo
# serves with Puma in cluster mode (examples/app/puma.rb).
#
#   GET /         counts this visitor's requests
#   GET /locked   the same with pessimistic locking: concurrent requests on
#                 one session run one after another, so none is lost
#   ?work=SECONDS holds the session that long, as a slow action would
#
# Each answer is JSON naming the worker process that served it and how long
# loading the session took (with locking: the wait for the lock).
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

map "/" do
  use Aws::SessionStore::DynamoDB::RackMiddleware, **store, key: "demo.session"
  run counter
end
