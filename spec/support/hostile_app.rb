# frozen_string_literal: true

require "json"
require "openssl"

# The hostile-input specs' app and cookie signer, shared by the unit spec
# (in-memory client) and the integration spec (DynamoDB Local).
#
#   include_context "the hostile-input app"
#   store_request(store, "/read", cookie: sign(id))
RSpec.shared_context "the hostile-input app" do
  let(:secret) { StoreSpecHelpers::SECRET }

  # "/read" only reads the session; "/" increments session["n"].
  let(:inner_app) do
    lambda do |env|
      session = env["rack.session"]
      session["n"] = session.fetch("n", 0) + 1 unless env["PATH_INFO"] == "/read"
      [200, { "content-type" => "application/json" }, [JSON.generate(session.to_hash)]]
    end
  end

  # A cookie value the store accepts for `sid`: its HMAC-MD5 under the secret.
  def sign(sid)
    "#{OpenSSL::HMAC.hexdigest("MD5", secret, sid)}--#{sid}"
  end
end
