# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # The store's OpenTelemetry instrumentation, enabled as the others
      # are (doc/opentelemetry.md):
      #
      #   OpenTelemetry::SDK.configure do |c|
      #     c.use "Aws::SessionStore::DynamoDB::Telemetry"   # or c.use_all
      #   end
      #
      # It is in OpenTelemetry's instrumentation registry whenever
      # `opentelemetry-registry` (which `opentelemetry-sdk` loads) was loaded
      # before this gem, or before a Rails app's initializers run; else
      # {.register} puts it there. The gem depends on no OpenTelemetry gem:
      # without one nothing here runs.
      #
      # Options: `gc_spans` (default true): spans for garbage collection
      # runs. The spans: {Instrumentation::Tracing}.
      #
      # It answers the registry as an `OpenTelemetry::Instrumentation::Base`
      # subclass does (`name`, `version`, `present?`, `compatible?`,
      # `enabled?`, `install`, `installed?`, `config`), without needing the
      # opentelemetry-instrumentation-base gem.
      class Telemetry
        NAME = "Aws::SessionStore::DynamoDB::Telemetry"
        OPTIONS = { gc_spans: true }.freeze

        @lock = Mutex.new

        class << self
          # The one instance the registry installs.
          def instance
            @lock.synchronize { @instance ||= new }
          end

          # Puts this instrumentation in OpenTelemetry's registry, once.
          # @return [Boolean] whether it is there.
          def register
            return false unless defined?(::OpenTelemetry::Instrumentation) &&
                                ::OpenTelemetry::Instrumentation.respond_to?(:registry)

            @lock.synchronize do
              @registered ||= ::OpenTelemetry::Instrumentation.registry.register(self) && true
            end
          end
        end

        # @return [Hash] the options installed with.
        attr_reader :config

        def initialize
          @installed = false
          @config = OPTIONS
        end

        def name
          NAME
        end

        def version
          VERSION
        end

        # Whether OpenTelemetry's trace API is loaded.
        def present?
          defined?(::OpenTelemetry::Trace) && ::OpenTelemetry.respond_to?(:tracer_provider) ? true : false
        end

        def compatible?
          true
        end

        # Off only with `enabled: false`.
        def enabled?(config = nil)
          return true unless config.is_a?(Hash)

          ![false, "false"].include?(config.key?(:enabled) ? config[:enabled] : config["enabled"])
        end

        def installed?
          @installed
        end

        # Turns the spans on, with `config` (`gc_spans`); an unknown option
        # is reported and left out. @return [Boolean] installed
        def install(config = {})
          return true if @installed
          return false unless present? && enabled?(config)

          @config = options(config || {})
          tracer = ::OpenTelemetry.tracer_provider.tracer(NAME, VERSION)
          Instrumentation::Tracing.configure(tracer, gc_spans: @config[:gc_spans])
          @installed = true
        end

        # Turns the spans off again (specs, a console).
        def uninstall
          Instrumentation::Tracing.configure(nil)
          @config = OPTIONS
          @installed = false
        end

        def inspect
          "#<#{self.class.name} installed=#{@installed} #{@config.inspect}>"
        end

        private

        def options(config)
          given = config.to_h.transform_keys(&:to_sym).reject { |key, _| key == :enabled }
          unknown = given.keys - OPTIONS.keys
          UnknownOptions.report(unknown, known: OPTIONS.keys, source: NAME) unless unknown.empty?
          OPTIONS.merge(given.slice(*OPTIONS.keys)).freeze
        end
      end
    end
  end
end
