# frozen_string_literal: true

# No inspect output, error message or log line carries the HMAC secret key,
# the AWS secret access key, the session token or session data. Distinctive
# canaries are planted in each and looked for in everything the store shows:
# Configuration#inspect/to_s/pp, the middleware's inspect, the message,
# inspect and full_message of every error of the failure scenarios
# (throttling, timeout, network, corrupt item, oversize, invalid id,
# validation, serialization, missing table, lock wait), the rack.errors
# lines, and everything written to the process's stderr (fd 2, so native
# output too).

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "pp"
require "stringio"
require "tempfile"
require "tmpdir"
require "openssl"
require "securerandom"
require_relative "../support/counting_proxy"
require_relative "../support/store_requests"

RSpec.describe "Secrets and session data stay out of logs, errors and inspect output" do
  include StoreRequestHelpers

  SECRET_KEY_CANARY = "HMAC-SECRET-CANARY-#{SecureRandom.hex(8)}".freeze
  AWS_SECRET_CANARY = "AWS-SECRET-ACCESS-KEY-CANARY-#{SecureRandom.hex(8)}".freeze
  SESSION_TOKEN_CANARY = "AWS-SESSION-TOKEN-CANARY-#{SecureRandom.hex(8)}".freeze
  SESSION_DATA_CANARY = "SESSION-DATA-CANARY-#{SecureRandom.hex(8)}".freeze
  CANARIES = [SECRET_KEY_CANARY, AWS_SECRET_CANARY, SESSION_TOKEN_CANARY, SESSION_DATA_CANARY].freeze

  let(:mod) { Aws::SessionStore::DynamoDB }

  # Options with every secret set to its canary. DynamoDB Local checks no
  # signature; it only keys its data by the access key id, which stays
  # "dummy" so the tables created by RawDynamoDB are visible.
  def secret_options(extra = {})
    {
      endpoint: DynamoDBLocalHelper.endpoint, region: "us-east-1", access_key_id: "dummy",
      secret_access_key: AWS_SECRET_CANARY, session_token: SESSION_TOKEN_CANARY, secret_key: SECRET_KEY_CANARY
    }.merge(extra)
  end

  def expect_no_canary(text, what)
    leaked = CANARIES.select { |canary| text.to_s.include?(canary) }
    expect(leaked).to be_empty, "#{what} shows #{leaked.join(", ")}:\n#{text.to_s[0, 2000]}"
  end

  def pp_string(object)
    out = +""
    PP.pp(object, out)
    out
  end

  describe "Configuration" do
    around do |example|
      saved = ENV.to_h
      example.run
    ensure
      ENV.replace(saved)
    end

    it "redacts every secret in inspect, to_s and pp, whatever the source" do
      Dir.mktmpdir("secrets-spec") do |dir|
        yaml = File.join(dir, "store.yml")
        File.write(yaml, "secret_key: #{SECRET_KEY_CANARY}\nsession_token: #{SESSION_TOKEN_CANARY}\n")
        ENV["AWS_DYNAMO_DB_SESSION_SECRET_ACCESS_KEY"] = AWS_SECRET_CANARY
        configs = [
          mod::Configuration.new(secret_options),
          mod::Configuration.new(config_file: yaml, access_key_id: "dummy"),
          mod::Configuration.new(
            secret_key: SECRET_KEY_CANARY,
            dynamo_db_client: { access_key_id: "dummy", secret_access_key: AWS_SECRET_CANARY,
                                session_token: SESSION_TOKEN_CANARY }
          )
        ]
        configs.each do |config|
          expect([config.secret_key, config.secret_access_key, config.session_token])
            .to eq([SECRET_KEY_CANARY, AWS_SECRET_CANARY, SESSION_TOKEN_CANARY])
          expect(config.inspect).to include("secret_key=[REDACTED]", "secret_access_key=[REDACTED]",
                                            "session_token=[REDACTED]")
          expect_no_canary(config.inspect, "Configuration#inspect")
          expect_no_canary(config.to_s, "Configuration#to_s")
          expect_no_canary("config: #{config}", "Configuration interpolated")
          expect_no_canary(pp_string(config), "pp(Configuration)")
          expect_no_canary([config].inspect, "inspect of an Array holding a Configuration")
        end
      end
    end

    it "never names a secret's value in a ConfigurationError" do
      attempts = [
        -> { mod::Configuration.new(secret_key: SECRET_KEY_CANARY.to_sym) },
        -> { mod::Configuration.new(secret_access_key: AWS_SECRET_CANARY) }, # without access_key_id
        -> { mod::Configuration.new(access_key_id: "dummy", secret_access_key: [AWS_SECRET_CANARY]) },
        -> { mod::Configuration.new(session_token: SESSION_TOKEN_CANARY) }, # without credentials
        -> { mod::Configuration.new(secret_key: SECRET_KEY_CANARY, max_attempts: 0) },
        -> { mod::Configuration.new(secret_key: SECRET_KEY_CANARY, dynamo_db_client: Object.new) },
        -> { mod::Configuration.new(dynamo_db_client: { secret_access_key: AWS_SECRET_CANARY, bogus: SESSION_TOKEN_CANARY }) },
        -> { mod::Native::Client.new(secret_access_key: AWS_SECRET_CANARY.to_sym, access_key_id: "x") },
        lambda {
          Dir.mktmpdir do |dir|
            path = File.join(dir, "broken.yml")
            File.write(path, "secret_key: \"#{SECRET_KEY_CANARY}\n  session_token: [#{SESSION_TOKEN_CANARY}\n")
            mod::Configuration.new(config_file: path)
          end
        },
        lambda {
          ENV["AWS_DYNAMO_DB_SESSION_SECRET_KEY"] = SECRET_KEY_CANARY
          ENV["AWS_DYNAMO_DB_SESSION_MAX_AGE"] = "-5"
          mod::Configuration.new
        }
      ]
      attempts.each_with_index do |attempt, i|
        expect { attempt.call }.to raise_error(mod::Errors::ConfigurationError) { |e|
          expect_no_canary(e.message, "ConfigurationError ##{i}")
          expect_no_canary(e.full_message(highlight: false), "ConfigurationError ##{i} full_message")
        }
      end
    end
  end

  describe "RackMiddleware#inspect" do
    let(:middleware) { mod::RackMiddleware.new(->(_env) { [200, {}, []] }, secret_options) }

    it "does not show the AWS secret access key or session token" do
      [middleware.inspect, pp_string(middleware)].each do |text|
        expect(text).not_to include(AWS_SECRET_CANARY, SESSION_TOKEN_CANARY)
      end
    end

    it "does not show the HMAC secret key" do
      expect_no_canary(middleware.inspect, "RackMiddleware#inspect")
      expect_no_canary(pp_string(middleware), "pp(RackMiddleware)")
    end

    it "keeps store options, secrets included, out of env['rack.session.options']" do
      seen = nil
      store = mod::RackMiddleware.new(lambda { |env|
        seen = env["rack.session.options"].to_hash.inspect + env["rack.session.options"].inspect
        [200, {}, []]
      }, secret_options)
      store_request(store)
      expect_no_canary(seen, "rack.session.options")
    end
  end

  describe "errors of the failure scenarios" do
    include_context "with a session table"

    # Records every error the store hands to the handler, then behaves as
    # the default handler (a line in rack.errors, or a re-raise).
    class SecretsSpecRecordingHandler < Aws::SessionStore::DynamoDB::Errors::DefaultHandler
      attr_reader :seen

      def initialize
        super(false)
        @seen = []
      end

      def handle_error(error, env = {})
        @seen << error
        super
      end
    end

    let(:handler) { SecretsSpecRecordingHandler.new }
    let(:proxy) { CountingProxy.new(DynamoDBLocalHelper.endpoint) }
    let(:raised) { [] }
    let(:logs) { [] }

    # "/" stores the canary in the session; "/big" makes it too large;
    # "/bad" makes it unserializable (invalid UTF-8 next to the canary).
    let(:inner_app) do
      lambda do |env|
        session = env["rack.session"]
        session["secret"] = SESSION_DATA_CANARY
        session["blob"] = SESSION_DATA_CANARY * 30_000 if env["PATH_INFO"] == "/big"
        session["bad"] = "#{SESSION_DATA_CANARY}\xff".b.force_encoding("UTF-8") if env["PATH_INFO"] == "/bad"
        [200, { "content-type" => "text/plain" }, ["ok"]]
      end
    end

    def store_with(extra = {})
      mod::RackMiddleware.new(inner_app, secret_options(table_name: table_name, error_handler: handler).merge(extra))
    end

    def sign(sid)
      "#{OpenSSL::HMAC.hexdigest("MD5", SECRET_KEY_CANARY, sid)}--#{sid}"
    end

    # Runs a request; keeps rack.errors and any exception that escaped.
    def attempt(store, path = "/", **options)
      response = store_request(store, path, **options)
      logs << response.errors
      response
    rescue StandardError => e
      raised << e
      nil
    end

    # Captures fd 2 (Ruby's $stderr and native writes alike) around the block.
    def capturing_stderr
      saved = $stderr.dup
      Tempfile.create("secrets-stderr") do |file|
        $stderr.reopen(file)
        begin
          yield
        ensure
          $stderr.flush
          $stderr.reopen(saved)
        end
        File.read(file.path)
      end
    ensure
      saved&.close
    end

    after { proxy.stop }

    # Runs every failure scenario once; @return [String] what went to stderr.
    def run_scenarios
      capturing_stderr do
        base = store_with(touch_interval: 0)
        victim = attempt(base).cookie
        expect(raw_item(victim)["data"]["S"]).to include(SESSION_DATA_CANARY) # the canary really is in the data

        # Throttling and a stalled server, through the proxy. Throttling
        # gets 5 s for its two attempts: the SDK's backoff between them
        # alone may take a second, and on a loaded machine a 1 s limit made
        # it a TimeoutError.
        throttled = store_with(endpoint: proxy.endpoint, operation_timeout: 5, max_attempts: 2)
        through_proxy = store_with(endpoint: proxy.endpoint, operation_timeout: 1, max_attempts: 2)
        proxy.on_request do |op, _|
          [400, CountingProxy.error_body("ThrottlingException", "slow down")] if op == "GetItem"
        end
        attempt(throttled, cookie: victim)
        proxy.on_request { |op, _| 30 if op == "GetItem" }
        attempt(through_proxy, cookie: victim)
        proxy.on_request { |op, _| :drop if op == "UpdateItem" }
        attempt(through_proxy, cookie: victim)
        proxy.on_request

        # Nothing listening.
        port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
        attempt(store_with(endpoint: "http://127.0.0.1:#{port}", max_attempts: 1), cookie: victim)

        # A corrupt item whose data holds the canary.
        corrupt = sign(SecureRandom.hex(16))
        raw_dynamodb.put_item(table_name, "session_id" => { "S" => corrupt },
                                          "data" => { "S" => "{\"secret\":\"#{SESSION_DATA_CANARY}\"" },
                                          "created_at" => { "S" => Time.now.to_f.to_s })
        attempt(base, cookie: corrupt)
        attempt(store_with(serializer: :marshal), cookie: corrupt)

        # Oversize, unserializable, invalid ids (one carrying the canaries).
        attempt(base, "/big", cookie: victim)
        attempt(base, "/bad", cookie: victim)
        attempt(base, cookie: "#{SECRET_KEY_CANARY}--#{SESSION_DATA_CANARY}")
        attempt(base, cookie: "#{"0" * 32}--#{SecureRandom.hex(16)}")

        # A key schema mismatch: DynamoDB's ValidationException.
        attempt(store_with(table_key: "id"), cookie: victim)

        # Hard errors: raised through the handler.
        attempt(store_with(table_name: "missing-#{SecureRandom.hex(4)}"), cookie: victim)
        locked = sign(SecureRandom.hex(16))
        raw_dynamodb.put_item(table_name, "session_id" => { "S" => locked }, "data" => { "S" => "{}" },
                                          "created_at" => { "S" => Time.now.to_f.to_s },
                                          "locked_at" => { "S" => Time.now.to_f.to_s })
        attempt(store_with(enable_locking: true, lock_expiry_time: 60_000, lock_retry_delay: 50, lock_max_wait_time: 0.3),
                cookie: locked)

        warn "marker written to stderr by the spec"
      end
    end

    # Every message an error would show anywhere: its own, and those of its
    # causes (printed by full_message, error trackers and Rails' logs).
    def cause_chain(error)
      chain = []
      while (error = error.cause) && chain.size < 10
        chain << error
      end
      chain
    end

    it "never carry a secret or session data, in the error, rack.errors or stderr" do
      stderr = run_scenarios

      classes = handler.seen.map(&:class)
      expect(classes).to include(mod::Errors::ThrottlingError, mod::Errors::TimeoutError, mod::Errors::NetworkError,
                                 mod::Errors::CorruptSessionError, mod::Errors::SessionTooLargeError,
                                 mod::Errors::InvalidIDError, mod::Errors::ValidationError,
                                 mod::Errors::ResourceNotFoundError, mod::Errors::LockWaitTimeoutError)
      expect(classes.map(&:name)).to include("JSON::GeneratorError")
      expect(raised.map(&:class)).to contain_exactly(mod::Errors::ResourceNotFoundError, mod::Errors::LockWaitTimeoutError)

      (handler.seen + raised).each do |error|
        what = "#{error.class} (#{error.message[0, 80]})"
        expect_no_canary(error.message, "message of #{what}")
        expect_no_canary(error.inspect, "inspect of #{what}")
        expect_no_canary(error.detailed_message, "detailed_message of #{what}") if error.respond_to?(:detailed_message)
        expect_no_canary(pp_string(error), "pp of #{what}")
        if error.is_a?(mod::Errors::ServiceError)
          expect_no_canary([error.code, error.request_id, error.status_code].inspect, "fields of #{what}")
        end
      end
      expect(logs.join).to include("ThrottlingError", "TimeoutError", "CorruptSessionError", "SessionTooLargeError")
      expect_no_canary(logs.join, "rack.errors")
      expect(stderr).to include("marker written to stderr by the spec")
      expect_no_canary(stderr, "stderr")
    end

    it "keep them out of their causes too (full_message, error trackers and Rails' logs print the cause chain)" do
      run_scenarios
      leaks = (handler.seen + raised).flat_map do |error|
        next [] if CANARIES.none? { |canary| error.full_message(highlight: false).include?(canary) }

        cause_chain(error).select { |e| CANARIES.any? { |canary| e.message.include?(canary) } }
                          .map { |e| "#{error.class} caused by #{e.class}: #{e.message[0, 120]}" }
                          .then { |found| found.empty? ? ["#{error.class}: full_message"] : found }
      end
      expect(leaks.uniq).to be_empty
    end
  end
end
