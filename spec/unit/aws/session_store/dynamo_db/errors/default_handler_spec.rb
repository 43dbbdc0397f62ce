# frozen_string_literal: true

require "stringio"
require "aws-sessionstore-dynamodb-rs"

# Hard and soft errors, with and without raise_errors, are in
# errors_spec.rb; these are the handler's public helpers and edges.
RSpec.describe Aws::SessionStore::DynamoDB::Errors::DefaultHandler do
  let(:errors) { Aws::SessionStore::DynamoDB::Errors }
  let(:stream) { StringIO.new }
  subject(:handler) { described_class.new }

  it "does not raise soft errors by default (the official gem's signature, no argument)" do
    expect(handler.raise_errors).to be(false)
    expect(handler.handle_error(errors::NetworkError.new("down"), "rack.errors" => stream)).to be(false)
  end

  it "re-raises the very error it was given, not a copy" do
    error = errors::LockWaitTimeoutError.new
    expect { handler.handle_error(error, {}) }.to raise_error(be(error))
  end

  it "answers hard_error? for the hard errors and their subclasses only" do
    expect(handler.hard_error?(errors::MissingSecretKeyError.new)).to be(true)
    expect(handler.hard_error?(Class.new(errors::LockWaitTimeoutError).new)).to be(true)
    expect(handler.hard_error?(errors::ThrottlingError.new)).to be(false)
    expect(handler.hard_error?(StandardError.new)).to be(false)
  end

  it "folds every line break, and the spaces around it, into one space" do
    error = errors::NetworkError.new("first  \r\n\n  second\rthird\n")
    expect(handler.errors_string(error)).to eq("Aws::SessionStore::DynamoDB::Errors::NetworkError: first second third ")
  end

  it "writes an error with an empty message as its class alone" do
    handler.store_error(IOError.new(""), "rack.errors" => stream)
    expect(stream.string).to eq("IOError: \n")
  end

  it "writes nothing, and does not fail, for an env that is not a Hash" do
    expect { handler.store_error(IOError.new("x"), Object.new) }.not_to raise_error
    expect(handler.handle_error(IOError.new("x"), "not an env")).to be(false)
  end
end
