# frozen_string_literal: true

begin
  require "aws_sessionstore_dynamodb_rs/aws_sessionstore_dynamodb_rs"
rescue LoadError => e
  raise LoadError, "aws-sessionstore-dynamodb-rs: the native extension is not built (#{e.message}). " \
                   "In a checkout run `rake compile`; an installed gem builds it on `gem install`."
end

module Aws
  module SessionStore
    module DynamoDB
      # The Rust core. Private: use RackMiddleware, Table and
      # GarbageCollection instead.
      # @api private
      module Native
        CLIENTS = {} # rubocop:disable Style/MutableConstant
        CLIENTS_LOCK = Mutex.new
        private_constant :CLIENTS, :CLIENTS_LOCK

        # One native client per distinct set of client options, shared by
        # every middleware, task and thread of the process: connections are
        # kept alive, and the SDK client is built once (it is rebuilt
        # automatically in a forked child).
        # @param options [Hash] from Configuration#native_client_options
        # @return [Native::Client]
        def self.client(options)
          key = options.to_a.sort_by { |k, _| k.to_s }.freeze
          CLIENTS_LOCK.synchronize { CLIENTS[key] ||= Client.new(options) }
        end
      end
    end
  end
end
