# frozen_string_literal: true

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "open3"
require "rbconfig"
require "timeout"
require "socket"
require_relative "../support/slow_server"

RSpec.describe "Aws::SessionStore::DynamoDB::Native" do
  let(:native) { Aws::SessionStore::DynamoDB::Native }
  let(:errors) { Aws::SessionStore::DynamoDB::Errors }

  def client_for(endpoint, **extra)
    native::Client.new({ endpoint: endpoint, region: "us-east-1", access_key_id: "dummy",
                         secret_access_key: "dummy", max_attempts: 1 }.merge(extra))
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  describe "the GVL" do
    let(:server) { SlowServer.new(delay: 0.2) }
    after { server.stop }

    it "is released during a call, so a server in Ruby threads can answer it" do
      client = client_for(server.endpoint, operation_timeout: 5.0)
      expect(native_get(client, "t", "k")).to be_nil
      expect(server.requests).to eq(1)
    end

    it "lets 4 threads each wait 500 ms at the same time" do
      slow = SlowServer.new(delay: 0.5)
      client = client_for(slow.endpoint, operation_timeout: 5.0)
      native_get(client, "t", "warm")
      started = monotonic
      4.times.map { |i| Thread.new { native_get(client, "t", "k#{i}") } }.each(&:join)
      elapsed = monotonic - started
      expect(elapsed).to be < 1.5 # one after the other: 2 s; a second of slack for a loaded machine
      expect(slow.requests).to eq(5)
    ensure
      slow&.stop
    end

    it "lets Timeout.timeout interrupt a call promptly" do
      slow = SlowServer.new(delay: 5)
      client = client_for(slow.endpoint, operation_timeout: 30.0)
      started = monotonic
      expect { Timeout.timeout(0.3) { native_get(client, "t", "k") } }.to raise_error(Timeout::Error)
      expect(monotonic - started).to be < 1.5
    ensure
      slow&.stop
    end
  end

  # A process with one Ruby thread (a Unicorn worker, a rake task): Ruby
  # calls the unblocking function from its signal handler (it is
  # async-signal-safe, RB_NOGVL_UBF_ASYNC_SAFE) instead of starting a helper
  # thread around every call. Run in a child, where the spec's own threads
  # don't exist.
  describe "in a process with a single Ruby thread" do
    let(:lib) { File.expand_path("../../lib", __dir__) }

    def child(script, *args)
      Open3.popen2e(RbConfig.ruby, "-I", lib, "-e", script, *args)
    end

    it "starts no helper thread per call" do
      script = <<~RUBY
        require "aws-sessionstore-dynamodb-rs"
        n = Aws::SessionStore::DynamoDB::Native
        client = n::Client.new(endpoint: ARGV[0], region: "us-east-1", access_key_id: "dummy",
                               secret_access_key: "dummy", max_attempts: 1)
        get = -> { client.get_item(n::ItemRequest.new(table: "missing", key_name: "k", key: "x", consistent: true)) rescue nil }
        get.call
        GC.start
        GC.disable
        before = ObjectSpace.each_object(Thread).count
        20.times { get.call }
        puts "threads=\#{Thread.list.size} created=\#{ObjectSpace.each_object(Thread).count - before}"
      RUBY
      _in, out, wait = child(script, DynamoDBLocalHelper.endpoint)
      text = out.read
      expect(wait.value).to be_success, text
      expect(text).to include("threads=1 created=0")
    end

    it "is interrupted by a signal within a fraction of a second" do
      silent = TCPServer.new("127.0.0.1", 0) # accepts, never answers
      script = <<~RUBY
        require "aws-sessionstore-dynamodb-rs"
        n = Aws::SessionStore::DynamoDB::Native
        client = n::Client.new(endpoint: ARGV[0], region: "us-east-1", access_key_id: "dummy",
                               secret_access_key: "dummy", max_attempts: 1, operation_timeout: 30)
        $stdout.sync = true
        puts "calling with \#{Thread.list.size} thread"
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        begin
          client.get_item(n::ItemRequest.new(table: "t", key_name: "k", key: "x", consistent: true))
        rescue Interrupt
          puts format("interrupted after %.2f s", Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
        end
      RUBY
      stdin, out, wait = child(script, "http://127.0.0.1:#{silent.addr[1]}")
      expect(out.gets).to eq("calling with 1 thread\n")
      sleep 0.5 # in the call now
      Process.kill("INT", wait.pid)
      line = Timeout.timeout(10) { out.gets }
      expect(line).to match(/\Ainterrupted after \d+\.\d+ s$/)
      expect(line[/[\d.]+/].to_f).to be < 1.5
      expect(wait.value).to be_success
    ensure
      stdin&.close
      silent&.close
    end
  end

  describe "errors" do
    it "raises TimeoutError past operation_timeout" do
      slow = SlowServer.new(delay: 3)
      client = client_for(slow.endpoint, operation_timeout: 0.3)
      started = monotonic
      expect { native_get(client, "t", "k") }.to raise_error(errors::TimeoutError)
      expect(monotonic - started).to be < 2
    ensure
      slow&.stop
    end

    it "raises NetworkError when nothing listens" do
      port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
      client = client_for("http://127.0.0.1:#{port}")
      expect { native_get(client, "t", "k") }.to raise_error(errors::NetworkError)
    end

    it "raises ResourceNotFoundError with DynamoDB's code and request id for a missing table" do
      client = client_for(DynamoDBLocalHelper.endpoint)
      expect { native_get(client, "missing-#{SecureRandom.hex(4)}", "k") }
        .to raise_error(errors::ResourceNotFoundError) { |e|
          expect(e.code).to eq("ResourceNotFoundException")
          expect(e.request_id).to be_a(String)
          expect(e.status_code).to eq(400)
        }
    end

    it "turns a Rust panic into InternalError, never fatal" do
      expect { native.__panic__("boom") }.to raise_error(errors::InternalError, /boom/)
      expect(native.__panic__("")).to be_nil
    end

    it "resolves its exception classes when it loads: a missing one fails the require, naming it" do
      lib = File.expand_path("../../lib", __dir__)
      script = <<~RUBY
        require "aws/session_store/dynamo_db/errors"
        Aws::SessionStore::DynamoDB::Errors.send(:remove_const, :LockLostError)
        begin
          require "aws/session_store/dynamo_db/native"
          puts "loaded"
        rescue NameError => e
          puts "NameError: \#{e.message}"
        end
      RUBY
      out, status = Open3.capture2e(RbConfig.ruby, "-I", lib, "-e", script)
      expect(status).to be_success, out
      expect(out).to match(/\ANameError: .*LockLostError/)
    end

    it "rejects options of the wrong type with ConfigurationError" do
      expect { native::Client.new(region: 42) }.to raise_error(errors::ConfigurationError, /region/)
      expect { native::Client.new(connect_timeout: "soon") }.to raise_error(errors::ConfigurationError, /connect_timeout/)
    end
  end

  describe ".sid_digest" do
    it "is OpenSSL's HMAC-MD5 hex for any secret and id bytes" do
      native = Aws::SessionStore::DynamoDB::Native
      secrets = ["", "k", "x" * 64, "y" * 65, "z" * 200, "s\u00e9cr\u00eat", Random.bytes(33), SecureRandom.hex(64)]
      ids = ["", "abc", SecureRandom.hex(32), "\xff\x00".b, "\u2603" * 40]
      secrets.product(ids).each do |secret, id|
        expect(native.sid_digest(secret, id)).to eq(OpenSSL::HMAC.hexdigest("MD5", secret, id)), [secret, id].inspect
      end
    end

    it "raises TypeError for a non-String, and loading the store does not load OpenSSL" do
      expect { Aws::SessionStore::DynamoDB::Native.sid_digest(nil, "x") }.to raise_error(TypeError)
      loaded = IO.popen([RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__), "-e",
                         'require "aws-sessionstore-dynamodb-rs"; print defined?(OpenSSL).inspect'], &:read)
      expect(loaded).to eq("nil")
    end
  end

  describe "fork" do
    include_context "with a session table"

    it "serves calls in a forked child after the parent used the runtime" do
      client = client_for(DynamoDBLocalHelper.endpoint)
      expect(native_save_new(client, table_name, "parent", "{}")).to be(true)
      pid = fork do
        ok = native_get(client, table_name, "parent")&.fetch("data") == "{}" &&
             native_save_new(client, table_name, "child", "{}")
        exit!(ok ? 0 : 1)
      end
      _, status = Process.wait2(pid)
      expect(status.exitstatus).to eq(0)
      expect(native_get(client, table_name, "child")).to include("data" => "{}")
    end
  end

  describe "sharing" do
    it "keeps one client per distinct option set" do
      options = { endpoint: DynamoDBLocalHelper.endpoint, region: "us-east-1" }
      expect(native.client(options)).to equal(native.client(options.dup))
      expect(native.client(options)).not_to equal(native.client(options.merge(max_attempts: 2)))
    end
  end
end
