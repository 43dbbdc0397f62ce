# frozen_string_literal: true

# Large sessions: optional zlib compression of `data` above a size
# threshold (compress_data_above), and a clear SessionTooLargeError before
# DynamoDB's 400 KB item limit either way.

require "aws-sessionstore-dynamodb-rs"
require "zlib"
require_relative "../../../../../support/memory_store"

RSpec.describe Aws::SessionStore::DynamoDB::RackMiddleware, "with large sessions" do
  include_context "store on the memory client"

  let(:prefix) { Aws::SessionStore::DynamoDB::Serializer::Compressed::PREFIX }
  # ~600 KB of text that compresses well, as carts and form state do.
  let(:big) { Array.new(12_000) { |i| "item-#{i % 50}-#{"x" * 40}" }.join(",") }
  let(:app) do
    blob = big
    lambda do |env|
      session = env["rack.session"]
      session["blob"] = blob unless env["PATH_INFO"] == "/read"
      [200, { "content-type" => "text/plain" }, [session["blob"].to_s.bytesize.to_s]]
    end
  end

  def store(**extra)
    Aws::SessionStore::DynamoDB::RackMiddleware.new(app, store_options({ max_stale: 3600 }.merge(extra)))
  end

  it "stores data above the threshold compressed, under the item limit, and reads it back intact" do
    expect(JSON.dump("blob" => big).bytesize).to be > 400 * 1024
    compressing = store(compress_data_above: 16 * 1024)
    written = store_request(compressing)
    expect(written.errors).to eq("")
    data = stored(written.cookie)["data"]
    expect(data).to start_with(prefix)
    expect(data.bytesize).to be < 100 * 1024
    expect(store_request(compressing, "/read", cookie: written.cookie).body).to eq(big.bytesize.to_s)
    # Turned off again: compressed items are still read.
    expect(store_request(store, "/read", cookie: written.cookie).body).to eq(big.bytesize.to_s)
  end

  it "leaves data under the threshold as the official gem writes it" do
    small = Aws::SessionStore::DynamoDB::RackMiddleware.new(StoreRequestHelpers::COUNTER_APP,
                                                            store_options(max_stale: 3600, compress_data_above: 1024))
    cookie = store_request(small).cookie
    expect(stored(cookie)["data"]).to eq('{"n":1}')
  end

  it "refuses a session past DynamoDB's 400 KB limit with SessionTooLargeError, saving nothing (no compression)" do
    response = store_request(store)
    expect(response.status).to eq(200)
    expect(response.errors).to start_with("Aws::SessionStore::DynamoDB::Errors::SessionTooLargeError: session item is ")
    expect(response.errors).to include("over DynamoDB's item size limit of 409600 bytes")
    expect(stored_keys).to be_empty
  end

  it "refuses at save a session that would inflate past what a read accepts (SessionTooLargeError, nothing written)" do
    cookie = store_request(store(compress_data_above: 1024)).cookie
    before = stored(cookie)
    huge = "a" * (65 * 1024 * 1024) # deflates to ~65 KB, would read back as corrupt
    growing = Aws::SessionStore::DynamoDB::RackMiddleware.new(lambda { |env|
      env["rack.session"]["blob"] = huge
      [200, {}, ["ok"]]
    }, store_options(max_stale: 3600, compress_data_above: 1024))
    response = store_request(growing, cookie: cookie)
    expect(response.errors).to match(/SessionTooLargeError: session is \d+ bytes, over what a compressed session /)
    expect(response.errors).to include("may inflate to when read (67108864 bytes)")
    expect(stored(cookie)).to eq(before)
    expect(store_request(store(compress_data_above: 1024), "/read", cookie: cookie).body).to eq(big.bytesize.to_s)
  end

  it "treats compressed data that inflates past 64 MiB, or is no deflate stream, as corrupt (a fresh session)" do
    bomb = "#{prefix}#{[Zlib::Deflate.deflate("\0" * (65 * 1024 * 1024))].pack("m0")}"
    garbage = "#{prefix}#{["not deflate"].pack("m0")}"
    [[bomb, /inflates past 67108864 bytes/], [garbage, /not valid compressed data/]].each do |data, message|
      key = "#{OpenSSL::HMAC.hexdigest("MD5", StoreSpecHelpers::SECRET, "a" * 32)}--#{"a" * 32}"
      now = Time.now.to_f.to_s
      plant(key, "data" => data, "created_at" => now, "updated_at" => now)
      response = store_request(store, "/read", cookie: key)
      expect(response.status).to eq(200)
      expect(response.body).to eq("0")
      expect(response.errors).to match(/CorruptSessionError: .*#{message.source}/)
    end
  end
end
