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

            # hashed_keys: the session may still be under an older key.
            old_keys(sid).each do |key|
              old = read(at(key))
              return loaded_from(old, found_under: key) if old
            end
            # Or another request moved it while we looked elsewhere.
            found = read(item(sid))
            found && loaded_from(found)
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
