# frozen_string_literal: true

require "set"

module Aws
  module SessionStore
    module DynamoDB
      # The store's one-time warnings: each key is written to stderr once per
      # process, whichever thread or middleware meets it. Keys are
      # `[category, ...]` Arrays (`:lifetime`, `:legacy_env`, `:subscriber`),
      # so a spec can forget one category.
      # @api private
      module Warnings
        @given = Set.new
        @lock = Mutex.new

        module_function

        # Writes `message` with Kernel#warn the first time `key` is seen.
        # @return [Boolean] whether it was written now
        def warn_once(key, message = key)
          first = @lock.synchronize { @given.add?(key) }
          warn(message) if first
          first ? true : false
        end

        # Forgets the warnings given (of one category, or all), so a spec
        # can see them again.
        def forget!(category = nil)
          @lock.synchronize do
            category ? @given.delete_if { |key| key.is_a?(Array) && key.first == category } : @given.clear
          end
        end
      end
    end
  end
end
