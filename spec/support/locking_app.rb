# frozen_string_literal: true

require "rack"
require "rack/lint"
require "rack/mock"

# The locking specs' store and app, shared by the unit spec (in-memory
# client) and the integration spec (DynamoDB Local): the including group
# provides `store_options`.
#
#   include_context "a locked store"
#   request("/")          # one request with the shared cookie
#   request("/read", with: nil)
RSpec.shared_context "a locked store" do
  let(:errors_mod) { Aws::SessionStore::DynamoDB::Errors }
  let(:extra) { {} }
  # Called by the app on "/hook" after it incremented the counter, with the env.
  let(:hook) { ->(_env) {} }

  # Increments session["n"] on "/"; other paths exercise the session API.
  # Every path touches the session, so every request takes the lock.
  let(:inner_app) do
    h = hook
    lambda do |env|
      session = env["rack.session"]
      case env["PATH_INFO"]
      when "/read" then session["n"]
      when "/renew" then session["n"] && env["rack.session.options"][:renew] = true
      when "/drop" then session["n"] && env["rack.session.options"][:drop] = true
      when "/raise"
        session["n"] = session.fetch("n", 0) + 1
        raise "boom"
      when "/hook"
        session["n"] = session.fetch("n", 0) + 1
        h.call(env)
      when "/big" then session["blob"] = "x" * 500_000
      else session["n"] = session.fetch("n", 0) + 1
      end
      [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
    end
  end

  let(:store) { described_class.new(inner_app, store_options({ enable_locking: true }.merge(extra))) }
  let(:mock) { Rack::MockRequest.new(Rack::Lint.new(store)) }

  # The cookie of the session the requests share (nil: a new session).
  attr_accessor :cookie

  # One request with the shared cookie; remembers a new cookie when one is set.
  def request(path, with: cookie)
    env = with ? { "HTTP_COOKIE" => "rack.session=#{Rack::Utils.escape(with)}" } : {}
    response = mock.get(path, env)
    self.cookie = Rack::Utils.unescape(Regexp.last_match(1)) if response.headers["Set-Cookie"].to_s =~ /rack\.session=([^;]+)/
    response
  end

  def data_of(item)
    JSON.parse(item.fetch("data"))
  end
end
