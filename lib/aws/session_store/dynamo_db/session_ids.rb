# frozen_string_literal: true

require "securerandom"
require "rack/utils"

module Aws
  module SessionStore
    module DynamoDB
      # Session ids as the official gem makes them: `"<HMAC-MD5 hex>--<sid>"`,
      # the sid random hex of at least 128 bits, signed with `secret_key`.
      # {#checked} is the one door for an id from the user's side: its
      # signature is checked in constant time, anything malformed is refused.
      # @api private
      class SessionIds
        # Hex digits of an HMAC-MD5.
        DIGEST_LENGTH = 32
        # Longest session id part accepted from a cookie.
        MAX_SID_LENGTH = 128

        # `id`'s public id as a plain String (a Rack::Session::SessionId's,
        # or the String itself), nil for anything else.
        def self.public_id(id)
          raw = id.is_a?(Rack::Session::SessionId) ? id.public_id : id
          raw.is_a?(String) ? String.new(raw) : nil
        end

        # @param secret_key [String]
        # @param hex_digits [Integer, nil] Rack's sid length (sidbits / 4).
        def initialize(secret_key, hex_digits)
          @secret_key = secret_key
          @bytes = [hex_digits.to_i, DIGEST_LENGTH].max / 2
        end

        # @return [String] a new signed id.
        def generate
          sid = SecureRandom.hex(@bytes)
          "#{digest(sid)}--#{sid}"
        end

        # @return [String, nil] `id`'s public id, frozen, when its signature
        #   checks out; nil otherwise.
        def checked(id)
          public_id = self.class.public_id(id)
          public_id && valid?(public_id) ? public_id.freeze : nil
        end

        # Whether `sid` is a well-formed id whose signature checks out
        # (constant time).
        def valid?(sid)
          return false unless sid.is_a?(String) && sid.bytesize <= DIGEST_LENGTH + 2 + MAX_SID_LENGTH

          # Bytes, not characters: a cookie may be any bytes (invalid UTF-8).
          signature, separator, id = sid.b.partition("--")
          return false unless separator == "--" && signature.bytesize == DIGEST_LENGTH
          return false unless id.match?(/\A[0-9a-zA-Z]+\z/n)

          Rack::Utils.secure_compare(digest(id), signature)
        end

        def inspect
          "#<#{self.class.name}>"
        end

        private

        # HMAC-MD5 hex, as `OpenSSL::HMAC.hexdigest("MD5", secret, sid)`
        # (computed natively: loading OpenSSL would double the require time).
        def digest(sid)
          Native.sid_digest(@secret_key, sid)
        end
      end
    end
  end
end
