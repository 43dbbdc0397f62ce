# frozen_string_literal: true

require "aws-sessionstore-dynamodb-rs"
require_relative "../../../../support/store_environment"

RSpec.describe Aws::SessionStore::DynamoDB::Lifetime do
  include_context "with a clean store environment"

  let(:dynamo) { Aws::SessionStore::DynamoDB }
  # What the locking strategies hand over (Locking::Loaded's members).
  let(:loaded_class) do
    Struct.new(:data, :created_at, :updated_at, :lock, :found_under, keyword_init: true) do
      def under_old_key?
        !found_under.nil?
      end
    end
  end

  def config(**options)
    dynamo::Configuration.new(options)
  end

  def lifetime(expire_after = nil, **options)
    described_class.new(config(**options), expire_after)
  end

  def loaded(created_ago: 10, updated_ago: 10, data: '{"a":1}', **extra)
    now = Time.now.to_f
    loaded_class.new(data: data, created_at: (now - created_ago).to_s, updated_at: (now - updated_ago).to_s, **extra)
  end

  describe "#expired?" do
    it "is false for a session used within max_stale" do
      expect(lifetime(max_stale: 3600).expired?(loaded(updated_ago: 3500))).to be(false)
    end

    it "is true once unused for longer than max_stale" do
      expect(lifetime(max_stale: 3600).expired?(loaded(updated_ago: 3700))).to be(true)
    end

    it "is true past max_age however recently the session was used" do
      session = loaded(created_ago: 7200, updated_ago: 1)
      expect(lifetime(max_age: 3600, max_stale: 86_400).expired?(session)).to be(true)
      expect(lifetime(max_stale: 86_400).expired?(session)).to be(false)
    end

    it "takes the cookie's expire_after as the lifetime when max_stale is not set" do
      session = loaded(updated_ago: 700)
      expect(lifetime(600).expired?(session)).to be(true)
      expect(lifetime(900).expired?(session)).to be(false)
      expect(lifetime(600, max_stale: 900).expired?(session)).to be(false)
    end

    it "falls back to 30 days with neither max_stale nor expire_after" do
      expect(lifetime.expired?(loaded(updated_ago: (29 * 86_400)))).to be(false)
      expect(lifetime.expired?(loaded(updated_ago: (31 * 86_400)))).to be(true)
    end

    it "reads numbers as well as numeric Strings (items of the v0.5 gem)" do
      old = Time.now.to_f - 7200
      session = loaded_class.new(data: "{}", created_at: old, updated_at: old)
      expect(lifetime(max_stale: 3600).expired?(session)).to be(true)
    end

    it "never calls an unreadable or missing stamp expired" do
      session = loaded_class.new(data: "{}", created_at: "yesterday", updated_at: nil)
      expect(lifetime(max_age: 1, max_stale: 1).expired?(session)).to be(false)
    end
  end

  describe "#fresh_enough?" do
    let(:data) { '{"a":1}' }

    it "is true for unchanged data written within the touch interval" do
      expect(lifetime(max_stale: 3600, touch_interval: 60).fresh_enough?(loaded(updated_ago: 30), data, nil))
        .to be(true)
    end

    it "is false once the touch interval has passed" do
      expect(lifetime(max_stale: 3600, touch_interval: 60).fresh_enough?(loaded(updated_ago: 90), data, nil))
        .to be(false)
    end

    it "is false when the data changed, or nothing was loaded" do
      life = lifetime(max_stale: 3600, touch_interval: 60)
      expect(life.fresh_enough?(loaded(updated_ago: 1), '{"a":2}', nil)).to be(false)
      expect(life.fresh_enough?(nil, data, nil)).to be(false)
    end

    it "is false while a lock is held, so the save releases it" do
      session = loaded(updated_ago: 1, lock: "1700000000.000001123")
      expect(lifetime(max_stale: 3600, touch_interval: 60).fresh_enough?(session, data, nil)).to be(false)
    end

    it "is false for a session found under an old key, so the save moves it" do
      session = loaded(updated_ago: 1, found_under: "old-key")
      expect(lifetime(max_stale: 3600, touch_interval: 60).fresh_enough?(session, data, nil)).to be(false)
    end

    it "is always false with touch_interval 0 (write on every request)" do
      expect(lifetime(max_stale: 3600, touch_interval: 0).fresh_enough?(loaded(updated_ago: 0), data, nil))
        .to be(false)
    end

    it "is false when updated_at is unreadable" do
      session = loaded_class.new(data: data, created_at: "1", updated_at: "garbage")
      expect(lifetime(max_stale: 3600, touch_interval: 60).fresh_enough?(session, data, nil)).to be(false)
    end

    it "derives the interval from the request's expire_after: 5% of it" do
      life = lifetime # neither max_stale nor touch_interval
      expect(life.fresh_enough?(loaded(updated_ago: 40), data, 1000)).to be(true) # 50 s
      expect(life.fresh_enough?(loaded(updated_ago: 60), data, 1000)).to be(false)
    end
  end

  describe "#expire_at" do
    it "is now plus the lifetime plus the touch interval, in whole seconds" do
      expected = Time.now.to_i + 3600 + 60
      expect(lifetime(max_stale: 3600, touch_interval: 60).expire_at(nil)).to be_within(1).of(expected)
    end

    it "uses the request's expire_after when max_stale is not set" do
      expected = Time.now.to_i + 1000 + 50 # touch interval: 5% of 1000
      expect(lifetime.expire_at(1000)).to be_within(1).of(expected)
      expect(lifetime.expire_at(1000)).to be_a(Integer)
    end

    it "never stamps 'now' (the official gem's TTL that deleted live sessions)" do
      expect(lifetime.expire_at(nil)).to be >= Time.now.to_i + (30 * 86_400)
    end
  end

  describe "#warn_at_boot" do
    before { dynamo::Warnings.forget!(:lifetime) }
    after { dynamo::Warnings.forget!(:lifetime) }

    it "says once per process that neither max_stale nor expire_after is set" do
      expect { lifetime.warn_at_boot }.to output(/neither max_stale nor expire_after is set.*30 days/).to_stderr
      expect { lifetime.warn_at_boot }.not_to output.to_stderr
    end

    it "warns when expire_after outlives what garbage collection keeps" do
      expect { lifetime(60 * 86_400).warn_at_boot }
        .to output(/expire_after is 5184000 s but max_stale is not set/).to_stderr
    end

    it "says nothing for a short expire_after, or when max_stale is set" do
      expect { lifetime(3600).warn_at_boot }.not_to output.to_stderr
      expect { lifetime(60 * 86_400, max_stale: 60).warn_at_boot }.not_to output.to_stderr
      expect { lifetime(nil, max_stale: 60).warn_at_boot }.not_to output.to_stderr
    end
  end
end
