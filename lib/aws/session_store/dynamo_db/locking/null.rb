# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      module Locking
        # No locking: one GetItem per read, one UpdateItem per save.
        class Null < Base
          # @return [Loaded, nil]
          def get_session_data(sid)
            loaded_from(@client.get_item(Native::ItemRequest.new(**item(sid), consistent: @config.consistent_read)))
          end
        end
      end
    end
  end
end
