# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Ids logged out while their delete failed, remembered by one process
      # (oldest first, at most `limit`): the middleware refuses them and
      # deletes them again once DynamoDB answers. Shared by the threads of
      # the process.
      # @api private
      class PendingDeletes
        # @param limit [Integer] most ids kept; past it the oldest goes.
        def initialize(limit)
          @limit = limit
          @ids = {}
          @lock = Mutex.new
        end

        attr_reader :limit

        def empty?
          @ids.empty?
        end

        def include?(id)
          return false if @ids.empty?

          @lock.synchronize { @ids.key?(id) }
        end

        # @return [Boolean] whether the oldest id was forgotten to make room.
        def add(id)
          @lock.synchronize do
            @ids[id] = true
            @ids.size > @limit ? (@ids.shift && true) : false
          end
        end

        def delete(id)
          @lock.synchronize { @ids.delete(id) } unless @ids.empty?
        end

        # @return [Array<String>] the `count` oldest ids.
        def first(count)
          @lock.synchronize { @ids.keys.first(count) }
        end

        def inspect
          "#<#{self.class.name} #{@ids.size} of #{@limit}>"
        end
      end
    end
  end
end
