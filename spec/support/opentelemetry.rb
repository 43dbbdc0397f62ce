# frozen_string_literal: true

# The OpenTelemetry API and SDK for the specs of the store's spans: from the
# load path if there (RUBYLIB), else from the vendored sources beside this
# workplace (../shared/vendor/ruby: `rubylib otel`). Without either the
# examples are skipped with one line; under CI=true that fails them.
#
#   include_context "OpenTelemetry spans"
#   spans   # the finished spans, InMemorySpanExporter's
require "logger"

module OpenTelemetrySupport
  VENDOR = File.expand_path("../../../shared/vendor/ruby", __dir__)
  GEMS = %w[opentelemetry-api-1.11.0 opentelemetry-sdk-1.13.0 opentelemetry-common-0.25.1
            opentelemetry-registry-0.6.3 opentelemetry-semantic_conventions-1.44.0].freeze

  module_function

  # [loaded, why not]
  def load
    return [true, nil] if defined?(::OpenTelemetry::SDK)

    begin
      require "opentelemetry/sdk"
    rescue LoadError
      dirs = GEMS.map { |gem| File.join(VENDOR, gem, "lib") }
      return [false, "OpenTelemetry SDK not on the load path, and #{VENDOR} has no copy"] unless dirs.all? { |d| Dir.exist?(d) }

      $LOAD_PATH.concat(dirs)
      require "opentelemetry/sdk"
    end
    [true, nil]
  end

  # One SDK set up for the whole run (OpenTelemetry's globals), spans kept
  # in memory.
  def exporter
    @exporter ||= begin
      exporter = ::OpenTelemetry::SDK::Trace::Export::InMemorySpanExporter.new
      ::OpenTelemetry.logger = Logger.new(File::NULL)
      ENV["OTEL_TRACES_EXPORTER"] ||= "none"
      ::OpenTelemetry::SDK.configure do |c|
        c.add_span_processor(::OpenTelemetry::SDK::Trace::Export::SimpleSpanProcessor.new(exporter))
      end
      exporter
    end
  end
end

# bench/opentelemetry_cost.rb reads the module alone.
return unless defined?(RSpec)

RSpec.shared_context "OpenTelemetry spans" do
  let(:telemetry) { Aws::SessionStore::DynamoDB::Telemetry.instance }

  before do
    loaded, why = OpenTelemetrySupport.load
    unless loaded
      raise "#{why} (CI=true: OpenTelemetry is required)" if ENV["CI"] == "true"

      skip why
    end
    OpenTelemetrySupport.exporter.reset
  end

  after { Aws::SessionStore::DynamoDB::Telemetry.instance.uninstall }

  def spans
    OpenTelemetrySupport.exporter.finished_spans
  end

  def tracer
    ::OpenTelemetry.tracer_provider.tracer("spec")
  end

  # Every String an exported span holds: name, attributes, events' names
  # and attributes, status description.
  def strings_of(span)
    values = [span.name, span.status.description, *span.attributes.to_a.flatten]
    Array(span.events).each { |event| values.push(event.name, *event.attributes.to_a.flatten) }
    values.flatten.grep(String)
  end
end
