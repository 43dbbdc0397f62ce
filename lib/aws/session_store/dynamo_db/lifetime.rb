# frozen_string_literal: true

require_relative "warnings"

module Aws
  module SessionStore
    module DynamoDB
      # How long a session lives, from the store's options and Rack's
      # `expire_after`: when a stored session counts as expired, when an
      # unchanged one needs no write (write avoidance), the `expire_at` a
      # save stamps for DynamoDB's TTL, and the boot warnings when the
      # lifetime was left to chance.
      # @api private
      class Lifetime
        # @param config [Configuration]
        # @param expire_after [Numeric, nil] the middleware's default.
        def initialize(config, expire_after)
          @config = config
          @expire_after = expire_after
        end

        # Past max_age, or unused for longer than the session's lifetime:
        # gone even before GC or TTL deletes it.
        # @param loaded [Locking::Loaded]
        def expired?(loaded)
          now = Time.now.to_f
          stale = @config.effective_max_stale(@expire_after)
          (@config.max_age && older_than?(loaded.created_at, now - @config.max_age)) ||
            older_than?(loaded.updated_at, now - stale)
        end

        # Write avoidance: an unchanged session written less than the touch
        # interval ago needs no write. A held lock must always be released
        # by the save, and a session under an old key moved.
        def fresh_enough?(loaded, data, expire_after)
          return false unless loaded && loaded.lock.nil? && !loaded.under_old_key? && data == loaded.data

          interval = @config.effective_touch_interval(expire_after)
          return false unless interval.positive?

          touched = Float(loaded.updated_at, exception: false)
          touched ? Time.now.to_f - touched < interval : false
        end

        # Seconds since the epoch at which DynamoDB's TTL may delete the item:
        # the session's lifetime (Configuration#effective_max_stale) from
        # now. The touch interval is added: a session used without a write
        # within it must not expire early.
        def expire_at(expire_after)
          (Time.now + @config.effective_max_stale(expire_after) + @config.effective_touch_interval(expire_after)).to_i
        end

        # One line at boot (once per process) when the session lifetime was
        # not chosen, or when garbage collection (which knows no cookie)
        # would end sessions before their cookies do.
        def warn_at_boot
          return if @config.max_stale

          default_days = Configuration::DEFAULT_MAX_STALE / 86_400
          if @expire_after.nil?
            warn_once "aws-sessionstore-dynamodb-rs: neither max_stale nor expire_after is set: " \
                      "sessions unused for #{default_days} days expire (DynamoDB TTL on expire_at, " \
                      "and garbage collection). Set max_stale to choose."
          elsif @expire_after > Configuration::DEFAULT_MAX_STALE
            warn_once "aws-sessionstore-dynamodb-rs: expire_after is #{@expire_after} s but max_stale " \
                      "is not set: garbage collection deletes sessions unused for #{default_days} days, " \
                      "before their cookies expire. Set max_stale to expire_after."
          end
        end

        private

        def older_than?(stamp, limit)
          Float(stamp, exception: false)&.<(limit) || false
        end

        def warn_once(message)
          Warnings.warn_once([:lifetime, message], message)
        end
      end
    end
  end
end
