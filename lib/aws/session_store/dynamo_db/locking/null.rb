# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Locking
        # No locking: one GetItem per read, one UpdateItem per save.
        class Null < Base
          # @return [Loaded, nil]
          def get_session_data(sid)
            request = Native::ItemRequest.new(**item(sid), consistent: @config.consistent_read)
            found = instrumented(:read, request) do |payload|
              call(:get_item, request, payload).tap do |attributes|
                payload&.merge!(outcome: attributes ? :found : :missing, bytes: bytes_of(attributes))
              end
            end
            loaded_from(found)
          end
        end
      end
    end
  end
end
