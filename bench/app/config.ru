# frozen_string_literal: true

# The app of bench/thread_scaling.rb: a session counter behind this gem's
# middleware, configured from the environment by the bench.
require "aws-sessionstore-dynamodb-rs"

use Aws::SessionStore::DynamoDB::RackMiddleware,
    secret_key: ENV.fetch("BENCH_SECRET"),
    table_name: ENV.fetch("BENCH_TABLE"),
    endpoint: ENV.fetch("BENCH_ENDPOINT"),
    region: "us-east-1", access_key_id: "dummy", secret_access_key: "dummy"

run(lambda do |env|
  session = env["rack.session"]
  session["n"] = session.fetch("n", 0) + 1
  [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
end)
