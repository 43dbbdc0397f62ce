# frozen_string_literal: true

# Renew and destroy racing with writes on the same session, without locking.
# A save of a session that was read is conditional on its item still
# existing (attribute_exists), and a new id's first save on its not existing
# (attribute_not_exists), so:
#
# - after a drop completes, no racing request recreates the item;
# - after a renew completes, the old id never comes back.
#
# Each guarantee is checked twice: with a forced interleaving (the racing
# requests have read the session before the drop/renew and save after it,
# the case the condition exists for), and with free-running threads over
# many rounds. Every wait is bounded.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require_relative "../support/store_requests"

RSpec.describe "Renew and destroy racing with writes (no locking)" do
  include_context "with a session table"
  include StoreRequestHelpers

  # A one-shot signal with a bounded wait (Queue#pop(timeout:) is Ruby 3.2+).
  class ContentionLatch
    def initialize
      @lock = Mutex.new
      @cond = ConditionVariable.new
      @open = false
    end

    def open!
      @lock.synchronize do
        @open = true
        @cond.broadcast
      end
    end

    def wait(timeout = 10)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      @lock.synchronize do
        until @open
          remaining = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
          raise "latch not opened within #{timeout} s" if remaining <= 0

          @cond.wait(@lock, remaining)
        end
      end
    end
  end

  CONTENTION_JOIN_LIMIT = 30

  # "/" increments n, "/read" reads, "/drop" drops, "/renew" renews. With
  # env["spec.loaded"] and env["spec.release"] the app reads the session,
  # says so, and waits to be released before it changes it and returns (so
  # before the save).
  let(:inner_app) do
    lambda do |env|
      session = env["rack.session"]
      n = session.fetch("n", 0)
      if (loaded = env["spec.loaded"])
        loaded.open!
        env["spec.release"].wait
      end
      case env["PATH_INFO"]
      when "/drop" then env["rack.session.options"][:drop] = true
      when "/renew" then env["rack.session.options"][:renew] = true
      when "/read" then nil
      else session["n"] = n + 1
      end
      [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
    end
  end

  # touch_interval: 0: every request with a session saves it (reads touch it).
  let(:store) { Aws::SessionStore::DynamoDB::RackMiddleware.new(inner_app, store_options(touch_interval: 0)) }

  def new_session
    cookie = store_request(store).cookie
    expect(cookie).not_to be_nil
    cookie
  end

  def exists?(cookie)
    !raw_item(cookie).nil?
  end

  # Lets the readers held on `release` save: each answers 200, its save
  # refused by attribute_exists (nothing written, no cookie), and `cookie`'s
  # item stays gone.
  def expect_saves_refused(racing, release, cookie)
    release.open!
    responses = join_all(racing)
    expect(responses.map(&:status)).to all(eq(200))
    expect(responses).to all(satisfy { |r| failed_save?(r) && r.cookie.nil? })
    expect(exists?(cookie)).to be(false)
  end

  # race_writers to `path`, watching `cookie` three times while the writers
  # go on and once after they are done: each time its item exists,
  # [round, cookie] goes into `seen`. Every response must be a 200.
  def race_and_watch(cookie, path, round, seen)
    responses = race_writers(cookie, path) do
      3.times do
        seen << [round, cookie] if exists?(cookie)
        sleep 0.003
      end
    end
    expect(responses.map(&:status)).to all(eq(200))
    seen << [round, cookie] if exists?(cookie)
    responses
  end

  # Three threads of four free-running requests (changes and reads) on
  # `cookie`, racing one request to `path` (drop or renew). Once that
  # request has answered, the block runs while the writers go on. Returns
  # every response, the racing request's last.
  def race_writers(cookie, path)
    answered = ContentionLatch.new
    writers = Array.new(3) do |w|
      Thread.new do
        Array.new(4) do |i|
          sleep(rand * 0.005)
          store_request(store, (w + i).even? ? "/" : "/read", cookie: cookie)
        end
      end
    end
    racer = Thread.new do
      sleep(rand * 0.02)
      store_request(store, path, cookie: cookie).tap { answered.open! }
    end
    answered.wait(CONTENTION_JOIN_LIMIT)
    yield
    join_all(writers + [racer]).flatten
  end

  def join_all(threads)
    deadline = monotonic + CONTENTION_JOIN_LIMIT
    threads.each do |thread|
      next if thread.join([deadline - monotonic, 0.1].max)

      threads.each(&:kill)
      raise "request threads did not finish within #{CONTENTION_JOIN_LIMIT} s"
    end
    threads.map(&:value)
  end

  # Starts `count` requests on `cookie` that read the session and then wait
  # for `release`; returns their threads once all have read it.
  def readers_holding(cookie, count, release, paths: ["/"])
    loaded = Array.new(count) { ContentionLatch.new }
    threads = loaded.each_with_index.map do |latch, i|
      Thread.new do
        store_request(store, paths[i % paths.size], cookie: cookie,
                                                    env: { "spec.loaded" => latch, "spec.release" => release })
      end
    end
    loaded.each(&:wait)
    threads
  end

  def failed_save?(response)
    response.errors.include?("failed to save session")
  end

  describe "drop" do
    it "is not undone by requests that read the session before it and save after it (forced interleaving)" do
      8.times do
        cookie = new_session
        release = ContentionLatch.new
        racing = readers_holding(cookie, 3, release, paths: ["/", "/read", "/"])

        dropped = store_request(store, "/drop", cookie: cookie)
        expect(dropped.status).to eq(200)
        expect(dropped.cookie).to eq("") # cleared
        expect(exists?(cookie)).to be(false)

        expect_saves_refused(racing, release, cookie)
      end
      expect(all_items).to be_empty
    end

    it "stays dropped while free-running requests keep writing (many rounds)" do
      rounds = 25
      recreated = []
      refused = 0
      rounds.times do |round|
        cookie = new_session
        # From the drop's answer on, the item must stay gone, whatever the writers do.
        responses = race_and_watch(cookie, "/drop", round, recreated)
        refused += responses.count { |r| failed_save?(r) }
      end
      expect(recreated).to be_empty
      # The items left are fresh sessions of requests that came after the drop.
      expect(all_items.size).to be <= rounds * 3 * 4
      warn "contention (drop): #{refused} racing saves refused in #{rounds} rounds" if ENV["CONTENTION_VERBOSE"]
    end
  end

  describe "renew" do
    it "never brings the old id back through requests that read it before and save after (forced interleaving)" do
      8.times do
        cookie = new_session
        release = ContentionLatch.new
        racing = readers_holding(cookie, 3, release, paths: ["/", "/read"])

        renewed = store_request(store, "/renew", cookie: cookie)
        expect(renewed.status).to eq(200)
        expect(renewed.cookie).not_to be_nil
        expect(renewed.cookie).not_to eq(cookie)
        expect(exists?(cookie)).to be(false)

        expect_saves_refused(racing, release, cookie)
        expect(JSON.parse(raw_item(renewed.cookie)["data"]["S"])).to eq("n" => 1)
      end
    end

    it "never brings the old id back while free-running requests keep writing (many rounds)" do
      rounds = 25
      revived = []
      rounds.times do |round|
        cookie = new_session
        responses = race_and_watch(cookie, "/renew", round, revived)
        new_id = responses.last.cookie # the renew's answer
        # Nothing but the renew deletes the old id, so the renew read it and
        # moved its data to the new id.
        expect(new_id).not_to be_nil
        expect(exists?(new_id)).to be(true)
      end
      expect(revived).to be_empty
    end
  end
end
