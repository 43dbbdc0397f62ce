# frozen_string_literal: true

require "stringio"
require "aws/session_store/dynamo_db/errors"

RSpec.describe Aws::SessionStore::DynamoDB::Errors do
  let(:errors) { Aws::SessionStore::DynamoDB::Errors }

  describe "class hierarchy" do
    it "roots every error at Errors::Error < RuntimeError" do
      expect(errors::Error.superclass).to eq(RuntimeError)
      %i[MissingSecretKeyError InvalidIDError LockWaitTimeoutError ConfigurationError
         ServiceError NetworkError SessionTooLargeError LockLostError CorruptSessionError
         InternalError].each do |name|
        expect(errors.const_get(name).superclass).to eq(errors::Error), name.to_s
      end
    end

    it "derives the service errors from ServiceError" do
      %i[ResourceNotFoundError ConditionalCheckFailedError ThrottlingError ValidationError].each do |name|
        expect(errors.const_get(name).superclass).to eq(errors::ServiceError), name.to_s
      end
    end

    it "derives TimeoutError from NetworkError" do
      expect(errors::TimeoutError.superclass).to eq(errors::NetworkError)
    end

    it "keeps the module-level spellings of earlier official versions" do
      mod = Aws::SessionStore::DynamoDB
      expect(mod::MissingSecretKeyError).to equal(errors::MissingSecretKeyError)
      expect(mod::InvalidIDError).to equal(errors::InvalidIDError)
      expect(mod::LockWaitTimeoutError).to equal(errors::LockWaitTimeoutError)
    end
  end

  describe "default messages" do
    it "matches the official gem for its three errors" do
      expect(errors::MissingSecretKeyError.new.message).to eq("No secret key provided!")
      expect(errors::InvalidIDError.new.message).to eq("Corrupt Session ID!")
      expect(errors::LockWaitTimeoutError.new.message)
        .to eq("Maximum time spent to acquire lock has been exceeded!")
    end

    it "has a non-empty default for every other error" do
      %i[NetworkError TimeoutError LockLostError CorruptSessionError InternalError
         SessionTooLargeError].each do |name|
        expect(errors.const_get(name).new.message).not_to be_empty, name.to_s
      end
    end

    it "accepts a custom message" do
      expect(errors::InvalidIDError.new("bad").message).to eq("bad")
    end
  end

  describe Aws::SessionStore::DynamoDB::Errors::ServiceError do
    it "takes message, code, request id and status code positionally" do
      e = errors::ResourceNotFoundError.new("Requested resource not found", "ResourceNotFoundException",
                                            "REQ123", 400)
      expect(e.message).to eq("Requested resource not found")
      expect(e.code).to eq("ResourceNotFoundException")
      expect(e.request_id).to eq("REQ123")
      expect(e.status_code).to eq(400)
    end

    it "falls back to the code, then the class name, for the message" do
      expect(errors::ThrottlingError.new(nil, "ThrottlingException").message).to eq("ThrottlingException")
      expect(errors::ValidationError.new.message).to eq(errors::ValidationError.name)
      expect(errors::ValidationError.new.code).to be_nil
    end
  end

  describe Aws::SessionStore::DynamoDB::Errors::SessionTooLargeError do
    it "names the size and the 400 KB limit" do
      e = errors::SessionTooLargeError.new(500_000)
      expect(e.size).to eq(500_000)
      expect(e.limit).to eq(409_600)
      expect(e.message).to include("500000 bytes", "400 KB", "409600")
    end

    it "takes DynamoDB's item size limit from the native extension, where it is defined once" do
      expect(Aws::SessionStore::DynamoDB::Native::ITEM_SIZE_LIMIT).to eq(409_600)
      expect(errors::SessionTooLargeError.new(1).limit).to eq(Aws::SessionStore::DynamoDB::Native::ITEM_SIZE_LIMIT)
    end

    it "names the limit without a size" do
      expect(errors::SessionTooLargeError.new.message).to include("400 KB")
    end

    it "accepts a ready message" do
      expect(errors::SessionTooLargeError.new("too big").message).to eq("too big")
    end
  end

  describe Aws::SessionStore::DynamoDB::Errors::BaseHandler do
    it "is abstract" do
      expect { described_class.new.handle_error(RuntimeError.new, {}) }.to raise_error(NotImplementedError)
    end
  end

  describe Aws::SessionStore::DynamoDB::Errors::DefaultHandler do
    let(:stream) { StringIO.new }
    let(:env) { { "rack.errors" => stream } }

    it "is a BaseHandler" do
      expect(described_class.new(false)).to be_a(errors::BaseHandler)
    end

    it "lists the hard errors" do
      expect(described_class::HARD_ERRORS).to contain_exactly(
        errors::ResourceNotFoundError, errors::ConditionalCheckFailedError,
        errors::MissingSecretKeyError, errors::LockWaitTimeoutError
      )
    end

    context "with raise_errors false" do
      subject(:handler) { described_class.new(false) }

      it "re-raises every hard error" do
        [errors::ResourceNotFoundError.new("gone", "ResourceNotFoundException"),
         errors::ConditionalCheckFailedError.new("cond", "ConditionalCheckFailedException"),
         errors::MissingSecretKeyError.new,
         errors::LockWaitTimeoutError.new].each do |error|
          expect { handler.handle_error(error, env) }.to raise_error(error)
        end
        expect(stream.string).to be_empty
      end

      it "re-raises subclasses of hard errors" do
        sub = Class.new(errors::ResourceNotFoundError)
        expect { handler.handle_error(sub.new("x"), env) }.to raise_error(sub)
      end

      it "writes soft errors to rack.errors as one line and returns false" do
        error = errors::ThrottlingError.new("slow\ndown", "ThrottlingException")
        expect(handler.handle_error(error, env)).to be(false)
        expect(stream.string).to eq("Aws::SessionStore::DynamoDB::Errors::ThrottlingError: slow down\n")
      end

      it "handles network, corrupt-session and foreign errors softly" do
        expect(handler.handle_error(errors::NetworkError.new, env)).to be(false)
        expect(handler.handle_error(errors::CorruptSessionError.new, env)).to be(false)
        expect(handler.handle_error(IOError.new("boom"), env)).to be(false)
        expect(stream.string.lines.size).to eq(3)
        expect(stream.string).to include("IOError: boom")
      end

      it "copes with no env, nil env, or no rack.errors" do
        error = errors::NetworkError.new
        expect(handler.handle_error(error)).to be(false)
        expect(handler.handle_error(error, nil)).to be(false)
        expect(handler.handle_error(error, {})).to be(false)
      end
    end

    context "with raise_errors true" do
      subject(:handler) { described_class.new(true) }

      it "re-raises soft errors too, writing nothing" do
        error = errors::NetworkError.new
        expect { handler.handle_error(error, env) }.to raise_error(error)
        expect(stream.string).to be_empty
      end

      it "exposes the flag" do
        expect(handler.raise_errors).to be(true)
      end
    end
  end
end
