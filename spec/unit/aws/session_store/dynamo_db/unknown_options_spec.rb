# frozen_string_literal: true

# A mistyped option is reported once at boot with the closest known name,
# whichever source it came from (keywords, ENV, the YAML file), and the
# store goes on as before: the unknown name is ignored.

require "stringio"
require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/memory_client"
require_relative "../../../../support/store_environment"

RSpec.describe Aws::SessionStore::DynamoDB::UnknownOptions do
  include_context "with a clean store environment"

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  let(:secret) { "unit-secret-#{"k" * 52}" }
  let(:app) { ->(_env) { [200, {}, ["ok"]] } }

  before do
    dynamo::Warnings.forget!(:unknown_option)
    dynamo::Native.client_factory = ->(_options) { MemoryClient.new }
  end

  after do
    dynamo::Native.client_factory = nil
    dynamo::Warnings.forget!(:unknown_option)
  end

  def capture_stderr
    saved = $stderr
    $stderr = StringIO.new
    yield
    $stderr.string
  ensure
    $stderr = saved
  end

  def middleware(**options)
    dynamo::RackMiddleware.new(app, { secret_key: secret, max_stale: 3600, region: "us-east-1" }.merge(options))
  end

  it "names a mistyped middleware keyword and the option it probably meant" do
    store = nil
    expect { store = middleware(enable_lockng: true) }
      .to output(/unknown option :enable_lockng \(\S+RackMiddleware options\) is ignored; did you mean :enable_locking\?/)
      .to_stderr
    expect(store.config.enable_locking).to be(false)
  end

  it "reports a name close to none without a guess" do
    expect { middleware(qqqqqqqqqq: 1) }.to output(/unknown option :qqqqqqqqqq .* is ignored\n\z/).to_stderr
  end

  it "reports each unknown name once per process" do
    expect { middleware(user_kye: "x") }.to output(/:user_kye/).to_stderr
    expect { middleware(user_kye: "x") }.not_to output.to_stderr
  end

  it "knows Rack's and Rails' session and cookie options" do
    expect do
      middleware(key: "_app", path: "/", domain: "example.test", expire_after: 60, secure: true, httponly: true,
                 same_site: :lax, renew: false, drop: false, skip: false, defer: false, cookie_only: true,
                 sidbits: 128, partitioned: false, tld_length: 1)
    end.not_to output.to_stderr
  end

  it "names a mistyped environment variable with the variable it probably meant" do
    ENV["AWS_DYNAMO_DB_SESSION_TABEL_NAME"] = "x"
    ENV["DYNAMO_DB_SESSION_ENABLE_LOCKIN"] = "true"
    lines = capture_stderr { dynamo::Configuration.new }.lines(chomp: true)
    expect(lines).to contain_exactly(
      "aws-sessionstore-dynamodb-rs: unknown option AWS_DYNAMO_DB_SESSION_TABEL_NAME (ENV) is ignored; " \
      "did you mean AWS_DYNAMO_DB_SESSION_TABLE_NAME?",
      "aws-sessionstore-dynamodb-rs: unknown option DYNAMO_DB_SESSION_ENABLE_LOCKIN (ENV) is ignored; " \
      "did you mean DYNAMO_DB_SESSION_ENABLE_LOCKING?"
    )
  end

  it "reports a runtime-only option set in ENV, which is never read from there" do
    ENV["AWS_DYNAMO_DB_SESSION_ERROR_HANDLER"] = "MyHandler"
    expect { dynamo::Configuration.new }.to output(/AWS_DYNAMO_DB_SESSION_ERROR_HANDLER \(ENV\) is ignored/).to_stderr
  end

  it "names a mistyped key of the YAML file, and lets environment sections pass" do
    path = yaml_file("table_nmae: x\nconsistent_read: false\nproduction:\n  table_name: y\n", "sessions.yml")
    config = nil
    expect(capture_stderr { config = dynamo::Configuration.new(config_file: path) })
      .to eq("aws-sessionstore-dynamodb-rs: unknown option :table_nmae (config file sessions.yml) is ignored; " \
             "did you mean :table_name?\n")
    expect(config.table_name).to eq("sessions")
    expect(config.consistent_read).to be(false)
  end

  it "says nothing when every option is known" do
    ENV["AWS_DYNAMO_DB_SESSION_TABLE_NAME"] = "t"
    path = yaml_file("consistent_read: false\n")
    expect { middleware(config_file: path, enable_locking: true, key: "_k") }.not_to output.to_stderr
  end
end
