# frozen_string_literal: true

# Instructions per request, by shared object, under valgrind's callgrind
# (counts are stable on a noisy machine where CPU time is not): a changed
# session through Rack and the middleware, the same GetItem + UpdateItem pair
# called straight on Native::Client from a Ruby loop (the bridge with no Rack
# around it), and the Rust floor (examples/floor.rs). Each runs twice, with
# SMALL and LARGE requests; the difference divided by LARGE - SMALL is the
# cost of one request, start-up and warm-up cancelled out. Run by no test.
#
#   DYNAMODB_ENDPOINT=http://127.0.0.1:PORT ruby -I lib bench/instructions.rb [--small N] [--large N]
#     [--floor PATH]   the floor binary (default target/release/examples/floor; built by `rake bench`)
#
# Needs valgrind. Takes a few minutes: callgrind runs code ~50x slower.
require "json"
require "optparse"
require "rbconfig"
require "securerandom"
require "tmpdir"

small = 100
large = 300
root = File.expand_path("..", __dir__)
floor = File.join(root, "target", "release", "examples", "floor")
OptionParser.new do |o|
  o.on("--small N", Integer) { |n| small = n }
  o.on("--large N", Integer) { |n| large = n }
  o.on("--floor PATH") { |path| floor = path }
end.parse!
endpoint = ENV.fetch("DYNAMODB_ENDPOINT") { abort "set DYNAMODB_ENDPOINT (script/dynamodb-local/start)" }

# What each child Ruby runs: MODE rack or native, N requests after 20 more.
CHILD = <<~'RUBY'
  require "rack"
  require "aws-sessionstore-dynamodb-rs"
  d = Aws::SessionStore::DynamoDB
  mode, n, table = ARGV[0], Integer(ARGV[1]), ARGV[2]
  options = { endpoint: ENV.fetch("DYNAMODB_ENDPOINT"), region: "us-east-1", access_key_id: "dummy",
              secret_access_key: "dummy", table_name: table, secret_key: "x" * 64, max_stale: 86_400 }
  if mode == "rack"
    app = lambda do |env|
      session = env["rack.session"]
      session["n"] = session.fetch("n", 0) + 1
      [200, {}, ["ok"]]
    end
    mock = Rack::MockRequest.new(d::RackMiddleware.new(app, options.merge(touch_interval: 0)))
    cookie = nil
    (20 + n).times do
      response = mock.get("/", "HTTP_COOKIE" => cookie.to_s)
      cookie = response["Set-Cookie"]&.split(";")&.first || cookie
    end
  else
    client = d::Native.client(d::Configuration.new(options).native_client_options)
    item = { table: table, key_name: "session_id", key: "instructions-#{rand(1 << 30)}" }
    client.save_session(d::Native::SaveRequest.new(**item, data: "0", created_at: "1", new_session: true))
    get = d::Native::ItemRequest.new(**item, consistent: true)
    (20 + n).times do |i|
      client.get_item(get)
      client.save_session(d::Native::SaveRequest.new(**item, data: i.to_s, new_session: false))
    end
  end
RUBY

# Self cost (the first event, Ir) per object file of a callgrind output:
# every cost line counts for the object of the function it follows, but the
# line after `calls=` (a call's inclusive cost) does not.
def instructions_by_object(path)
  names = {}
  name = lambda do |text|
    id, label = text.match(/\A\((\d+)\)(?: (.*))?\z/)&.captures
    next text unless id

    names[id] = label if label
    names.fetch(id, id)
  end
  totals = Hash.new(0)
  object = nil
  function_object = nil
  after_call = false
  File.foreach(path) do |line|
    case line
    when /\Aob=(.*)/ then object = name.call(Regexp.last_match(1))
    when /\Afn=/ then function_object = object
    when /\Acob=(.*)/ then name.call(Regexp.last_match(1))
    when /\Acalls=/ then after_call = true
    when /\A[\d+\-*]/
      next after_call = false if after_call

      totals[function_object] += line.split[1].to_i
    end
  end
  totals
end

def callgrind(argv, dir, label)
  out = File.join(dir, "#{label}.out")
  log = File.join(dir, "#{label}.log")
  ok = system("valgrind", "--tool=callgrind", "--callgrind-out-file=#{out}", *argv, out: File::NULL, err: log)
  raise "#{label}: valgrind failed (#{File.read(log).lines.last(5).join})" unless ok

  instructions_by_object(out)
end

require "aws-sessionstore-dynamodb-rs"
table = "instructions-#{SecureRandom.hex(4)}"
native = { endpoint: endpoint, region: "us-east-1", access_key_id: "dummy", secret_access_key: "dummy",
           table_name: table }
Aws::SessionStore::DynamoDB::Table.create_table(native.merge(billing_mode: :pay_per_request))
lib = $LOAD_PATH.find { |dir| File.exist?(File.join(dir, "aws-sessionstore-dynamodb-rs.rb")) } || "lib"
variants = {
  "changed request through Rack" => ->(n) { [RbConfig.ruby, "-I", lib, "-e", CHILD, "rack", n.to_s, table] },
  "GetItem + UpdateItem on Native::Client" => ->(n) { [RbConfig.ruby, "-I", lib, "-e", CHILD, "native", n.to_s, table] }
}
variants["the floor (examples/floor.rs), per pair"] = ->(n) { [floor, endpoint, table, n.to_s] } if File.exist?(floor)
begin
  Dir.mktmpdir("instructions") do |dir|
    puts "Instructions per request (callgrind, (#{large} - #{small} requests) / #{large - small}), #{RUBY_DESCRIPTION}"
    puts
    puts "| variant | all | top objects |"
    puts "|---|---:|---|"
    variants.each_with_index do |(label, argv), i|
      before = callgrind(argv.call(small), dir, "#{i}-small")
      after = callgrind(argv.call(large), dir, "#{i}-large")
      per = after.to_h { |object, count| [object, (count - before.fetch(object, 0)) / (large - small).to_f] }
      top = per.sort_by { |_, count| -count }.first(3).map { |object, count| "#{File.basename(object.to_s)} #{count.round}" }
      puts "| #{label} | #{per.values.sum.round} | #{top.join(", ")} |"
    end
    puts "\n(no floor row: #{floor} is missing; `rake bench` builds it)" unless File.exist?(floor)
  end
ensure
  Aws::SessionStore::DynamoDB::Table.delete_table(native)
end
