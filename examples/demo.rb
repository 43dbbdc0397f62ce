# frozen_string_literal: true

# The tour script/demo runs: examples/app/config.ru served by Puma in cluster
# mode (examples/app/puma.rb) against DynamoDB Local, visited over real HTTP.
#
#   1. visitor A: sequential requests, each on a new connection, cookie
#      carried; the counter goes on whichever worker process answers;
#   2. visitor B on /locked (enable_locking: true): parallel increments of one
#      session, none lost, each waiting for the lock; the same without
#      locking, for contrast;
#   3. log out everywhere: visitors C and D sign in as one user, C lists
#      the user's sessions and signs out everywhere else, D is signed out;
#   4. garbage collection of abandoned sessions, with the progress line;
#   5. Puma stopped, table deleted.
#
# It doubles as a smoke test: a wrong answer raises, and the exit status is 1.
# script/demo sets everything up; by hand, with a DynamoDB Local running:
#
#   eval "$(script/dynamodb-local/start)"
#   AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy \
#     ruby -Ilib examples/demo.rb

require "fileutils"
require "json"
require "net/http"
require "securerandom"
require "socket"
require "aws-sessionstore-dynamodb-rs"
require "aws/session_store/dynamo_db/progress"
# A DynamoDB JSON-protocol client sharing no code with the gem (the specs'
# one): it plants items as an older app would have left them.
require_relative "../spec/support/raw_dynamodb"

module Demo
  Store = Aws::SessionStore::DynamoDB
  APP = File.expand_path("app/config.ru", __dir__)
  PUMA_CONFIG = File.expand_path("app/puma.rb", __dir__)
  LIB = File.expand_path("../lib", __dir__)
  HOST = "127.0.0.1"

  # A wrong answer: the demo fails.
  class Failure < StandardError; end

  def self.check(condition, message)
    raise Failure, message unless condition
  end

  # A browser over real HTTP: one cookie jar, a new connection per request
  # (so every request may land on another Puma worker).
  class Visitor
    def initialize(port)
      @port = port
      @cookies = {}
    end

    # @return [String, nil] the cookie's value: the session's item key.
    def cookie(name)
      @cookies[name]
    end

    # @return [Hash] the app's JSON answer.
    def get(path)
      response = request(path)
      Array(response.get_fields("set-cookie")).each do |line|
        name, value = line.split(";", 2).first.split("=", 2)
        @cookies[name] = value
      end
      JSON.parse(response.body)
    end

    # `n` requests at once with the current cookie. @return [Array<Hash>]
    def get_parallel(path, n)
      Array.new(n) { Thread.new { JSON.parse(request(path).body) } }.map(&:value)
    end

    private

    def request(path)
      headers = @cookies.empty? ? {} : { "Cookie" => @cookies.map { |k, v| "#{k}=#{v}" }.join("; ") }
      response = Net::HTTP.start(HOST, @port, open_timeout: 5, read_timeout: 30) { |http| http.get(path, headers) }
      Demo.check(response.code == "200", "GET #{path}: HTTP #{response.code} #{response.body[0, 200]}")
      response
    end
  end

  # Puma in cluster mode on a free loopback port, in its own process group.
  class Puma
    attr_reader :port, :master, :workers, :version, :log

    def initialize(state_dir, env)
      @state_dir = state_dir
      @env = env
      @log = File.join(state_dir, "puma.log")
      @pidfile = File.join(state_dir, "puma.pid")
    end

    # Retries on another port when the one picked was taken meanwhile.
    def start
      3.times do
        @port = free_port
        @master = Process.spawn(
          @env.merge("PORT" => @port.to_s, "PUMA_PIDFILE" => @pidfile,
                     "RUBYLIB" => [LIB, ENV["RUBYLIB"]].compact.join(File::PATH_SEPARATOR)),
          "puma", "-C", PUMA_CONFIG, APP,
          in: File::NULL, out: @log, err: %i[child out], pgroup: true
        )
        return self if booted?

        stop
      end
      raise Failure, "Puma did not boot; its log:\n#{File.read(@log)}"
    end

    # SIGTERM to the master (it stops its workers gracefully), then SIGKILL
    # to the process group for anything still there after 15 s.
    # @return [Array<Integer>] pids still alive afterwards (none, normally).
    def stop
      return [] unless @master

      group = @master # spawned with pgroup: true, so the group's id
      signal("TERM", @master)
      unless wait_master(15)
        signal("KILL", -group)
        wait_master(5)
      end
      @master = nil
      deadline = now + 5
      sleep 0.05 while Array(@workers).any? { |pid| alive?(pid) } && now < deadline
      signal("KILL", -group) if Array(@workers).any? { |pid| alive?(pid) }
      sleep 0.1
      Array(@workers).select { |pid| alive?(pid) }
    end

    private

    def free_port
      server = TCPServer.new(HOST, 0)
      server.addr[1]
    ensure
      server&.close
    end

    # Both workers report "booted" in the master's log once they serve.
    def booted?
      deadline = now + 30
      while now < deadline
        return false if Process.wait(@master, Process::WNOHANG)

        log = File.read(@log)
        @workers = log.scan(/Worker \d+ \(PID: (\d+)\) booted/).flatten.map(&:to_i)
        @version = log[/Puma version: (\S+)/, 1]
        return true if @workers.size >= 2

        sleep 0.1
      end
      false
    end

    def wait_master(seconds)
      deadline = now + seconds
      while now < deadline
        return true if Process.wait(@master, Process::WNOHANG)

        sleep 0.05
      end
      false
    rescue Errno::ECHILD
      true
    end

    def alive?(pid)
      Process.kill(0, pid)
      true
    rescue Errno::ESRCH, Errno::EPERM
      false
    end

    def signal(name, pid)
      Process.kill(name, pid)
    rescue Errno::ESRCH, Errno::EPERM
      nil
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end

  # The printed walk-through.
  class Tour
    VISITS = 10
    PARALLEL = 8
    WORK = 0.2 # seconds each parallel request holds the session
    ABANDONED = 40

    def initialize(out: $stdout,
                   endpoint: ENV.fetch("DYNAMODB_ENDPOINT") { abort "DYNAMODB_ENDPOINT is not set: run script/demo" },
                   state_dir: ENV.fetch("DEMO_STATE_DIR") { File.expand_path("../tmp/demo", __dir__) })
      @out = out
      @endpoint = endpoint
      @state_dir = state_dir
      # A fresh table per run: runs never see each other's sessions.
      @table = "demo_sessions_#{SecureRandom.hex(4)}"
      @options = { endpoint: endpoint, table_name: @table, billing_mode: :pay_per_request }
      @raw = RawDynamoDB.new(endpoint)
    end

    def run
      FileUtils.mkdir_p(@state_dir)
      create_table
      start_puma
      visitor_a = visit_sequentially
      show_item(visitor_a)
      visit_in_parallel
      log_out_everywhere
      collect_garbage(visitor_a)
    ensure
      @failing = $! # an error or interrupt on its way out
      shut_down
    end

    private

    def say(line = "")
      @out.puts(line)
      @out.flush
    end

    # Two columns, in order down the first, then the second.
    def in_columns(lines)
      half = (lines.size + 1) / 2
      lines.first(half).zip(lines.drop(half)).each { |left, right| say "  #{left.ljust(36)}  #{right}".rstrip }
    end

    def step(title)
      say
      say "== #{title}"
    end

    def create_table
      step "DynamoDB Local #{@endpoint}: the session table"
      # user_key: the app's (examples/app/config.ru), for the user index.
      result = Store::Table.create_table(@options.merge(user_key: "user"))
      @created = true
      info = Store::Table.describe_table(@options)
      say "  #{@table}: Table.create_table(billing_mode: :pay_per_request, user_key: \"user\") => #{result.inspect}"
      say "  #{info[:status]}, key #{info[:key_name]}, TTL #{info[:ttl_status]} on #{info[:ttl_attribute]}, " \
          "user index #{info[:user_index]}"
      Demo.check(info[:ttl_attribute] == "expire_at", "TTL is not on expire_at: #{info.inspect}")
      Demo.check(info[:user_index] == "ACTIVE", "no user index: #{info.inspect}")
    end

    def start_puma
      step "Puma cluster serving examples/app/config.ru"
      env = {
        "SESSION_SECRET" => SecureRandom.hex(64),
        # The store reads its table and endpoint from the environment.
        "AWS_DYNAMO_DB_SESSION_TABLE_NAME" => @table,
        "AWS_DYNAMO_DB_SESSION_ENDPOINT" => @endpoint
      }
      @puma = Puma.new(@state_dir, env).start
      say "  puma #{@puma.version} on http://#{HOST}:#{@puma.port}: 2 workers, preload_app!, 4 threads each"
      say "  master #{@puma.master}, workers #{@puma.workers.join(" and ")} (log: #{@puma.log.delete_prefix("#{Dir.pwd}/")})"
    end

    def visit_sequentially
      step "Visitor A: #{VISITS} requests to / (more if one worker took them all), a new connection each, the cookie carried"
      visitor = Visitor.new(@puma.port)
      answers = Array.new(VISITS) { visitor.get("/") }
      # Which worker accepts a new connection is the kernel's pick: if one
      # took them all, go on (up to three times as many) until the other does.
      answers << visitor.get("/") while answers.map { |a| a["pid"] }.uniq.size < 2 && answers.size < VISITS * 3
      lines = answers.each_with_index.map do |a, i|
        format("request %2d: count=%-2d worker %d", i + 1, a["count"], a["pid"])
      end
      in_columns(lines)
      counts = answers.map { |a| a["count"] }
      pids = answers.map { |a| a["pid"] }.uniq
      Demo.check(counts.each_cons(2).all? { |a, b| b == a + 1 } && counts.first == 1,
                 "the counter went 1 to #{answers.size}? it went #{counts.inspect}")
      Demo.check(pids.size >= 2, "only worker #{pids.first} answered: the session never crossed workers")
      @visits = answers.size
      say "  ok: one session counted 1..#{@visits}, never backwards, across workers #{pids.sort.join(" and ")}"
      visitor
    end

    # The official gem's item format: the cookie value is the key, `data` is
    # JSON, timestamps are Float strings, expire_at a number for the TTL.
    def show_item(visitor)
      key = visitor.cookie("demo.session")
      item = key && @raw.get_item(@table, "session_id" => { "S" => key })["Item"]
      Demo.check(item, "no item for visitor A's cookie #{key.inspect}")
      order = %w[session_id data created_at updated_at expire_at]
      types = item.sort_by { |name, _| order.index(name) || order.size }.map do |name, value|
        name == "data" ? "data S #{value["S"]}" : "#{name} #{value.keys.first}"
      end
      say "  its item (v4 format): #{types.join(", ")}"
    end

    def visit_in_parallel
      step "Visitor B on /locked (enable_locking: true): #{PARALLEL} parallel increments of one session"
      visitor = Visitor.new(@puma.port)
      first = visitor.get("/locked")
      say "  GET /locked: count=#{first["count"]} (worker #{first["pid"]}); then #{PARALLEL} at once, " \
          "each holding the session #{WORK} s:"
      answers = visitor.get_parallel("/locked?work=#{WORK}", PARALLEL).sort_by { |a| a["count"] }
      in_columns(answers.map { |a| format("count=%-2d worker %d waited %.2f s", a["count"], a["pid"], a["loaded_in"]) })
      counts = answers.map { |a| a["count"] }
      expected = (first["count"] + 1..first["count"] + PARALLEL).to_a
      Demo.check(counts == expected, "lost updates with locking: counts #{counts.inspect}, expected #{expected.inspect}")
      # One at a time: the last one waited for the others' work.
      longest = answers.map { |a| a["loaded_in"] }.max
      Demo.check(longest >= (PARALLEL - 1) * WORK * 0.9, "the requests did not wait for each other (#{longest} s)")
      say "  ok: final count #{counts.last} = 1 + #{PARALLEL}, no update lost; " \
          "one at a time, the last waited #{format("%.2f", longest)} s"

      unlocked = Visitor.new(@puma.port)
      unlocked.get("/")
      last = unlocked.get_parallel("/?work=#{WORK}", PARALLEL).map { |a| a["count"] }.max
      say "  without locking (/), the same #{PARALLEL} requests end at count=#{last}: " \
          "#{1 + PARALLEL - last} of #{PARALLEL} updates lost"
    end

    def log_out_everywhere
      step "Log out everywhere (user_key: \"user\"): visitors C and D sign in as carol; C signs out everywhere else"
      c = Visitor.new(@puma.port)
      d = Visitor.new(@puma.port)
      [c, d].each { |visitor| visitor.get("/account/login?user=carol") }
      before = c.get("/account")["sessions"]
      say "  C lists carol's sessions: #{before.map { |s| "#{s["handle"]}…#{" (this one)" if s["current"]}" }.join(", ")}"
      Demo.check(before.size == 2 && before.count { |s| s["current"] } == 1, "C should list 2 sessions: #{before}")
      revoked = c.get("/account/others-out")["revoked"]
      say "  C: UserSessions.of(request).revoke_others(\"carol\") => #{revoked}"
      Demo.check(revoked == 1, "revoke_others should end D's session, it ended #{revoked.inspect}")
      d_now = d.get("/account")
      say "  D's next request: #{d_now["user"] ? "still signed in as #{d_now["user"]}" : "signed out"}"
      Demo.check(d_now["user"].nil?, "D is still signed in: #{d_now}")
      after = c.get("/account")["sessions"]
      say "  C lists carol's sessions again: #{after.size} (#{after.map { |s| "#{s["handle"]}…" }.join})"
      Demo.check(after.size == 1 && after.first["current"], "C should be the only session left: #{after}")
    end

    def collect_garbage(visitor_a)
      step "Garbage collection: GarbageCollection.collect_garbage(max_stale: 2 h, 50 deletes/s at most)"
      plant_abandoned_sessions
      live = @raw.scan_all(@table).size - ABANDONED
      progress = Store::Progress.new(@out)
      last = nil
      result = Store::GarbageCollection.collect_garbage(
        @options.merge(max_stale: 2 * 3600, gc_max_deletes_per_second: 50)
      ) do |stats|
        last = stats
        progress.update(stats)
      end
      progress.clear
      # On a terminal the line was redrawn in place, about 4 times a second;
      # its last state stays.
      say "  progress, last update: #{Store::Progress.line(last)}" if last
      say "  #{result.summary}"
      left = @raw.scan_all(@table).size
      Demo.check(result.deleted == ABANDONED && left == live,
                 "expected #{ABANDONED} deleted and #{live} left, got #{result.deleted} deleted and #{left} left")
      again = visitor_a.get("/")
      say "  ok: the #{live} live sessions stayed; visitor A comes back: count=#{again["count"]} (worker #{again["pid"]})"
      Demo.check(again["count"] == @visits + 1, "visitor A's session did not survive: count=#{again["count"]}")
    end

    # Sessions last written 3 hours ago, as an app left them: most in the v4
    # format (Float strings), some from before v3 (numbers).
    def plant_abandoned_sessions
      written = Time.now.to_f - 3 * 3600
      items = Array.new(ABANDONED) do |i|
        stamp = (i % 4).zero? ? { "N" => written.to_i.to_s } : { "S" => written.to_s }
        { "session_id" => { "S" => "#{SecureRandom.hex(16)}--#{SecureRandom.hex(32)}" },
          "data" => { "S" => JSON.generate("count" => i + 1) },
          "created_at" => stamp, "updated_at" => stamp }
      end
      @raw.batch_put(@table, items)
      numeric = items.count { |item| item["updated_at"].key?("N") }
      say "  planted #{ABANDONED} sessions last written 3 h ago (raw BatchWriteItem; " \
          "#{numeric} with pre-v3 numeric timestamps)"
    end

    def shut_down
      step "Shutting down"
      if @puma
        left = @puma.stop
        say "  Puma stopped: master and workers #{Array(@puma.workers).join(" and ")} exited" if left.empty?
        # Without hiding an error already on its way out.
        Demo.check(left.empty?, "Puma processes still alive: #{left.inspect}") unless @failing
      end
      delete_table if @created
    end

    def delete_table
      say "  Table.delete_table => #{Store::Table.delete_table(@options).inspect}"
    rescue Store::Errors::Error => e
      # Interrupted: Ctrl-C reaches DynamoDB Local too, and its in-memory
      # tables go with it.
      raise unless @failing

      say "  table not deleted: #{e.message.lines.first.strip}"
    end
  end
end

if $PROGRAM_NAME == __FILE__
  begin
    Demo::Tour.new.run
  rescue Demo::Failure => e
    warn "demo failed: #{e.message}"
    exit 1
  rescue SignalException => e # Interrupt (SIGINT) is a SignalException
    warn "demo interrupted (#{e.is_a?(Interrupt) ? "SIGINT" : e.message})"
    exit 130
  end
end
