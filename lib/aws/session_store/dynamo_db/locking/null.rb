# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Locking
        # No locking: one GetItem per read, one UpdateItem per save.
        class Null < Base
          # @return [Loaded, nil]
          def get_session_data(sid)
            attributes = nil
            found_under = @keys.search(sid) { |location| attributes = read(location) }
            return nil unless attributes

            # Where it was read, for data sealed to its item (the current
            # key is an HMAC with hashed_keys: computed only when needed).
            location = @cipher && (found_under ? @keys.at(found_under) : @keys.location(sid))
            Attributes.loaded(attributes, found_under: found_under, cipher: @cipher, location: location)
          end

          private

          def read(location)
            request = Native::ItemRequest.new(**location, consistent: @config.consistent_read)
            instrumented(:read, request) do |payload|
              call(:get_item, request, payload).tap do |attributes|
                payload&.merge!(outcome: attributes ? :found : :missing, bytes: Attributes.data_bytes(attributes))
              end
            end
          end
        end
      end
    end
  end
end
