# frozen_string_literal: true

require "spec_helper"
require "rbconfig"
require "tmpdir"
require "uri"
require_relative "../support/tls_proxy"

# The session hot path over https, as against AWS: TLS with certificate
# verification, keep-alive, in a fresh process whose trust store is a
# throwaway CA (SSL_CERT_FILE), through a TLS proxy to DynamoDB Local.
RSpec.describe "TLS endpoints" do
  include StoreSpecHelpers
  include_context "with a session table"

  around do |example|
    Dir.mktmpdir("tls-spec") do |dir|
      @dir = dir
      @proxy = TlsProxy.new(URI(DynamoDBLocalHelper.endpoint).port, dir)
      example.run
    ensure
      @proxy&.stop
    end
  end

  # Runs `code` in a fresh Ruby with the store loaded; returns [stdout, status].
  def child(code, env)
    script = <<~RUBY
      require "aws-sessionstore-dynamodb-rs"
      client = Aws::SessionStore::DynamoDB::Native.client(
        endpoint: #{@proxy.endpoint.inspect}, region: "us-east-1",
        access_key_id: "dummy", secret_access_key: "dummy", operation_timeout: 10.0, max_attempts: 1
      )
      native = Aws::SessionStore::DynamoDB::Native
      item = { table: #{table_name.inspect}, key_name: "session_id", key: "tls-sid" }
      #{code}
    RUBY
    out = IO.popen(env, [RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__), "-e", script],
                   err: %i[child out], &:read)
    [out, $?]
  end

  it "saves and reads sessions over verified TLS, reusing one connection" do
    out, status = child(<<~RUBY, "SSL_CERT_FILE" => @proxy.ca_file)
      5.times do |i|
        client.save_session(native::SaveRequest.new(**item, data: "data-\#{i}", created_at: "1.0",
                                                            new_session: i.zero?))
      end
      print client.get_item(native::ItemRequest.new(**item, consistent: true))["data"]
    RUBY
    expect(status).to be_success, out
    expect(out).to eq("data-4")
    expect(raw_dynamodb.get_item(table_name, "session_id" => { "S" => "tls-sid" })["Item"]["data"]).to eq("S" => "data-4")
    expect(@proxy.connections).to eq(1)
  end

  it "refuses a server whose certificate the trust store does not vouch for" do
    # Another throwaway CA, in a directory of its own.
    other = TlsProxy.new(URI(DynamoDBLocalHelper.endpoint).port, Dir.mktmpdir("tls-other", @dir))
    other.stop
    out, status = child(<<~RUBY, "SSL_CERT_FILE" => other.ca_file)
      begin
        client.get_item(native::ItemRequest.new(**item, consistent: true))
        print "no error"
      rescue Aws::SessionStore::DynamoDB::Errors::NetworkError => e
        print "NetworkError: \#{e.message}"
      end
    RUBY
    expect(status).to be_success, out
    expect(out).to start_with("NetworkError:")
    expect(out).to match(/certificate|UnknownIssuer/i)
  end
end
