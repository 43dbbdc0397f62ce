# frozen_string_literal: true

# Hostile input on the in-memory client: 10,000 generated cookies through
# the middleware (default error handler), and corrupt or extreme items as
# the native client answers them (an attribute of a type the store never
# writes comes back as a Symbol naming it, BOOL as true or false). What
# needs DynamoDB (binary data, GC of unreadable items) is in
# spec/integration/hostile_input_spec.rb; spec/integration/interop_spec.rb
# covers invalid JSON, data as N or M, missing data, non-Hash JSON, empty
# data, bad Marshal, a Marshal payload read with :json.
#
# The corpus is generated from RSpec's seed (rerun with --seed to replay).

require "aws-sessionstore-dynamodb-rs"
require "openssl"
require "securerandom"
require_relative "../../../../../support/memory_store"
require_relative "../../../../../support/hostile_app"

RSpec.describe Aws::SessionStore::DynamoDB::RackMiddleware, "with hostile input" do
  include_context "store on the memory client"
  include_context "the hostile-input app"

  # What a cookie must look like, and validate as, when the store hands it out.
  def fresh_cookie?(value)
    digest, id = value.to_s.split("--", 2)
    value.to_s.match?(/\A\h{32}--\h{32}\z/) && Rack::Utils.secure_compare(OpenSSL::HMAC.hexdigest("MD5", secret, id), digest)
  end

  # Whether the store must accept `value` (the cookie after Rack's parsing)
  # as a signed id and look it up: independent of the code under test.
  def validly_signed?(value)
    return false unless value.is_a?(String) && value.b.match?(/\A\h{32}--[0-9a-zA-Z]{1,128}\z/n)

    digest, id = value.b.split("--", 2)
    Rack::Utils.secure_compare(OpenSSL::HMAC.hexdigest("MD5", secret, id), digest)
  end

  describe "10,000 generated cookies" do
    let(:store) { Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, store_options) }

    HOSTILE_INJECTIONS = [
      "' OR '1'='1", "\"; DROP TABLE sessions; --", "<script>alert(1)</script>", "${jndi:ldap://127.0.0.1/a}",
      "../../../../etc/passwd", "attribute_exists(session_id)", "#k = :k", "{\"S\":\"x\"}", "%00", "\u202e",
      "$(id)", "`id`", "\\x00", "*", "?", "null", "undefined", "NaN", "-1", "0x41", "session_id", ":d"
    ].freeze

    # Category name => generator of one cookie value (before escaping) or,
    # for :raw_header, a whole Cookie header.
    def generators(random)
      hex = ->(n) { random.bytes((n + 1) / 2).unpack1("H*")[0, n] }
      valid = -> { sign(hex.call(32)) }
      bytes = ->(n) { random.bytes(n) }
      {
        random_bytes: -> { bytes.call(random.rand(0..200)) },
        truncated_valid_id: lambda {
          v = valid.call
          v[0, random.rand(0...v.size)]
        },
        extended_valid_id: -> { valid.call + ["0", "a", "--", "-", "Z", hex.call(random.rand(1..8))].sample(random: random) },
        wrong_hmac: -> { "#{hex.call(32)}--#{hex.call(32)}" },
        hmac_of_other_secret: lambda {
          id = hex.call(32)
          "#{OpenSSL::HMAC.hexdigest("MD5", "other", id)}--#{id}"
        },
        uppercased_hmac: lambda {
          d, id = valid.call.split("--")
          "#{d.upcase}--#{id}"
        },
        sha256_hmac: lambda {
          id = hex.call(32)
          "#{OpenSSL::HMAC.hexdigest("SHA256", secret, id)}--#{id}"
        },
        huge: -> { (valid.call + ("A" * 8192))[0, 8192 + random.rand(0..64)] },
        huge_junk: -> { bytes.call(8192) },
        overlong_signed_id: -> { sign("a" * random.rand(129..400)) },
        non_utf8: -> { "\xff\xfe".b + bytes.call(random.rand(0..40)) },
        non_utf8_digest: -> { "#{"\xc3\x28".b * 16}--#{hex.call(32)}" },
        dash_games: lambda {
          d, id = valid.call.split("--")
          ["a--b--c", "--", "----", "#{d}--", "--#{id}", "#{d}--#{id}--#{id}", "#{d}----#{id}", "-" * random.rand(1..50),
           "#{d}-#{id}", "#{d} -- #{id}", "#{d}--#{id}--", "--#{d}--#{id}"].sample(random: random)
        },
        injection_hex: -> { "#{hex.call(32)}--#{HOSTILE_INJECTIONS.sample(random: random)}" },
        injection_signed: -> { sign(HOSTILE_INJECTIONS.sample(random: random)) },
        injection_after_valid: -> { valid.call + HOSTILE_INJECTIONS.sample(random: random) },
        percent_junk: lambda {
          ["%", "%%", "%zz", "%E0%A4%A", "%FF%FE", "%C0%AF", "%00", "%u0041", "%2", "%3B%3D%2C",
           Array.new(random.rand(1..30)) { format("%%%02X", random.rand(256)) }.join].sample(random: random)
        },
        nul_bytes: lambda {
          v = valid.call
          ["\0", "\0" * random.rand(1..64), "#{v}\0", "\0#{v}", v.dup.insert(random.rand(0..v.size), "\0")].sample(random: random)
        },
        whitespace: lambda {
          v = valid.call
          [" #{v}", "#{v} ", "#{v}\t", "\r\n#{v}", "#{v[0, 10]} #{v[10..]}"].sample(random: random)
        },
        unicode: -> { ["#{"é" * 32}--#{hex.call(32)}", "🍪--🍪", "\u0000\uFFFF", "Ａ" * 40].sample(random: random) },
        empty: -> { "" },
        # Validly signed ids of sessions that don't exist: the only ones looked
        # up (one in eight; the others have their last character changed).
        signed_unknown: lambda {
          v = random.rand(2).zero? ? valid.call : sign(hex.call(random.rand(1..64)).tr("abc", "XYZ"))
          if random.rand(8).zero?
            v
          else
            v[0..-2] + (v[-1] == "0" ? "1" : "0")
          end
        },
        raw_header: lambda {
          v = valid.call
          ["rack.session", "rack.session=", "rack.session=#{v}; rack.session=junk", "rack.session=junk; rack.session=#{v}",
           "rack.session==#{v}", "rack.session=%#{v}", "rack.session=\"#{v}\"", "RACK.SESSION=#{v}",
           "rack.session=#{Rack::Utils.escape(v)}%3B", ";;;;", "=", "rack.session=a;" * 500].sample(random: random)
        }
      }
    end

    # How often each category comes up, relative to the others (1 when not
    # listed): the 8 KB ones cost the most to escape and parse.
    HOSTILE_WEIGHTS = { huge: 0.5, huge_junk: 0.25 }.freeze

    def corpus(size)
      random = Random.new(RSpec.configuration.seed)
      gens = generators(random)
      names = gens.keys.flat_map { |name| [name] * (HOSTILE_WEIGHTS.fetch(name, 1) * 4).round }
      Array.new(size) do |i|
        name = names[i % names.size]
        value = gens.fetch(name).call
        header = name == :raw_header ? value : "rack.session=#{escape_some(value, random)}"
        [name, header.b] # servers hand headers over as binary Strings
      end
    end

    # Most values are escaped as a browser would send them; some go raw.
    def escape_some(value, random)
      random.rand(4).zero? ? value : Rack::Utils.escape(value)
    end

    it "answers every one with a fresh, valid session: no 500, no exception, nothing written" do
      cookies = corpus(10_000)
      failures = []
      expected_lookups = 0

      cookies.each_with_index do |(name, header), i|
        presented = Rack::Utils.parse_cookies_header(header)["rack.session"]
        signed = validly_signed?(presented)
        expected_lookups += 1 if signed
        begin
          # Rack::Lint on every tenth request: it checks the answer's headers
          # but costs as much as the rest of the request.
          response = store_request(store, "/read", raw_cookie: header, lint: (i % 10).zero?)
        rescue Exception => e # rubocop:disable Lint/RescueException
          failures << [name, header, "#{e.class}: #{e.message}"]
          next
        end
        problem =
          if response.status != 200 then "status #{response.status}"
          elsif response.body != "{}" then "body #{response.body[0, 80].inspect}"
          elsif presented.nil? || presented.empty?
            # No session presented: Rack never loads one for a read, so
            # there is nothing to answer with.
            "cookie #{response.cookie.inspect} / errors #{response.errors.inspect}" if response.cookie || !response.errors.empty?
          elsif !fresh_cookie?(response.cookie) then "cookie #{response.cookie.inspect}"
          elsif response.cookie == presented then "kept the presented id"
          elsif signed && !response.errors.empty? then "errors #{response.errors.inspect}"
          elsif !signed && response.errors != "Aws::SessionStore::DynamoDB::Errors::InvalidIDError: Corrupt Session ID!\n"
            "errors #{response.errors.inspect}"
          end
        failures << [name, header, problem] if problem
      end

      expect(failures.size).to eq(0), "seed #{RSpec.configuration.seed}: #{failures.size} failures, e.g.\n" +
                                      failures.first(8).map { |f| f.map { |x| x.to_s.inspect[0, 160] }.join(" | ") }.join("\n")
      expect(expected_lookups).to be_between(10, 1_000)
      expect(operations.count(:get_item)).to eq(expected_lookups) # everything else is rejected before any call
      expect(operations.uniq).to eq([:get_item]) # no save, delete, ...
      expect(stored_keys).to be_empty

      # Still healthy: sessions work.
      first = store_request(store)
      expect(first.body).to eq('{"n":1}')
      expect(store_request(store, cookie: first.cookie).body).to eq('{"n":2}')
      expect(JSON.parse(stored(first.cookie)["data"])).to eq("n" => 2)
    end

    it "creates items only under fresh ids when hostile requests write" do
      gens = generators(Random.new(RSpec.configuration.seed))
      presented = gens.keys.map { |name| gens.fetch(name).call }
      responses = presented.map { |value| store_request(store, "/", cookie: value) }
      expect(responses.map(&:status)).to all(eq(200))
      expect(responses.map(&:body)).to all(eq('{"n":1}'))
      cookies = responses.map(&:cookie)
      expect(cookies).to all(satisfy { |c| fresh_cookie?(c) })
      expect(cookies & presented).to be_empty
      expect(stored_keys).to match_array(cookies)
    end

    it "ignores a session id in the query string or form (cookie_only)" do
      victim = store_request(store).cookie
      response = store_request(store, "/read?rack.session=#{Rack::Utils.escape(victim)}")
      expect(response.body).to eq("{}")
      expect(response.cookie).not_to eq(victim)
    end

    it "treats a 32-character digest followed by non-UTF-8 bytes as an invalid id (no exception)" do
      ["#{"a" * 32}--%FF", "#{"0" * 32}--abc%C3%28", "#{sign("abc")[0, 32]}--%E9t%E9"].each do |value|
        response = store_request(store, "/read", raw_cookie: "rack.session=#{value}")
        expect(response.status).to eq(200)
        expect(fresh_cookie?(response.cookie)).to be(true)
        expect(response.errors).to eq("Aws::SessionStore::DynamoDB::Errors::InvalidIDError: Corrupt Session ID!\n")
      end
    end
  end

  describe "corrupt or extreme items (beyond spec/integration/interop_spec.rb)" do
    let(:extra) { {} }
    let(:store) { Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, store_options(extra)) }
    let(:now) { (Time.now.to_f - 60).to_s }

    # Plants an item under a fresh signed id, its attributes in DynamoDB's
    # JSON form (held as the native client answers them: MemoryClient#put_typed,
    # checked against the real client by the contract); returns [key, item].
    def plant_item(attrs)
      key = sign(SecureRandom.hex(16))
      client.put_typed(key, { "session_id" => { "S" => key }, "created_at" => { "S" => now },
                              "updated_at" => { "S" => now } }.merge(attrs))
      [key, stored(key)]
    end

    def error_lines(response)
      response.errors.lines
    end

    context "unreadable timestamps (a session that could never expire)" do
      [["created_at as BOOL", { "created_at" => { "BOOL" => true } }, "created_at (TrueClass)"],
       ["updated_at as text that is no number", { "updated_at" => { "S" => "yesterday" } }, "updated_at (String)"],
       ["created_at as a map", { "created_at" => { "M" => { "t" => { "N" => "1" } } } }, "created_at (DynamoDB type M)"],
       ["no timestamps at all", :none, "created_at (NilClass)"]].each do |label, attrs, named|
        it "#{label}: a fresh session and one line in rack.errors; the item is left alone (for GC)" do
          key, item = if attrs == :none
                        k = sign(SecureRandom.hex(16))
                        plant(k, "data" => '{"n":5}')
                        [k, stored(k)]
                      else
                        plant_item({ "data" => { "S" => '{"n":5}' } }.merge(attrs))
                      end
          read = store_request(store, "/read", cookie: key)
          expect(read.status).to eq(200)
          expect(read.body).to eq("{}")
          expect(error_lines(read)).to eq(["Aws::SessionStore::DynamoDB::Errors::CorruptSessionError: " \
                                           "session item has an unreadable #{named}\n"])
          expect(stored(key)).to eq(item)
        end
      end
    end

    context "created_at as BOOL" do
      [{}, { max_age: 3600 }, { max_stale: 3600 }].each do |options|
        context "with #{options.empty? ? "no lifetime options" : options}" do
          let(:extra) { options }

          it "gives a fresh session without a 500, and renew gives the new item a timestamp" do
            key, = plant_item("data" => { "S" => '{"n":5}' }, "created_at" => { "BOOL" => true })
            read = store_request(store, "/read", cookie: key)
            expect(read.status).to eq(200)
            expect(read.body).to eq("{}")

            renewing = Aws::SessionStore::DynamoDB::RackMiddleware.new(lambda { |env|
              env["rack.session"]["n"] = 9
              env["rack.session.options"][:renew] = true
              [200, {}, ["ok"]]
            }, store_options(extra))
            renewed = store_request(renewing, cookie: key)
            expect(renewed.status).to eq(200)
            item = stored(renewed.cookie)
            expect(item["created_at"]).to be_a(String)
            expect(Float(item["created_at"])).to be_within(120).of(Time.now.to_f)
            # The unreadable item was never this visitor's session: left for GC.
            expect(stored(key)["created_at"]).to be(true)
          end
        end
      end
    end

    context "a valid item of 399 KB" do
      let(:extra) { { touch_interval: 0 } }
      let(:blob) { "x" * (399 * 1024 - 200) }

      it "is read intact, rewritten when changed, and a change past 400 KB is refused softly" do
        data = JSON.generate("n" => 1, "blob" => blob)
        key, = plant_item("data" => { "S" => data })
        expect(stored(key)["data"].bytesize).to be > 398 * 1024

        read = store_request(store, "/read", cookie: key)
        expect(read.errors).to be_empty
        expect(JSON.parse(read.body)).to eq("n" => 1, "blob" => blob)

        written = store_request(store, cookie: key) # same size, n = 2
        expect(written.errors).to be_empty
        expect(JSON.parse(stored(key)["data"])).to eq("n" => 2, "blob" => blob)

        growing = Aws::SessionStore::DynamoDB::RackMiddleware.new(lambda { |env|
          env["rack.session"]["more"] = "y" * 4096
          [200, {}, ["ok"]]
        }, store_options(extra))
        refused = store_request(growing, cookie: key)
        expect(refused.status).to eq(200)
        expect(refused.errors).to match(/\AAws::SessionStore::DynamoDB::Errors::SessionTooLargeError: /)
        expect(JSON.parse(stored(key)["data"])).to eq("n" => 2, "blob" => blob)
      end
    end
  end
end
