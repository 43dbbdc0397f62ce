# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Instrumentation
        # OpenTelemetry spans (doc/opentelemetry.md), built from what each
        # native call reports of its DynamoDB operations: one CLIENT span per
        # operation, named as the AWS SDKs name theirs (`DynamoDB.GetItem`),
        # with its real start and duration, under the span current when the
        # store was called; a lock wait, a move to a hashed key and a
        # garbage collection run get a store-level span of their own, the
        # operations under it.
        #
        # Off until {Telemetry} installs a tracer; then a session's calls
        # are traced under a recording span (a request's), garbage
        # collection runs always. The spans carry no id,
        # key, data or secret: the table's name, the operation, attempts,
        # capacity, the outcome. A tracer or exporter that raises is reported
        # once and changes nothing the store does.
        # @api private
        module Tracing
          STORE_SPANS = { lock_wait: "lock wait", gc: "garbage collection" }.freeze
          # DynamoDB's refusals that are outcomes, not failures: a save or
          # delete whose condition did not hold.
          REFUSALS = %w[ConditionalCheckFailedException TransactionCanceledException].freeze
          # Operations that read with a consistency setting.
          READS = %w[GetItem Scan BatchGetItem].freeze
          # What a Query span says: the store queries the user index only.
          QUERY_ATTRIBUTES = { "aws.dynamodb.index_name" => "user_id-index",
                               "aws.dynamodb.consistent_read" => false }.freeze

          @tracer = nil
          @gc_spans = true

          class << self
            # Whether spans are made for `event`: a garbage collection run
            # always (unless `gc_spans: false`); a session's calls under a
            # span being recorded (the request's), so that with the API
            # alone, or outside any trace, the store gathers nothing.
            def on?(event)
              return false unless @tracer
              return @gc_spans if event == :gc

              ::OpenTelemetry::Trace.current_span.recording?
            end

            # @param tracer [#start_span, nil] nil turns spans off.
            # @param gc_spans [Boolean] spans for garbage collection runs.
            def configure(tracer, gc_spans: true)
              @gc_spans = gc_spans ? true : false
              @tracer = tracer
            end

            # Nanoseconds since the Unix epoch.
            def now
              Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)
            end

            # The spans of one event: `operations` as the native call gave
            # them (`[name, started_ns, duration_ns, attempts, capacity,
            # error]`). Never raises.
            def record(event, started, payload, operations, consistent)
              tracer = @tracer
              return unless tracer

              store_span = store_span(tracer, event, started, payload, operations)
              return operation_spans(tracer, ::OpenTelemetry::Context.current, payload, operations, consistent) \
                unless store_span

              operation_spans(tracer, ::OpenTelemetry::Trace.context_with_span(store_span), payload, operations,
                              consistent)
              failed(store_span, payload[:error]) if payload[:error]
              store_span.finish(end_timestamp: time(now))
            rescue Exception => e # rubocop:disable Lint/RescueException
              raise unless SubscriberErrors.raisable?(e)

              SubscriberErrors.report(e, :opentelemetry)
            end

            private

            def store_span(tracer, event, started, payload, operations)
              name = STORE_SPANS[event]
              name ||= "move to hashed key" if event == :write && operations&.any? { |op| op[0] == "TransactWriteItems" }
              return nil unless name

              tracer.start_span("aws-sessionstore-dynamodb #{name}", kind: :internal, start_timestamp: time(started),
                                                                     attributes: store_attributes(event, payload))
            end

            # What the event says that a span may show: counts and outcomes.
            def store_attributes(event, payload)
              attributes = { "db.system" => "dynamodb", "aws.dynamodb.table_names" => [payload[:table].to_s] }
              attributes["aws_sessionstore_dynamodb.outcome"] = payload[:outcome].to_s if payload[:outcome]
              attributes["aws_sessionstore_dynamodb.calls"] = payload[:calls] if payload[:calls]
              attributes["aws_sessionstore_dynamodb.takeover"] = payload[:takeover].to_s if payload[:takeover]
              gc_attributes(attributes, payload) if event == :gc
              attributes
            end

            def gc_attributes(attributes, payload)
              %i[scanned matched deleted].each do |name|
                attributes["aws_sessionstore_dynamodb.gc.#{name}"] = payload[name] if payload[name].is_a?(Integer)
              end
            end

            def operation_spans(tracer, parent, payload, operations, consistent)
              Array(operations).each { |operation| operation_span(tracer, parent, payload[:table], operation, consistent) }
            end

            def operation_span(tracer, parent, table, operation, consistent)
              name, started, duration, attempts, capacity, error = operation
              span = tracer.start_span("DynamoDB.#{name}", with_parent: parent, kind: :client,
                                                           start_timestamp: time(started),
                                                           attributes: operation_attributes(name, table, attempts,
                                                                                            capacity, consistent))
              outcome(span, error) if error
              span.finish(end_timestamp: time(started + duration))
            end

            def operation_attributes(name, table, attempts, capacity, consistent)
              attributes = { "rpc.system" => "aws-api", "rpc.service" => "DynamoDB", "rpc.method" => name,
                             "db.system" => "dynamodb", "aws.dynamodb.table_names" => [table.to_s],
                             "aws_sessionstore_dynamodb.attempts" => attempts }
              attributes["aws.dynamodb.consistent_read"] = consistent if READS.include?(name) && !consistent.nil?
              # The store's one Query: the user index, eventually consistent.
              attributes.merge!(QUERY_ATTRIBUTES) if name == "Query"
              if capacity
                attributes["aws.dynamodb.consumed_capacity"] =
                  [%({"TableName":#{table.to_s.dump},"CapacityUnits":#{capacity}})]
              end
              attributes
            end

            # A store-level span whose call raised (a lock wait that timed
            # out, a GC run that failed): the exception's class.
            def failed(span, error_class)
              span.set_attribute("error.type", error_class)
              span.status = ::OpenTelemetry::Trace::Status.error(error_class)
            end

            # A refusal is the store's answer, not a failure; anything else
            # is an error, with its code as the exception.
            def outcome(span, error)
              if REFUSALS.include?(error)
                span.set_attribute("aws.dynamodb.condition_check_failed", true)
                return
              end
              span.set_attribute("error.type", error)
              span.add_event("exception", attributes: { "exception.type" => error, "exception.message" => error })
              span.status = ::OpenTelemetry::Trace::Status.error(error)
            end

            def time(nanoseconds)
              Rational(nanoseconds, 1_000_000_000)
            end
          end
        end
      end
    end
  end
end
