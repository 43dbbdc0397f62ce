# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Creates and deletes the session table. Module functions, reused by
      # the rake tasks, the CLI and Rails migrations.
      module Table
        module_function

        # Creates the session table (hash key `table_key`, a String) and waits
        # until it is active. Provisioned with `read_capacity`/`write_capacity`,
        # or on-demand with `billing_mode: :pay_per_request`. Turns TTL on for
        # `expire_at` unless `enable_ttl: false`. A table that already exists
        # is a warning, not an error.
        # @param options [Hash] Configuration options (ENV/YAML apply too).
        # @return [Symbol] `:created` or `:exists`.
        def create_table(options = {})
          config = Configuration.new(options)
          request = Native::TableRequest.new(
            table: config.table_name, key_name: config.table_key, billing_mode: config.billing_mode.to_s,
            read_capacity: config.read_capacity, write_capacity: config.write_capacity, enable_ttl: config.enable_ttl
          )
          result = Instrumentation.traced(config.table_name, request) { client(config).create_table(request) }
          warn "Table #{config.table_name} already exists, skipping creation." if result == :exists
          result
        end

        # Deletes the session table and waits until it is gone. A missing
        # table is a warning, not an error.
        # @param options [Hash] Configuration options (ENV/YAML apply too).
        # @return [Symbol] `:deleted` or `:missing`.
        def delete_table(options = {})
          config = Configuration.new(options)
          request = Native::TableName.new(table: config.table_name)
          result = Instrumentation.traced(config.table_name, request) { client(config).delete_table(request) }
          warn "Table #{config.table_name} does not exist, nothing to delete." if result == :missing
          result
        end

        # @param options [Hash] Configuration options.
        # @return [Hash] `:status`, `:item_count`, `:size_bytes` (both as
        #   DynamoDB last computed them, every ~6 hours), `:billing_mode`,
        #   `:key_name`, `:ttl_status`, `:ttl_attribute`.
        def describe_table(options = {})
          config = Configuration.new(options)
          request = Native::TableName.new(table: config.table_name)
          Instrumentation.traced(config.table_name, request) { client(config).describe_table(request) }
        end

        def client(config)
          Native.client(config.native_client_options)
        end
        private_class_method :client
      end
    end
  end
end
