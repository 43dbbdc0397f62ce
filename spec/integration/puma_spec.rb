# frozen_string_literal: true

# Preforking: Puma in cluster mode (2 workers, preload_app!) whose master
# uses the store before forking, driven over real HTTP; and a plain fork
# after the parent used the store. The native runtime and client are rebuilt
# per process (ext/README.md, "Runtime and fork"), so neither needs hooks.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "net/http"
require "socket"
require "tmpdir"
require_relative "../support/store_requests"

RSpec.describe "Preforking servers" do
  include_context "with a session table"
  include StoreRequestHelpers

  def wait_for(what, timeout)
    deadline = monotonic + timeout
    until (value = yield)
      raise "#{what} within #{timeout} s" if monotonic > deadline

      sleep 0.1
    end
    value
  end

  describe "Puma cluster mode, 2 workers, preload_app!" do
    let(:dir) { Dir.mktmpdir("puma-spec") }
    let(:port) { TCPServer.open("127.0.0.1", 0) { |server| server.addr[1] } }
    let(:log) { File.join(dir, "puma.log") }

    # The master loads this (preload_app!): it builds the middleware and
    # serves one request through it before forking the workers.
    let(:config_ru) do
      <<~RUBY
        require "aws-sessionstore-dynamodb-rs"
        require "rack/mock"

        options = {
          endpoint: ENV.fetch("SPEC_ENDPOINT"), region: "us-east-1", access_key_id: "dummy",
          secret_access_key: "dummy", table_name: ENV.fetch("SPEC_TABLE"), secret_key: ENV.fetch("SPEC_SECRET"),
          touch_interval: 0
        }
        app = lambda do |env|
          session = env["rack.session"]
          session["n"] = session.fetch("n", 0) + 1 unless env["PATH_INFO"] == "/ping"
          [200, { "content-type" => "text/plain", "x-pid" => Process.pid.to_s }, [session["n"].to_s]]
        end
        store = Aws::SessionStore::DynamoDB::RackMiddleware.new(app, options)

        # Before fork: the native client exists and has talked to DynamoDB.
        boot = Rack::MockRequest.new(store).get("/")
        raise "boot request failed: \#{boot.status} \#{boot.errors}" unless boot.status == 200 && boot.body == "1"
        File.write(ENV.fetch("SPEC_BOOT_FILE"), "\#{Process.pid} \#{boot.headers['Set-Cookie'][/rack.session=([^;]*)/, 1]}")

        run store
      RUBY
    end

    let(:puma_config) do
      <<~RUBY
        workers 2
        threads 1, 4
        preload_app!
        bind "tcp://127.0.0.1:#{port}"
        rackup #{File.join(dir, "config.ru").inspect}
        environment "production"
        worker_timeout 30
        #{puma_shutdown_workaround}
      RUBY
    end

    # Puma's own race (puma/puma#3677, fixed by #3940): on TERM a worker's
    # signal handler writes the stop command to its @notify pipe with `<<`
    # (Ruby's buffered write, which takes the IO's write lock) while the
    # server thread, woken by it, closes that pipe; on Ruby 3.3+ the close
    # can wait forever ("puma srv" parked in IO#close at server.rb:406 in
    # Puma 6.6.0, Debian 13's), so the worker never exits and the master
    # waits for it. Seen here on about half the runs with Ruby 3.3 / Puma
    # 6.6.0, never with Ruby 3.1 / Puma 5.6. There, let the master KILL a
    # worker that has not exited 5 s after its TERM (Puma's
    # worker_shutdown_timeout, 30 s by default): the checks below still
    # need a graceful shutdown of the master and every worker gone.
    def puma_shutdown_workaround
      RUBY_VERSION >= "3.3" ? "worker_shutdown_timeout 5" : ""
    end

    def http_get(path, cookie: nil)
      Net::HTTP.start("127.0.0.1", port, open_timeout: 5, read_timeout: 15) do |http|
        request = Net::HTTP::Get.new(path)
        request["Cookie"] = "rack.session=#{cookie}" if cookie
        request["Connection"] = "close" # a new connection each time: any worker may accept it
        http.request(request)
      end
    end

    def session_cookie_of(response)
      response["Set-Cookie"].to_s[/\Arack\.session=([^;]*)/, 1]
    end

    # The file's text, or "" when it can't be read (not written yet).
    def read_or_empty(path)
      File.read(path)
    rescue StandardError
      ""
    end

    def alive?(pid)
      Process.kill(0, pid)
      true
    rescue Errno::ESRCH
      false
    end

    # TERM, then (bounded) wait; KILL only what is left of what we started.
    def shut_down(pid, workers)
      Process.kill(:TERM, pid)
      status = nil
      deadline = monotonic + 20
      while monotonic < deadline
        _, status = Process.wait2(pid, Process::WNOHANG)
        break if status

        sleep 0.1
      end
      unless status
        ([pid] + workers).each { |p| Process.kill(:KILL, p) if alive?(p) }
        _, status = Process.wait2(pid)
      end
      status
    end

    it "serves one session over HTTP from both workers: the counter never goes backwards and ends at 40" do
      File.write(File.join(dir, "config.ru"), config_ru)
      File.write(File.join(dir, "puma.rb"), puma_config)
      boot_file = File.join(dir, "boot")
      env = {
        "RUBYLIB" => [File.expand_path("../../lib", __dir__), ENV["RUBYLIB"]].compact.join(File::PATH_SEPARATOR),
        "SPEC_ENDPOINT" => DynamoDBLocalHelper.endpoint, "SPEC_TABLE" => table_name,
        "SPEC_SECRET" => StoreSpecHelpers::SECRET, "SPEC_BOOT_FILE" => boot_file
      }
      pid = Process.spawn(env, "puma", "-C", File.join(dir, "puma.rb"), chdir: dir, %i[out err] => log)
      workers = []
      begin
        wait_for("Puma did not boot 2 workers (log: #{read_or_empty(log)})", 60) do
          raise "Puma exited: #{File.read(log)}" unless alive?(pid)

          File.exist?(log) && File.read(log).scan(/Worker \d+ \(PID: (\d+)\) booted/).size >= 2
        end
        workers = File.read(log).scan(/Worker \d+ \(PID: (\d+)\) booted/).flatten.map(&:to_i)
        master_pid, boot_cookie = File.read(boot_file).split(" ", 2)
        expect(master_pid.to_i).to eq(pid)
        expect(workers).not_to include(pid)

        counts = []
        pids = []
        cookie = nil
        40.times do
          response = http_get("/", cookie: cookie)
          expect(response.code).to eq("200")
          cookie ||= session_cookie_of(response)
          counts << response.body.to_i
          pids << response["x-pid"].to_i
        end
        expect(counts).to eq((1..40).to_a) # never backwards, nothing lost
        expect(JSON.parse(raw_item(Rack::Utils.unescape(cookie))["data"]["S"])).to eq("n" => 40)
        expect(pids.uniq - workers).to be_empty
        expect(pids.uniq.size).to eq(2), "only worker #{pids.uniq.inspect} answered 40 requests on new connections"

        # A worker continues the session the master wrote before forking.
        expect(http_get("/", cookie: boot_cookie).body).to eq("2")
      ensure
        status = shut_down(pid, workers)
      end
      # Puma re-raises the TERM after its graceful shutdown (raise_exception_on_sigterm).
      clean_exit = status.success? || status.termsig == Signal.list["TERM"]
      expect(clean_exit).to be(true), "Puma exited with #{status.inspect}: #{File.read(log)}"
      expect(File.read(log)).to include("Gracefully shutting down workers")
      expect(workers.reject { |w| alive?(w) }).to eq(workers)
      expect(File.read(log)).not_to match(/Error|exception/i)
    ensure
      FileUtils.rm_rf(dir)
    end
  end

  describe "a plain fork after the parent used the store" do
    let(:inner_app) do
      lambda do |env|
        session = env["rack.session"]
        session["n"] = session.fetch("n", 0) + 1
        [200, { "content-type" => "text/plain" }, ["#{session["n"]} #{Process.pid}"]]
      end
    end
    let(:store) { Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, store_options(touch_interval: 0)) }

    # Runs the block in a forked child; returns what it returned (as a String).
    def in_child(timeout: 30)
      reader, writer = IO.pipe
      pid = fork do
        reader.close
        result = begin
          yield
        rescue Exception => e # rubocop:disable Lint/RescueException
          "#{e.class}: #{e.message}"
        end
        writer.write(result.to_s)
        writer.close
        exit!(0) # no at_exit hooks: RSpec's belong to the parent
      end
      writer.close
      reader_thread = Thread.new { reader.read }
      deadline = monotonic + timeout
      until (status = Process.wait2(pid, Process::WNOHANG)&.last)
        if monotonic > deadline
          Process.kill(:KILL, pid)
          Process.wait(pid)
          raise "forked child did not finish within #{timeout} s"
        end
        sleep 0.05
      end
      output = reader_thread.value
      expect(status.success?).to be(true)
      output
    ensure
      reader&.close
    end

    it "serves sessions in the child, with the parent's middleware and a new one, and the parent still works" do
      first = store_request(store)
      expect(first.body).to start_with("1 ")
      cookie = first.cookie

      child = in_child do
        inherited = store_request(store, cookie: cookie)
        fresh_store = Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, store_options(touch_interval: 0))
        again = store_request(fresh_store, cookie: cookie)
        created = store_request(store)
        [inherited.body, again.body, inherited.errors + again.errors + created.errors, created.cookie].join("|")
      end
      inherited, again, errors, created = child.split("|", 4)
      expect(inherited).to eq("2 #{inherited.split.last}")
      expect(inherited.split.last).not_to eq(Process.pid.to_s)
      expect(again).to start_with("3 ")
      expect(errors).to eq("")
      expect(JSON.parse(raw_item(created)["data"]["S"])).to eq("n" => 1)

      after = store_request(store, cookie: cookie)
      expect(after.body).to eq("4 #{Process.pid}")
      expect(after.errors).to be_empty
    end

    it "serves sessions in several children at once" do
      cookies = Array.new(3) { store_request(store).cookie }
      results = cookies.map do |cookie|
        Thread.new { in_child { Array.new(5) { store_request(store, cookie: cookie).body.split.first }.join(",") } }
      end.map(&:value)
      expect(results).to eq(["2,3,4,5,6"] * 3)
      expect(cookies.map { |c| store_request(store, cookie: c).body.split.first }).to eq(%w[7 7 7])
    end
  end
end
