# frozen_string_literal: true

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/counting_proxy"

# When DynamoDB can't be asked (throttled past the retries, timed out,
# unreachable), the request goes on with an empty stand-in session, but
# the stored session and the visitor's cookie are left alone, so nobody is
# logged out by a passing fault.
RSpec.describe "A passing DynamoDB failure" do
  include_context "with a session table"

  let(:proxy) { CountingProxy.new }
  let(:errors) { StringIO.new }
  let(:store) do
    Aws::SessionStore::DynamoDB::RackMiddleware.new(lambda { |env|
      session = env["rack.session"]
      session["n"] = session.fetch("n", 0) + 1
      [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
    }, store_options(endpoint: proxy.endpoint, max_attempts: 2, operation_timeout: 2))
  end

  after { proxy.stop }

  def request(cookie)
    env = Rack::MockRequest.env_for("/", "HTTP_COOKIE" => cookie.to_s, "rack.errors" => errors)
    status, headers, body = Rack::Lint.new(store).call(env)
    text = +""
    body.each { |part| text << part }
    body.close if body.respond_to?(:close)
    # Rack 3: lower-case names, and a header may be an Array of values.
    set_cookie = headers["set-cookie"] || headers["Set-Cookie"]
    [status, set_cookie && Array(set_cookie).join("\n"), text]
  end

  it "keeps the stored session and the cookie while throttled, and serves it again afterwards" do
    _, set_cookie, = request(nil)
    cookie = set_cookie.split(";").first
    request(cookie)
    stored = raw_item(cookie.split("=", 2).last.then { |v| Rack::Utils.unescape(v) })

    proxy.on_request do |operation, _body|
      if operation == "GetItem"
        [400, CountingProxy.error_body("ThrottlingException", "Rate of requests exceeds the allowed throughput.")]
      end
    end
    status, set_cookie, body = request(cookie)
    expect(status).to eq(200)
    expect(body).to eq("1") # the stand-in session of this request
    expect(set_cookie).to be_nil # the visitor keeps the cookie
    expect(errors.string).to include("ThrottlingError")
    expect(proxy.count("UpdateItem")).to eq(2) # the two writes before the fault; none since
    expect(raw_item(stored["session_id"]["S"])).to eq(stored)

    proxy.on_request { nil }
    _, _, body = request(cookie)
    expect(body).to eq("3")
  end

  it "gives a fresh session (new id) for an item that can never be read" do
    _, set_cookie, = request(nil)
    cookie = set_cookie.split(";").first
    key = Rack::Utils.unescape(cookie.split("=", 2).last)
    raw_dynamodb.put_item(table_name, "session_id" => { "S" => key }, "data" => { "S" => "{not json" })
    _, set_cookie, body = request(cookie)
    expect(body).to eq("1")
    expect(set_cookie).not_to be_nil
    expect(set_cookie).not_to include(cookie)
  end
end
