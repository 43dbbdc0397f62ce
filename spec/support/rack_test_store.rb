# frozen_string_literal: true

require "rack"
require "rack/lint"
require "rack/test"
require "stringio"

# Rack::Test requests through `store` (a let the spec defines) behind
# Rack::Lint, with rack.errors collected in `errors`; `cookie_value` is the
# session cookie the jar holds now.
RSpec.shared_context "through Rack::Test" do
  include Rack::Test::Methods

  let(:errors) { StringIO.new }
  let(:app) do
    s = store
    ->(env) { Rack::Lint.new(s).call(env.merge("rack.errors" => errors)) }
  end

  def cookie_value
    rack_mock_session.cookie_jar["rack.session"]
  end
end
