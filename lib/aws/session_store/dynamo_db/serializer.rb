# frozen_string_literal: true

require "json"
require_relative "errors"

module Aws
  module SessionStore
    module DynamoDB
      # Turns a session Hash into the string stored in the item's `data`
      # attribute and back, in the official gem's formats:
      #
      # - `:json` — `JSON.dump(session)`. Reads JSON only; a Marshal payload
      #   is refused, so a forged item can't make the store run `Marshal.load`.
      # - `:marshal` — `[Marshal.dump(session)].pack('m*')` (Base64 with
      #   newlines), the format of the official gem before v3.
      # - `:json_allow_marshal` — writes JSON, reads JSON and falls back to the
      #   Base64 Marshal form: for reading sessions written by older versions
      #   while migrating to `:json`.
      #
      # `load` raises {Errors::CorruptSessionError} (without the data in the
      # message) when the string can't be decoded or isn't a Hash.
      module Serializer
        # The names accepted by {.for}, in the order they are documented.
        NAMES = %i[json json_allow_marshal marshal].freeze

        # Every Marshal stream starts with the format version 4.8, "\x04\x08",
        # which Base64 encodes as "BA". No JSON text starts with "B".
        MARSHAL_BASE64_PREFIX = "BA"

        # Deepest nesting of Hashes and Arrays read or written. Far beyond any
        # session (JSON.parse's own default is 100), and far below what
        # would exhaust a thread's stack: a crafted item nested deeper (a
        # 400 KB item holds 200,000 levels) is corrupt, not a crash.
        MAX_NESTING = 1000

        # Options for the JSON calls: nesting up to {MAX_NESTING} both ways
        # (what is saved reads back), and no object creation from
        # `json_class` on parse.
        JSON_GENERATE_OPTIONS = { max_nesting: MAX_NESTING }.freeze
        JSON_PARSE_OPTIONS = { max_nesting: MAX_NESTING, create_additions: false }.freeze
        private_constant :JSON_GENERATE_OPTIONS, :JSON_PARSE_OPTIONS

        # Helpers shared by the serializers.
        module Codec
          private

          def json_dump(hash)
            ::JSON.generate(hash, JSON_GENERATE_OPTIONS)
          rescue ::JSON::NestingError
            raise ::JSON::GeneratorError, "session data is nested deeper than #{MAX_NESTING} levels", cause: nil
          rescue ::JSON::GeneratorError => e
            # No cause, and only the class: json 2.9+ (Ruby 3.4) quotes the
            # offending value, which is session data, in its messages.
            raise ::JSON::GeneratorError, "session data cannot be written as JSON (#{e.class})", cause: nil
          end

          def json_load(string)
            check_string!(string)
            hash_or_corrupt!(::JSON.parse(string, JSON_PARSE_OPTIONS))
          rescue ::JSON::NestingError
            raise Errors::CorruptSessionError, "Stored session data is nested deeper than #{MAX_NESTING} levels",
                  cause: nil
          rescue ::JSON::ParserError, EncodingError, SystemStackError
            # No cause: the parser's message quotes the stored data.
            raise Errors::CorruptSessionError, "Stored session data is not valid JSON", cause: nil
          end

          def marshal_dump(hash)
            check_depth!(hash) { |message| raise ArgumentError, "session data #{message}" }
            [::Marshal.dump(hash)].pack("m*")
          end

          def marshal_load(string)
            check_string!(string)
            value = begin
              # Only for :marshal / :json_allow_marshal, chosen by the app for
              # items its own servers wrote (the `serializer` option).
              ::Marshal.load(string.unpack1("m*")) # rubocop:disable Security/MarshalLoad
            rescue StandardError, SystemStackError => e
              # Marshal has no nesting limit of its own: a stream too deep for
              # the stack is refused here, one that loads is checked below.
              raise Errors::CorruptSessionError,
                    "Stored session data is not valid Base64 Marshal data (#{e.class})", cause: nil
            end
            check_depth!(value) { |message| raise Errors::CorruptSessionError, "Stored session data #{message}" }
            hash_or_corrupt!(value)
          end

          # Yields a message when Hashes and Arrays nest deeper than
          # {MAX_NESTING}. Walked without recursion, each object once (Marshal
          # data may share objects, or refer to itself: a loop is not depth).
          def check_depth!(value)
            heights = {}.compare_by_identity
            on_path = {}.compare_by_identity
            stack = [[value, false]]
            until stack.empty?
              node, expanded = stack.pop
              if expanded
                height = leave(node, heights, on_path)
                return yield("is nested deeper than #{MAX_NESTING} levels") if height > MAX_NESTING
              elsif !heights.key?(node) && !on_path.key?(node)
                enter(node, stack, on_path)
              end
            end
          end

          # A container entered: its children go on the stack, then itself
          # again to be closed once they are done.
          def enter(node, stack, on_path)
            on_path[node] = true
            stack << [node, true]
            containers_in(node).each { |child| stack << [child, false] }
          end

          # A container whose children are done: its height, recorded.
          def leave(node, heights, on_path)
            on_path.delete(node)
            heights[node] = 1 + (containers_in(node).map { |child| heights.fetch(child, 0) }.max || 0)
          end

          def containers_in(node)
            children = case node
                       when Hash then node.keys + node.values
                       when Array then node
                       else return []
                       end
            children.select { |child| child.is_a?(Hash) || child.is_a?(Array) }
          end

          def check_string!(string)
            return if string.is_a?(String) && !string.empty?

            raise Errors::CorruptSessionError,
                  "Stored session data is missing or empty (#{string.class})"
          end

          def hash_or_corrupt!(value)
            return value if value.is_a?(Hash)

            raise Errors::CorruptSessionError,
                  "Stored session data decodes to a #{value.class}, not a Hash"
          end
        end
        private_constant :Codec

        # `:json`: `JSON.dump` / `JSON.parse`; never calls `Marshal.load`.
        class JSONSerializer
          include Codec

          # @return [Symbol] `:json`
          def name
            :json
          end

          # @param [Hash] hash the session.
          # @return [String] the JSON text, equal to `JSON.dump(hash)`.
          # @raise [JSON::GeneratorError] if the session holds a value JSON
          #   can't represent (NaN, Infinity, invalid UTF-8).
          def dump(hash)
            json_dump(hash)
          end

          # @param [String] string the stored `data` attribute.
          # @return [Hash] the session, with String keys.
          # @raise [Errors::CorruptSessionError] if `string` isn't a JSON object.
          def load(string)
            json_load(string)
          end
        end

        # `:marshal`: Base64 (with newlines) of `Marshal.dump`.
        class MarshalSerializer
          include Codec

          # @return [Symbol] `:marshal`
          def name
            :marshal
          end

          # @param [Hash] hash the session.
          # @return [String] `[Marshal.dump(hash)].pack('m*')`.
          # @raise [TypeError] if the session holds a value Marshal can't dump.
          def dump(hash)
            marshal_dump(hash)
          end

          # @param [String] string the stored `data` attribute.
          # @return [Hash] the session.
          # @raise [Errors::CorruptSessionError] if `string` isn't Base64
          #   Marshal data of a Hash.
          def load(string)
            marshal_load(string)
          end
        end

        # `:json_allow_marshal`: writes JSON; reads JSON, or the Base64
        # Marshal form when the string is not JSON.
        class JSONAllowMarshalSerializer
          include Codec

          # @return [Symbol] `:json_allow_marshal`
          def name
            :json_allow_marshal
          end

          # @param [Hash] hash the session.
          # @return [String] the JSON text, equal to `JSON.dump(hash)`.
          # @raise [JSON::GeneratorError] see {JSONSerializer#dump}.
          def dump(hash)
            json_dump(hash)
          end

          # @param [String] string the stored `data` attribute.
          # @return [Hash] the session.
          # @raise [Errors::CorruptSessionError] if `string` is neither a JSON
          #   object nor Base64 Marshal data of a Hash.
          def load(string)
            check_string!(string)
            if string.start_with?(MARSHAL_BASE64_PREFIX)
              marshal_load(string)
            else
              json_load(string)
            end
          end
        end

        # Data larger than `threshold` bytes (the `compress_data_above`
        # option; nil: never) is stored as {PREFIX} + Base64 of its zlib
        # deflate, which only this gem reads: the official gem sees a corrupt
        # session. Items so stored are always read back, whatever the option
        # says now, and inflate to at most {MAX_INFLATED} bytes (a crafted
        # item can't exhaust memory). zlib: Ruby's standard library.
        class Compressed
          PREFIX = "aws-sessionstore-dynamodb-rs:deflate:"
          # Far above DynamoDB's 400 KB item limit times any sane ratio.
          MAX_INFLATED = 64 * 1024 * 1024

          # @param inner [#dump, #load] the serializer of the uncompressed data.
          # @param threshold [Integer, nil] bytes; nil never compresses.
          def initialize(inner, threshold)
            @inner = inner
            @threshold = threshold
          end

          # @return [Symbol] the inner serializer's name.
          def name
            @inner.name
          end

          # @return [String] the inner serializer's text, compressed when
          #   larger than the threshold.
          # @raise [Errors::SessionTooLargeError] when the text is larger
          #   than {#load} would inflate: what is saved must read back.
          def dump(hash)
            text = @inner.dump(hash)
            return text unless @threshold && text.bytesize > @threshold

            if text.bytesize > MAX_INFLATED
              raise Errors::SessionTooLargeError.new(text.bytesize, MAX_INFLATED,
                                                     what: "what a compressed session may inflate to when read")
            end

            require "zlib"
            "#{PREFIX}#{[Zlib::Deflate.deflate(text)].pack("m0")}"
          end

          # @return [Hash] the session, compressed or not.
          # @raise [Errors::CorruptSessionError] if compressed data can't be
          #   inflated (or inflates past {MAX_INFLATED}).
          def load(string)
            return @inner.load(string) unless string.is_a?(String) && string.start_with?(PREFIX)

            @inner.load(inflate(string.byteslice(PREFIX.bytesize..)))
          end

          private

          def inflate(base64)
            require "zlib"
            inflater = Zlib::Inflate.new
            out = +""
            inflater.inflate(base64.unpack1("m0")) do |chunk|
              out << chunk
              raise Errors::CorruptSessionError, "Compressed session data inflates past #{MAX_INFLATED} bytes" \
                if out.bytesize > MAX_INFLATED
            end
            inflater.finish
            out.force_encoding(Encoding::UTF_8)
          rescue Zlib::Error, ArgumentError
            raise Errors::CorruptSessionError, "Stored session data is not valid compressed data", cause: nil
          ensure
            inflater&.close
          end
        end

        INSTANCES = {
          json: JSONSerializer.new.freeze,
          json_allow_marshal: JSONAllowMarshalSerializer.new.freeze,
          marshal: MarshalSerializer.new.freeze
        }.freeze
        # Reading compressed items, writing none: shared.
        UNCOMPRESSED = INSTANCES.transform_values { |inner| Compressed.new(inner, nil).freeze }.freeze
        private_constant :INSTANCES, :UNCOMPRESSED

        # @param [Symbol, String] name one of {NAMES}.
        # @return [JSONSerializer, JSONAllowMarshalSerializer, MarshalSerializer]
        #   a shared, frozen serializer responding to `dump(hash) -> String`
        #   and `load(string) -> Hash`.
        # @raise [Errors::ConfigurationError] for any other name.
        def self.for(name, compress_above: nil)
          key = name.respond_to?(:to_sym) ? name.to_sym : name
          inner = INSTANCES.fetch(key) do
            raise Errors::ConfigurationError,
                  ":serializer must be one of #{NAMES.map(&:inspect).join(", ")} " \
                  "(got #{name.class} #{name.inspect[0, 40]})"
          end
          compress_above ? Compressed.new(inner, compress_above).freeze : UNCOMPRESSED.fetch(key)
        end
      end
    end
  end
end
