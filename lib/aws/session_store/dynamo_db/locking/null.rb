# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Locking
        # No locking: one GetItem per read, one UpdateItem per save.
        class Null < Base
          # @return [Loaded, nil]
          def get_session_data(sid)
            found = read(item(sid))
            return loaded_from(found) if found || !@hashed

            # hashed_keys was switched on: the session may still be under its clear id.
            clear = read(clear_item(sid))
            clear && loaded_from(clear, clear_key: sid)
          end

          private

          def read(where)
            request = Native::ItemRequest.new(**where, consistent: @config.consistent_read)
            instrumented(:read, request) do |payload|
              call(:get_item, request, payload).tap do |attributes|
                payload&.merge!(outcome: attributes ? :found : :missing, bytes: bytes_of(attributes))
              end
            end
          end
        end
      end
    end
  end
end
