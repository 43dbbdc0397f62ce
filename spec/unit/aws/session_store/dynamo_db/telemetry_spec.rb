# frozen_string_literal: true

# The OpenTelemetry instrumentation on the in-memory client (which reports
# its operations as the real client does: the contract ties them): how it
# is enabled (OpenTelemetry's registry, `c.use`, `c.use_all`, options),
# the spans of a changed and an unchanged request, parentage under the
# span current when the store is called, refusals that are not errors,
# nothing secret anywhere, and a tracer that raises changing nothing. The
# same against DynamoDB Local (retries, lock waits, moves, GC):
# spec/integration/opentelemetry_spec.rb.

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/memory_store"
require_relative "../../../../support/opentelemetry"
require "open3"
require "rbconfig"

RSpec.describe Aws::SessionStore::DynamoDB::Telemetry do
  include_context "store on the memory client"
  include_context "OpenTelemetry spans"

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:store) { counter }
  let(:drop_app) do
    lambda do |env|
      env["rack.session.options"][:drop] = true
      [200, {}, [""]]
    end
  end

  def in_request(&block)
    tracer.in_span("GET /", kind: :server, &block)
  end

  describe "enabling" do
    it "is in OpenTelemetry's registry, and c.use installs it with its options" do
      expect(described_class.register).to be(true)
      expect(OpenTelemetry::Instrumentation.registry.lookup(described_class::NAME)).to be(telemetry)
      OpenTelemetry::Instrumentation.registry.install([described_class::NAME], described_class::NAME => { gc_spans: false })
      expect(telemetry.installed?).to be(true)
      expect(telemetry.config).to eq(gc_spans: false)
      expect(dynamo::Instrumentation::Tracing.on?(:gc)).to be(false)
      expect(dynamo::Instrumentation::Tracing.on?(:read)).to be(false) # outside a recording span
      expect(in_request { dynamo::Instrumentation::Tracing.on?(:read) }).to be(true)
    end

    it "registers once, however often asked" do
      3.times { described_class.register }
      found = OpenTelemetry::Instrumentation.registry.instance_variable_get(:@instrumentation)
      expect(found.count(described_class)).to eq(1)
    end

    it "is not installed with enabled: false, and reports an unknown option" do
      expect(telemetry.install(enabled: false)).to be(false)
      expect { telemetry.install(gc_spanz: true) }.to output(/unknown option :gc_spanz/).to_stderr
      expect(telemetry.config).to eq(gc_spans: true)
    end

    # A fresh process, as an app boots: the SDK loaded first, then the gem.
    def ruby_child(script, otel: true)
      lib = File.expand_path("../../../../../lib", __dir__)
      support = File.expand_path("../../../../support/memory_client.rb", __dir__)
      paths = otel ? $LOAD_PATH.grep(/opentelemetry/) : []
      Open3.capture3({ "MEMORY_CLIENT" => support }, RbConfig.ruby, "-I", lib,
                     *paths.flat_map { |path| ["-I", path] }, "-e", script)
    end

    it "c.use_all in OpenTelemetry::SDK.configure turns it on in an app that loads the SDK first" do
      out, err, status = ruby_child(<<~RUBY)
        require "opentelemetry/sdk"
        require "aws-sessionstore-dynamodb-rs"
        require "rack/mock"
        require ENV.fetch("MEMORY_CLIENT")
        OpenTelemetry.logger = Logger.new(File::NULL)
        exporter = OpenTelemetry::SDK::Trace::Export::InMemorySpanExporter.new
        ENV["OTEL_TRACES_EXPORTER"] = "none"
        OpenTelemetry::SDK.configure do |c|
          c.add_span_processor(OpenTelemetry::SDK::Trace::Export::SimpleSpanProcessor.new(exporter))
          c.use_all
        end
        client = MemoryClient.new
        Aws::SessionStore::DynamoDB::Native.client_factory = ->(_) { client }
        app = ->(env) { env["rack.session"]["n"] = 1; [200, {}, ["ok"]] }
        store = Aws::SessionStore::DynamoDB::RackMiddleware.new(app, secret_key: "s" * 64, region: "us-east-1", max_stale: 60)
        OpenTelemetry.tracer_provider.tracer("app").in_span("GET /") { Rack::MockRequest.new(store).get("/") }
        puts exporter.finished_spans.map(&:name).inspect
      RUBY
      expect([out, status.success?]).to eq([%(["DynamoDB.UpdateItem", "GET /"]\n), true]), err
    end

    it "without OpenTelemetry: nothing of it is loaded, and the store works as ever" do
      out, err, status = ruby_child(<<~RUBY, otel: false)
        require "aws-sessionstore-dynamodb-rs"
        require "rack/mock"
        require ENV.fetch("MEMORY_CLIENT")
        client = MemoryClient.new
        Aws::SessionStore::DynamoDB::Native.client_factory = ->(_) { client }
        app = ->(env) { env["rack.session"]["n"] = 1; [200, {}, ["ok"]] }
        store = Aws::SessionStore::DynamoDB::RackMiddleware.new(app, secret_key: "s" * 64, region: "us-east-1", max_stale: 60)
        Rack::MockRequest.new(store).get("/")
        telemetry = Aws::SessionStore::DynamoDB::Telemetry
        puts [defined?(OpenTelemetry), telemetry.register, telemetry.instance.present?, client.keys.size].inspect
      RUBY
      expect([out, status.success?]).to eq([%([nil, false, false, 1]\n), true]), err
    end

    it "makes no span until installed" do
      store_request(store)
      expect(spans).to eq([])
    end
  end

  describe "the spans" do
    before { telemetry.install }

    it "a changed request: DynamoDB.GetItem and DynamoDB.UpdateItem, CLIENT, under the request's span" do
      cookie = store_request(store).cookie
      OpenTelemetrySupport.exporter.reset
      in_request { store_request(store, cookie: cookie) }
      request, *calls = spans.sort_by { |span| span.name == "GET /" ? 0 : 1 }
      expect(calls.map(&:name)).to contain_exactly("DynamoDB.GetItem", "DynamoDB.UpdateItem")
      expect(calls.map(&:kind).uniq).to eq([:client])
      expect(calls.map(&:parent_span_id).uniq).to eq([request.span_id])
      expect(calls.map(&:trace_id).uniq).to eq([request.trace_id])
      get = calls.find { |span| span.name == "DynamoDB.GetItem" }
      expect(get.attributes).to include("rpc.system" => "aws-api", "rpc.service" => "DynamoDB",
                                        "rpc.method" => "GetItem", "aws.dynamodb.table_names" => [table_name],
                                        "aws.dynamodb.consistent_read" => true,
                                        "aws_sessionstore_dynamodb.attempts" => 1)
      expect(get.attributes["aws.dynamodb.consumed_capacity"]).to eq(['{"TableName":"sessions","CapacityUnits":1.0}'])
      expect(get.end_timestamp - get.start_timestamp).to eq(1000) # the native call's own duration
      expect(calls.map { |span| span.status.code }.uniq).to eq([OpenTelemetry::Trace::Status::UNSET])
    end

    it "an unchanged request: one DynamoDB.GetItem" do
      cookie = store_request(store).cookie
      OpenTelemetrySupport.exporter.reset
      in_request { store_request(store, "/read", cookie: cookie) }
      expect(spans.map(&:name)).to eq(["DynamoDB.GetItem", "GET /"])
    end

    it "no span, and nothing gathered, outside a recording span" do
      cookie = store_request(store).cookie
      store_request(store, cookie: cookie)
      expect(spans).to eq([])
      expect(client.requests.map { |_, request| request.instrument }).to all(be_falsey)
    end

    it "a delete of no item is a refusal, not an error" do
      cookie = store_request(store).cookie
      OpenTelemetrySupport.exporter.reset
      in_request { store_request(middleware(drop_app), cookie: cookie) }
      deletes = spans.select { |span| span.name == "DynamoDB.DeleteItem" }
      expect(deletes.size).to eq(3) # every key the session may have
      refused = deletes.select { |span| span.attributes["aws.dynamodb.condition_check_failed"] }
      expect(refused.size).to eq(2)
      expect(deletes.map { |span| span.status.code }.uniq).to eq([OpenTelemetry::Trace::Status::UNSET])
    end

    it "holds no session id, cookie, storage key, data or secret" do
      cookie = in_request { store_request(counter(hashed_keys: true)).cookie }
      in_request { store_request(counter(hashed_keys: true, enable_locking: true), cookie: cookie) }
      secrets = [cookie, cookie.split("--").last, hashed(cookie), StoreSpecHelpers::SECRET, '{"n":', "dummy"]
      strings = spans.flat_map { |span| strings_of(span) }
      expect(strings).not_to be_empty
      secrets.each { |secret| expect(strings.grep(/#{Regexp.escape(secret)}/)).to eq([]), secret }
    end
  end

  describe "a tracer that raises" do
    before { telemetry.install }

    it "is reported once and changes nothing the store does" do
      broken = Class.new do
        def start_span(*, **)
          raise ArgumentError, "exporter down"
        end
      end.new
      dynamo::Instrumentation::Tracing.configure(broken)
      dynamo::Warnings.forget!(:subscriber)
      cookie = nil
      expect do
        cookie = in_request { store_request(store).cookie }
        2.times { in_request { store_request(store, cookie: cookie) } }
      end.to output(/an instrumentation subscriber raised ArgumentError: exporter down.*reported once/).to_stderr
      expect(store_request(store, "/read", cookie: cookie).body).to eq("3")
      expect(JSON.parse(stored(cookie)["data"])).to eq("n" => 3)
    end
  end
end
