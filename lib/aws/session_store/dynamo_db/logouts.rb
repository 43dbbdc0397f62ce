# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # Deleting sessions for the middleware, so a logout is final even when
      # DynamoDB fails: a delete that fails leaves the id remembered
      # (PendingDeletes), refused from then on, and deleted again once
      # DynamoDB answers. One per middleware, shared by its threads.
      # @api private
      class Logouts
        # Most ids whose delete failed that one process remembers (about
        # 200 bytes each); past it the oldest is forgotten, with a line.
        MAX_PENDING = 10_000
        # Most remembered deletes retried after one successful read or save.
        PENDING_PER_REQUEST = 16

        # @param lock [Locking::Base] deletes the items.
        # @param errors [BackendErrors]
        def initialize(lock, errors)
          @lock = lock
          @errors = errors
          @pending = PendingDeletes.new(MAX_PENDING)
        end

        # Deletes the session `id`; on failure the id is remembered and the
        # error goes to the handler. When DynamoDB already failed this
        # request (and the handler heard of it), remembered without a
        # second wait.
        # @return [Boolean, nil] whether there was an item; nil when the
        #   delete failed (or was not tried).
        def delete(env, state, id)
          if state.down
            remember(env, id)
            return nil
          end

          @lock.delete(id).tap { @pending.delete(id) }
        rescue StandardError => e
          remember(env, id)
          @errors.handle(env, state, e)
          nil
        end

        # Deletes the session `id` the request logs out, and the cookie's id
        # that `id` replaced in this request (a hashed_keys rollout: the
        # session may live under a key this server does not read).
        # @return [Boolean, nil] whether `id`'s item was there (as {#delete}).
        def end_session(env, state, id)
          existed = delete(env, state, id)
          replaced, cookie_id = state.replaced
          delete(env, state, cookie_id) if replaced && replaced == id
          existed
        end

        # Whether `id` was logged out during a fault: it is never served
        # again, whatever the item says, and its delete is tried again now.
        def refused?(id, state)
          return false unless @pending.include?(id)

          retry_delete(id, state)
          true
        end

        # After a successful read or save: a few remembered deletes, oldest
        # first, until one fails.
        def retry_pending
          return if @pending.empty?

          @pending.first(PENDING_PER_REQUEST).each { |id| break unless retry_delete(id) }
        end

        def inspect
          "#<#{self.class.name} #{@pending.inspect}>"
        end

        private

        # One more try at a remembered delete; on failure it stays
        # remembered (its first failure went to the handler already: this
        # request, someone else's maybe, is not failed by it).
        def retry_delete(id, state = nil)
          @lock.delete(id)
          @pending.delete(id)
          true
        rescue StandardError => e
          @errors.note(state, e) if state
          false
        end

        def remember(env, id)
          return unless @pending.add(id)

          env["rack.errors"]&.puts("aws-sessionstore-dynamodb-rs: more than #{MAX_PENDING} logouts " \
                                   "wait for DynamoDB; the oldest is no longer refused by this process")
        end
      end
    end
  end
end
