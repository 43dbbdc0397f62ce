# frozen_string_literal: true

require_relative "warnings"

module Aws
  module SessionStore
    module DynamoDB
      # Reports option names nobody reads: a mistyped `enable_lockng: true`
      # would otherwise leave the app running without locking, silently.
      # Each unknown name is written to stderr once per process and source,
      # with the closest known name (Ruby's DidYouMean spell checker), and
      # is otherwise ignored, as before.
      # @api private
      module UnknownOptions
        # Rack's session and cookie options, and the ones Rails adds: the
        # middleware hands them to Rack, so they are known too.
        RACK_OPTION_NAMES = %i[
          key path domain expire_after max_age secure httponly same_site partitioned
          defer renew drop skip sidbits cookie_only secure_random coder tld_length
        ].freeze

        module_function

        # @param names [Array<Symbol, String>] names as the source spells
        #   them: Symbols (keywords, YAML keys) are shown as `:name`,
        #   Strings (ENV variables) as they are
        # @param known [Array<Symbol, String>] the names that source accepts,
        #   spelled the same way
        # @param source [String] where the names came from, for the message
        # @param prefix [String] shown before each name (ENV variables: the
        #   prefix; names and known are the parts after it, so the spell
        #   checker compares what differs)
        # @return [Array<String>] the messages written now (none when each
        #   was reported before)
        def report(names, known:, source:, prefix: "")
          known_text = known.map(&:to_s)
          names.reject { |name| known_text.include?(name.to_s) }.filter_map do |name|
            message = message(name, known, source, prefix)
            message if Warnings.warn_once([:unknown_option, source, prefix, name.to_s], message)
          end
        end

        # "unknown option ... is ignored; did you mean ...?", without the
        # question when no known name is close.
        def message(name, known, source, prefix)
          guess = suggestion(name, known)
          "aws-sessionstore-dynamodb-rs: unknown option #{show(name, prefix)} (#{source}) is ignored" +
            (guess ? "; did you mean #{show(guess, prefix)}?" : "")
        end

        def suggestion(name, known)
          require "did_you_mean"
          found = DidYouMean::SpellChecker.new(dictionary: known.map(&:to_s)).correct(name.to_s).first
          found && known.find { |candidate| candidate.to_s == found }
        rescue LoadError
          nil
        end

        def show(name, prefix)
          name.is_a?(Symbol) ? name.inspect : "#{prefix}#{name}"
        end
      end
    end
  end
end
