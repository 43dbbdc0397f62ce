# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Creates and deletes the session table. Module functions, reused by
      # the rake tasks, the CLI and Rails migrations.
      module Table
        # The global secondary index on `user_id` that `user_key` uses.
        USER_INDEX = "user_id-index"

        module_function

        # Creates the session table (hash key `table_key`, a String) and waits
        # until it is active. Provisioned with `read_capacity`/`write_capacity`,
        # or on-demand with `billing_mode: :pay_per_request`. Turns TTL on for
        # `expire_at` unless `enable_ttl: false`. A table that already exists
        # is a warning, not an error. With `user_key` (and `user_index`, on
        # by default) the table gets the user index ({USER_INDEX}) too; an
        # existing table without it is left as it is, with a warning naming
        # {.add_user_index}.
        # @param options [Hash] Configuration options (ENV/YAML apply too).
        # @return [Symbol] `:created` or `:exists`.
        def create_table(options = {})
          config = Configuration.new(options)
          indexed = config.user_key && config.user_index ? true : false
          request = table_request(config, user_index: indexed)
          result = Instrumentation.traced(config.table_name, request) { client(config).create_table(request) }
          if result == :exists
            warn "Table #{config.table_name} already exists, skipping creation."
            warn_without_index(config) if indexed
          end
          result
        end

        # Adds the user index ({USER_INDEX}: `user_id`, KEYS_ONLY) to the
        # existing session table, provisioned like the table
        # (`read_capacity`/`write_capacity`) when the table is, and waits
        # until it is ACTIVE: DynamoDB builds it from every item first,
        # which takes minutes on a large table. Sessions are served
        # throughout, and {UserSessions} reads the user records meanwhile.
        # @param options [Hash] Configuration options (ENV/YAML apply too).
        # @return [Symbol] `:created`, or `:exists` (once ACTIVE).
        def add_user_index(options = {})
          config = Configuration.new(options)
          request = table_request(config, user_index: true)
          Instrumentation.traced(config.table_name, request) { client(config).add_user_index(request) }
        end

        # Removes the user index and waits until it is gone.
        # @return [Symbol] `:deleted` or `:missing`.
        def remove_user_index(options = {})
          config = Configuration.new(options)
          request = Native::TableName.new(table: config.table_name)
          Instrumentation.traced(config.table_name, request) { client(config).remove_user_index(request) }
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
        #   `:key_name`, `:ttl_status`, `:ttl_attribute`, `:user_index` (the
        #   index's status, e.g. "ACTIVE", or nil without one).
        def describe_table(options = {})
          config = Configuration.new(options)
          request = Native::TableName.new(table: config.table_name)
          Instrumentation.traced(config.table_name, request) { client(config).describe_table(request) }
        end

        def client(config)
          Native.client(config.native_client_options)
        end
        private_class_method :client

        def table_request(config, user_index:)
          Native::TableRequest.new(
            table: config.table_name, key_name: config.table_key, billing_mode: config.billing_mode.to_s,
            read_capacity: config.read_capacity, write_capacity: config.write_capacity, enable_ttl: config.enable_ttl,
            user_index: user_index
          )
        end
        private_class_method :table_request

        def warn_without_index(config)
          return if describe_table(config)[:user_index]

          warn "Table #{config.table_name} has no index #{USER_INDEX} for user_key: add it with " \
               "`aws-sessionstore-dynamodb add-user-index` (or Table.add_user_index), or set user_index: false."
        end
        private_class_method :warn_without_index
      end
    end
  end
end
