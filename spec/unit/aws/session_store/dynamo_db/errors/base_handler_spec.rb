# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"

# That BaseHandler itself is abstract is in errors_spec.rb.
RSpec.describe Aws::SessionStore::DynamoDB::Errors::BaseHandler do
  let(:dynamo) { Aws::SessionStore::DynamoDB }

  it "names the subclass that forgot handle_error" do
    forgetful = Class.new(described_class)
    stub_const("ForgetfulHandler", forgetful)
    expect { forgetful.new.handle_error(RuntimeError.new) }
      .to raise_error(NotImplementedError, "ForgetfulHandler#handle_error is not implemented")
  end

  it "is what an application subclasses, as the documented example does, and the store takes it" do
    logged = []
    handler_class = Class.new(described_class) do
      define_method(:handle_error) do |error, _env = {}|
        logged << "session store: #{error.class}"
        false
      end
    end
    handler = handler_class.new
    expect(handler.handle_error(dynamo::Errors::NetworkError.new, {})).to be(false)
    expect(logged).to eq(["session store: Aws::SessionStore::DynamoDB::Errors::NetworkError"])
    expect(dynamo::Configuration.new(error_handler: handler).error_handler).to equal(handler)
  end
end
