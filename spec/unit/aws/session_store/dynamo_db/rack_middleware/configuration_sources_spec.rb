# frozen_string_literal: true

# Every configuration source, end to end: the middleware is built from
# runtime options, ENV, the legacy ENV names and YAML files (with ERB), and
# the proof is which table the session is saved to and which client
# options the native client is built with (on the in-memory client).
# ../configuration_spec.rb covers the merging rules in isolation.

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../../support/memory_store"
require_relative "../../../../../support/store_environment"

RSpec.describe Aws::SessionStore::DynamoDB::Configuration, "sources through the middleware" do
  include_context "store on the memory client"
  let(:tables) { %i[runtime env legacy yaml env_yaml].to_h { |source| [source, "cfg-#{source}-sessions"] } }
  let(:endpoint) { "http://127.0.0.1:1" }
  # No store variable from the outside leaks in (and none stays behind).
  include_context "with a clean store environment"

  let(:inner_app) do
    lambda do |env|
      env["rack.session"]["user_id"] = 42
      [200, { "content-type" => "text/plain" }, ["ok"]]
    end
  end

  # Builds the middleware from these runtime options only (no table_name
  # unless given), runs one request that writes a session, and returns the
  # cookie value.
  def write_session(runtime_options)
    store = Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, runtime_options)
    response = Rack::MockRequest.new(Rack::Lint.new(store)).get("/", "rack.errors" => StringIO.new)
    expect(response.status).to eq(200)
    cookie = response.headers["Set-Cookie"].to_s[/\Arack\.session=([^;]+)/, 1]
    expect(cookie).not_to be_nil
    Rack::Utils.unescape(cookie)
  end

  # The sources (keys of `tables`) whose table the session `cookie` was
  # saved to.
  def sources_holding(cookie)
    tables.select do |_, name|
      requests_of(:save_session).any? { |request| request.key == cookie && request.table == name }
    end.keys
  end

  def item_in(source, cookie)
    expect(sources_holding(cookie)).to eq([source])
    stored(cookie)
  end

  # A config file that also carries the client options, so the store can
  # reach its endpoint from the file alone. ERB builds the values.
  def erb_config(table, extra_lines = "")
    yaml_file(<<~YAML, "sessions.yml")
      # <%= "ERB comment, evaluated before YAML" %>
      table_name: <%= #{table.split("-").inspect}.join("-") %>
      endpoint: <%= "#{endpoint}" %>
      region: us-<%= "east" %>-1
      access_key_id: dummy
      secret_access_key: <%= "dum" + "my" %>
      #{extra_lines}
    YAML
  end

  def secret
    StoreSpecHelpers::SECRET
  end

  def native_options
    { endpoint: endpoint, region: "us-east-1", access_key_id: "dummy", secret_access_key: "dummy" }
  end

  def runtime(extra = {})
    native_options.merge(secret_key: secret).merge(extra)
  end

  it "takes table_name from ENV['AWS_DYNAMO_DB_SESSION_TABLE_NAME']" do
    ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = tables[:env]
    cookie = write_session(runtime)
    expect(sources_holding(cookie)).to eq([:env])
    expect(JSON.parse(item_in(:env, cookie)["data"])).to eq("user_id" => 42)
  end

  it "parses ENV values: max_stale as an Integer, serializer as a Symbol, the secret as a String" do
    ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = tables[:env]
    ENV["AWS_DYNAMO_DB_SESSION_MAX_STALE"] = "3600"
    ENV["AWS_DYNAMO_DB_SESSION_SERIALIZER"] = "marshal"
    ENV["AWS_DYNAMO_DB_SESSION_SECRET_KEY"] = "1234567890123456"
    cookie = write_session(native_options)
    item = item_in(:env, cookie)
    expect(item["expire_at"]).to be_within(5).of(Time.now.to_i + 3600 + 180) # max_stale + touch interval
    expect(item["data"]).to eq([Marshal.dump("user_id" => 42)].pack("m*"))
    digest, sid = cookie.split("--", 2)
    expect(digest).to eq(OpenSSL::HMAC.hexdigest("MD5", "1234567890123456", sid))
  end

  it "takes everything from a YAML file with ERB given as :config_file" do
    path = erb_config(tables[:yaml], "serializer: :marshal\nmax_stale: 600")
    cookie = write_session(secret_key: secret, config_file: path)
    expect(sources_holding(cookie)).to eq([:yaml])
    item = item_in(:yaml, cookie)
    expect(item["data"]).to eq([Marshal.dump("user_id" => 42)].pack("m*"))
    expect(item["expire_at"]).to be_within(5).of(Time.now.to_i + 600 + 30) # max_stale + touch interval
    expect(client_options.last).to include(endpoint: endpoint, region: "us-east-1", access_key_id: "dummy",
                                           secret_access_key: "dummy")
  end

  it "takes the YAML file from ENV['AWS_DYNAMO_DB_SESSION_CONFIG_FILE'], secret_key included" do
    ENV["AWS_DYNAMO_DB_SESSION_CONFIG_FILE"] =
      erb_config(tables[:env_yaml], "secret_key: <%= 'yaml-' * 4 %>secret")
    store = Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, {})
    expect(store.config.config_file).to eq(ENV["AWS_DYNAMO_DB_SESSION_CONFIG_FILE"])
    cookie = write_session({})
    expect(sources_holding(cookie)).to eq([:env_yaml])
    expect(client_options.last).to include(endpoint: endpoint, secret_access_key: "dummy")
    digest, sid = cookie.split("--", 2)
    expect(digest).to eq(OpenSSL::HMAC.hexdigest("MD5", "yaml-yaml-yaml-yaml-secret", sid))
  end

  it "reads the legacy ENV['DYNAMO_DB_SESSION_TABLE_NAME'], warning once that it is deprecated" do
    ENV["DYNAMO_DB_SESSION_TABLE_NAME"] = tables[:legacy]
    cookie = nil
    expect { cookie = write_session(runtime) }
      .to output(/ENV\['DYNAMO_DB_SESSION_TABLE_NAME'\] is deprecated; use ENV\['AWS_DYNAMO_DB_SESSION_TABLE_NAME'\]/)
      .to_stderr
    expect(sources_holding(cookie)).to eq([:legacy])

    second = nil
    expect { second = write_session(runtime) }.not_to output.to_stderr
    expect(sources_holding(second)).to eq([:legacy])
  end

  it "reads the legacy ENV['DYNAMO_DB_SESSION_CONFIG_FILE'], with a warning" do
    ENV["DYNAMO_DB_SESSION_CONFIG_FILE"] = erb_config(tables[:yaml])
    cookie = nil
    expect { cookie = write_session(secret_key: secret) }
      .to output(/ENV\['DYNAMO_DB_SESSION_CONFIG_FILE'\] is deprecated/).to_stderr
    expect(sources_holding(cookie)).to eq([:yaml])
  end

  it "prefers the new ENV name to the legacy one, without a warning" do
    ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = tables[:env]
    ENV["DYNAMO_DB_SESSION_TABLE_NAME"] = tables[:legacy]
    cookie = nil
    # (the boot warning about the session lifetime may come first in a run)
    expect { cookie = write_session(runtime) }.not_to output(/deprecated/).to_stderr
    expect(sources_holding(cookie)).to eq([:env])
  end

  it "ranks runtime options over ENV over legacy ENV over YAML" do
    ENV["AWS_DYNAMO_DB_SESSION_CONFIG_FILE"] = erb_config(tables[:yaml])
    ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = tables[:env]
    ENV["DYNAMO_DB_SESSION_TABLE_NAME"] = tables[:legacy]

    runtime_cookie = write_session(runtime(table_name: tables[:runtime]))
    expect(sources_holding(runtime_cookie)).to eq([:runtime])

    env_cookie = write_session(runtime)
    expect(sources_holding(env_cookie)).to eq([:env])

    ENV.delete("AWS_DYNAMO_DB_SESSION_TABLE_NAME")
    legacy_cookie = nil
    expect { legacy_cookie = write_session(runtime) }.to output(/deprecated/).to_stderr
    expect(sources_holding(legacy_cookie)).to eq([:legacy])

    ENV.delete("DYNAMO_DB_SESSION_TABLE_NAME")
    yaml_cookie = write_session(runtime)
    expect(sources_holding(yaml_cookie)).to eq([:yaml])

    expected = { runtime: 1, env: 1, legacy: 1, yaml: 1, env_yaml: 0 }
    saves = requests_of(:save_session).map(&:table)
    expect(tables.transform_values { |name| saves.count(name) }).to eq(expected)
  end

  it "lets runtime options beat both ENV and a :config_file for the same option" do
    ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = tables[:env]
    path = erb_config(tables[:yaml])
    cookie = write_session(secret_key: secret, config_file: path, table_name: tables[:runtime])
    expect(sources_holding(cookie)).to eq([:runtime])
    cookie = write_session(secret_key: secret, config_file: path)
    expect(sources_holding(cookie)).to eq([:env])
  end
end
