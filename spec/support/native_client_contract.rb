# frozen_string_literal: true

# The contract of Native::Client as the Ruby layer uses it: answers,
# refusals, errors and their messages, locks, moves and the stats of an
# instrumented call. Run against the real client on DynamoDB Local
# (spec/integration/native_client_contract_spec.rb) and against the
# in-memory double (spec/unit/.../native_client_contract_spec.rb), so the
# double the unit specs trust answers exactly as the real client does, and
# a spec fails when they drift.
#
#   it_behaves_like "a native session client" do
#     let(:client) { ... }      # answers the Native::Client item methods
#     let(:table) { "..." }     # a table with hash key "session_id" (S)
#     # writes an item given in DynamoDB's JSON form, as another program would
#     let(:plant_typed) { ->(key, attributes) { ... } }
#   end
RSpec.shared_examples "a native session client" do
  let(:native) { Aws::SessionStore::DynamoDB::Native }
  let(:errors) { Aws::SessionStore::DynamoDB::Errors }
  let(:where) { { table: table, key_name: "session_id" } }
  let(:key) { "contract-#{SecureRandom.hex(8)}" }

  def get(key = self.key, **extra)
    client.get_item(native::ItemRequest.new(**where, key: key, consistent: true, **extra))
  end

  def save(key = self.key, **fields)
    client.save_session(native::SaveRequest.new(**where, key: key, expire_at: 2_000_000_000, **fields))
  end

  def create(key = self.key, data: '{"a":1}', created_at: "1700000000.25")
    save(key, data: data, created_at: created_at, new_session: true)
  end

  def lock(key = self.key, expiry_ms: 5_000, max_wait_ms: 150, **extra)
    client.lock_session(native::LockRequest.new(**where, key: key, consistent: true, expiry_ms: expiry_ms,
                                                         retry_delay_ms: 40, max_wait_ms: max_wait_ms, **extra))
  end

  def release(lock_value, key = self.key)
    client.release_lock(native::LockedItem.new(**where, key: key, lock: lock_value))
  end

  def move(to:, from:, read_updated_at:, lock: nil, data: '{"moved":1}')
    client.move_session(native::MoveRequest.new(**where, key: to, from_key: from, data: data,
                                                         created_at: "1700000000.5", expire_at: 2_000_000_000,
                                                         read_updated_at: read_updated_at, lock: lock))
  end

  describe "get_item" do
    it "answers nil for a missing item" do
      expect(get).to be_nil
    end

    it "answers the stored attributes: Strings for S, an Integer for expire_at" do
      create
      item = get
      expect(item.keys).to contain_exactly("session_id", "data", "created_at", "updated_at", "expire_at")
      expect(item).to include("session_id" => key, "data" => '{"a":1}', "created_at" => "1700000000.25",
                              "expire_at" => 2_000_000_000)
      expect(Float(item["updated_at"])).to be_within(60).of(Time.now.to_f)
    end

    it "answers other types as the store reads them: BOOL, NULL, a number, a Symbol for the rest" do
      plant_typed.call(key, "session_id" => { "S" => key }, "created_at" => { "BOOL" => true },
                            "updated_at" => { "NULL" => true }, "expire_at" => { "N" => "5" },
                            "data" => { "B" => "AAE=" }, "m" => { "M" => { "t" => { "N" => "1" } } },
                            "l" => { "L" => [] }, "ss" => { "SS" => ["a"] })
      expect(get).to eq("session_id" => key, "created_at" => true, "updated_at" => nil, "expire_at" => 5,
                        "data" => :B, "m" => :M, "l" => :L, "ss" => :SS)
    end

    it "with instrument, answers [value, stats] with the call's counts, capacity and operations" do
      create
      before = Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)
      value, stats = get(instrument: true)
      after = Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)
      expect(value["data"]).to eq('{"a":1}')
      expect(stats.keys).to contain_exactly(:calls, :attempts, :retries, :consumed_capacity, :operations)
      expect(stats).to include(calls: 1, attempts: 1, retries: 0)
      expect(stats[:consumed_capacity]).to be_a(Float)
      # [name, started (ns since the epoch), duration (ns), attempts, capacity, error]
      name, started, duration, attempts, capacity, error = stats[:operations].first
      expect(stats[:operations].size).to eq(1)
      expect([name, attempts, capacity, error]).to eq(["GetItem", 1, stats[:consumed_capacity], nil])
      expect(started).to be_between(before, after)
      expect(started + duration).to be <= after
    end

    it "with instrument, names each call's operations as the SDK does" do
      create
      expect(client.delete_item(native::ItemRequest.new(**where, key: key, instrument: true)).last[:operations]
               .map(&:first)).to eq(["DeleteItem"])
      # A delete of no item: its condition failed, said as DynamoDB says it.
      expect(client.delete_item(native::ItemRequest.new(**where, key: key, instrument: true)).last[:operations]
               .map { |op| [op[0], op[5]] }).to eq([%w[DeleteItem ConditionalCheckFailedException]])
    end
  end

  describe "save_session" do
    it "writes a new session once; a second new session on the same key with other data is refused" do
      expect(create).to be(true)
      expect(create(data: '{"b":2}')).to be(false)
      expect(get["data"]).to eq('{"a":1}')
    end

    it "takes a repeated new save of the same data and created_at as its own (a retried write)" do
      expect(create).to be(true)
      expect(create).to be(true)
    end

    it "refuses to save an existing session that is gone (a logout is never undone)" do
      expect(save(data: "{}", new_session: false)).to be(false)
      expect(get).to be_nil
    end

    it "keeps the data when none is given, refreshes updated_at and sets expire_at" do
      create
      before = get["updated_at"]
      sleep 0.002
      expect(save(new_session: false, expire_at: 2_000_000_100)).to be(true)
      item = get
      expect(item).to include("data" => '{"a":1}', "created_at" => "1700000000.25", "expire_at" => 2_000_000_100)
      expect(item["updated_at"]).not_to eq(before)
    end

    it "removes expire_at when none is given" do
      create
      save(new_session: false, expire_at: nil)
      expect(get).not_to have_key("expire_at")
    end

    it "refuses an item over 400 KB before sending it, with the size and limit" do
      expect { save(data: "x" * 409_600, new_session: true, created_at: "1") }
        .to raise_error(errors::SessionTooLargeError) { |error|
          expect(error.limit).to eq(409_600)
          expect(error.size).to be > 409_600
          expect(error.message).to eq("session item is #{error.size} bytes, over DynamoDB's item size limit of " \
                                      "409600 bytes (400 KB); the stored session was left unchanged")
        }
      expect(get).to be_nil
    end

    it "counts the item's size the same way (the key, the attribute names and values)" do
      data = "x" * 409_550
      expect { save(data: data, new_session: true, created_at: "1700000000.25") }
        .to raise_error(errors::SessionTooLargeError) { |error| expect(error.size).to eq(409_638 + key.bytesize) }
    end
  end

  describe "locks" do
    it "answers nil for a missing item, and locks nothing" do
      expect(lock).to be_nil
      expect(get).to be_nil
    end

    it "locks an item: [item with locked_at, the lock value]" do
      create
      item, value = lock
      expect(value).to match(/\A\d+\.\d+\z/)
      expect(item).to include("data" => '{"a":1}', "locked_at" => value)
      expect(get["locked_at"]).to eq(value)
    end

    it "waits for a live lock, then raises LockWaitTimeoutError saying how long it waited" do
      create
      lock
      expect { lock }.to raise_error(errors::LockWaitTimeoutError,
                                     /\AMaximum time spent to acquire lock has been exceeded! \(waited \d+ ms\)\z/)
    end

    it "takes over a lock older than the expiry, with a new value" do
      create
      _, first = lock
      sleep 0.06
      _, second = lock(expiry_ms: 20)
      expect(second).not_to eq(first)
      expect(get["locked_at"]).to eq(second)
    end

    it "a save with our lock writes and removes it" do
      create
      _, value = lock
      expect(save(data: '{"c":3}', new_session: false, lock: value)).to be(true)
      expect(get).to include("data" => '{"c":3}')
      expect(get).not_to have_key("locked_at")
    end

    it "a save with a lock that is no longer ours raises LockLostError and writes nothing" do
      create
      lock
      expect { save(data: '{"c":3}', new_session: false, lock: "1.5") }
        .to raise_error(errors::LockLostError, "the session lock was taken over by another request before this " \
                                               "one saved; the session was not overwritten")
      expect(get["data"]).to eq('{"a":1}')
    end

    it "a save with our lock on a deleted item is refused" do
      create
      _, value = lock
      client.delete_item(native::ItemRequest.new(**where, key: key))
      expect(save(data: "{}", new_session: false, lock: value)).to be(false)
    end

    it "release_lock removes our lock only: true for ours, false otherwise" do
      create
      _, value = lock
      expect(release("1.5")).to be(false)
      expect(get["locked_at"]).to eq(value)
      expect(release(value)).to be(true)
      expect(get).not_to have_key("locked_at")
      expect(release(value)).to be(false)
    end
  end

  describe "delete_item" do
    it "deletes the item and answers whether there was one" do
      create
      expect(client.delete_item(native::ItemRequest.new(**where, key: key))).to be(true)
      expect(get).to be_nil
      expect(client.delete_item(native::ItemRequest.new(**where, key: key))).to be(false)
    end
  end

  describe "move_session" do
    let(:to) { "#{key}-new" }

    it "moves the session: written under the new key, gone from the old" do
      create
      read = get["updated_at"]
      expect(move(to: to, from: key, read_updated_at: ["S", read])).to eq(:moved)
      expect(get).to be_nil
      expect(get(to)).to include("data" => '{"moved":1}', "created_at" => "1700000000.5",
                                 "expire_at" => 2_000_000_000)
    end

    it "answers :source_gone when the old item is gone" do
      expect(move(to: to, from: key, read_updated_at: %w[S 1])).to eq(:source_gone)
      expect(get(to)).to be_nil
    end

    it "answers :refused when the old item changed since it was read, and writes nothing" do
      create
      expect(move(to: to, from: key, read_updated_at: %w[S 1.5])).to eq(:refused)
      expect(get(to)).to be_nil
      expect(get).not_to be_nil
    end

    it "answers :refused when the new key is taken" do
      create
      create(to)
      read = get["updated_at"]
      expect(move(to: to, from: key, read_updated_at: ["S", read])).to eq(:refused)
      expect(get(to)["data"]).to eq('{"a":1}')
      expect(get).not_to be_nil
    end

    it "raises LockLostError when our lock on the old item was taken over" do
      create
      _, value = lock
      read = get["updated_at"]
      sleep 0.03
      lock(expiry_ms: 10)
      expect { move(to: to, from: key, read_updated_at: ["S", read], lock: value) }
        .to raise_error(errors::LockLostError)
      expect(get(to)).to be_nil
    end
  end

  # --- one user's sessions: the user record and the calls on it ----------

  def user_entry(user, key = self.key, added_at: nil)
    native::UserEntry.new(**where, user: user, key: key, added_at: added_at)
  end

  def user_keys(user)
    client.user_session_keys(native::UserRequest.new(**where, user: user))
  end

  describe "save_session and a session's user" do
    it "sets user_id and user_agent when given, keeps user_id on nil, removes it on false" do
      expect(save(data: "{}", created_at: "1", new_session: true, user: "u1", user_agent: "Firefox")).to be(true)
      expect(get).to include("user_id" => "u1", "user_agent" => "Firefox")
      save(new_session: false)
      expect(get).to include("user_id" => "u1", "user_agent" => "Firefox")
      save(new_session: false, user: "u2")
      expect(get["user_id"]).to eq("u2")
      save(new_session: false, user: false)
      expect(get).not_to have_key("user_id")
    end

    it "counts user_id and user_agent in the item's size" do
      data = "x" * 409_550
      expect { save(data: data, new_session: true, created_at: "1700000000.25", user: "u" * 10, user_agent: "a" * 5) }
        .to raise_error(errors::SessionTooLargeError) { |error| expect(error.size).to eq(409_638 + key.bytesize + 32) }
    end
  end

  describe "the user record" do
    let(:user) { "contract-user-#{SecureRandom.hex(4)}" }

    it "answers no keys for a user without a record" do
      expect(user_keys(user)).to eq([])
    end

    it "track_user_session adds the key, dated in whole seconds, and answers nil; oldest first" do
      expect(client.track_user_session(user_entry(user, "#{key}-a"))).to be_nil
      client.track_user_session(user_entry(user, "#{key}-b"))
      keys = user_keys(user)
      expect(keys.map(&:first)).to contain_exactly("#{key}-a", "#{key}-b")
      expect(keys.map(&:last)).to all(be_an(Integer).and(be_within(60).of(Time.now.to_i)))
      expect(keys.map(&:last)).to eq(keys.map(&:last).sort)
    end

    it "track_user_session raises ValidationError when the record would pass the item size limit" do
      plant_typed.call("user##{user}", "session_id" => { "S" => "user##{user}" }, "pad" => { "S" => "x" * 409_550 })
      expect { client.track_user_session(user_entry(user)) }
        .to raise_error(errors::ValidationError, /size/) { |error| expect(error.code).to eq("ValidationException") }
      expect(user_keys(user)).to eq([])
    end

    it "untrack_user_session removes the entry only while it holds the date read: true, else false" do
      client.track_user_session(user_entry(user))
      (_, added_at), = user_keys(user)
      expect(client.untrack_user_session(user_entry(user, added_at: added_at + 1))).to be(false)
      expect(user_keys(user).size).to eq(1)
      expect(client.untrack_user_session(user_entry(user, added_at: added_at))).to be(true)
      expect(user_keys(user)).to eq([])
      expect(client.untrack_user_session(user_entry(user, added_at: added_at))).to be(false)
    end

    it "revoke_user_session deletes the user's session (:deleted), keeps another's (:not_theirs), :gone without one" do
      save(data: "{}", created_at: "1", new_session: true, user: user)
      save("#{key}-other", data: "{}", created_at: "1", new_session: true, user: "someone-else")
      save("#{key}-anon", data: "{}", created_at: "1", new_session: true)
      expect(client.revoke_user_session(user_entry(user))).to eq(:deleted)
      expect(get).to be_nil
      expect(client.revoke_user_session(user_entry(user, "#{key}-other"))).to eq(:not_theirs)
      expect(client.revoke_user_session(user_entry(user, "#{key}-anon"))).to eq(:not_theirs)
      expect(get("#{key}-other")).not_to be_nil
      expect(get("#{key}-anon")).not_to be_nil
      expect(client.revoke_user_session(user_entry(user))).to eq(:gone)
    end

    it "session_summaries answers the existing sessions' key, dates, user and device, never their data" do
      save(data: '{"secret":1}', created_at: "1700000000.25", new_session: true, user: user, user_agent: "Firefox")
      save("#{key}-b", data: "{}", created_at: "1700000001.5", new_session: true, user: user)
      found = client.session_summaries(native::SummaryRequest.new(**where, keys: [key, "#{key}-b", "#{key}-gone"]))
      expect(found.map { |item| item["session_id"] }).to contain_exactly(key, "#{key}-b")
      first = found.find { |item| item["session_id"] == key }
      expect(first.keys).to contain_exactly("session_id", "created_at", "updated_at", "user_id", "user_agent")
      expect(first).to include("created_at" => "1700000000.25", "user_id" => user, "user_agent" => "Firefox")
      expect(found.find { |item| item["session_id"] == "#{key}-b" }.keys)
        .to contain_exactly("session_id", "created_at", "updated_at", "user_id")
    end

    it "move_session carries user_id and user_agent and adds the new key to the user's record" do
      save(data: "{}", created_at: "1", new_session: true, user: user, user_agent: "Firefox")
      read = get["updated_at"]
      request = native::MoveRequest.new(**where, key: "#{key}-new", from_key: key, data: "{}", created_at: "1",
                                                 expire_at: nil, read_updated_at: ["S", read], lock: nil,
                                                 user: user, user_agent: "Firefox")
      expect(client.move_session(request)).to eq(:moved)
      expect(get("#{key}-new")).to include("user_id" => user, "user_agent" => "Firefox")
      expect(user_keys(user).map(&:first)).to eq(["#{key}-new"])
    end
  end

  describe "the user index" do
    let(:user) { "contract-user-#{SecureRandom.hex(4)}" }
    let(:table_request) do
      native::TableRequest.new(**where, billing_mode: "provisioned", read_capacity: 1, write_capacity: 1,
                                        enable_ttl: false)
    end

    def index_keys(user)
      client.user_index_keys(native::UserRequest.new(**where, user: user))
    end

    it "without it, user_index_keys raises ValidationError (ValidationException)" do
      expect { index_keys(user) }
        .to raise_error(errors::ValidationError) { |error| expect(error.code).to eq("ValidationException") }
    end

    it "add_user_index adds it once; it holds the keys of the user's sessions only; remove_user_index drops it" do
      expect(client.add_user_index(table_request)).to eq(:created)
      expect(client.add_user_index(table_request)).to eq(:exists)
      save(data: "{}", created_at: "1", new_session: true, user: user)
      save("#{key}-b", data: "{}", created_at: "1", new_session: true, user: user)
      save("#{key}-other", data: "{}", created_at: "1", new_session: true, user: "someone-else")
      save("#{key}-anon", data: "{}", created_at: "1", new_session: true)
      client.track_user_session(user_entry(user))
      expect(index_keys(user)).to contain_exactly(key, "#{key}-b")
      expect(index_keys("nobody")).to eq([])
      expect(client.remove_user_index(native::TableName.new(table: table))).to eq(:deleted)
      expect(client.remove_user_index(native::TableName.new(table: table))).to eq(:missing)
      expect { index_keys(user) }.to raise_error(errors::ValidationError)
    end
  end

  # --- scan_page and rewrite_item: what Migration.migrate calls ------------

  def scan(limit:, start_key: nil)
    client.scan_page(native::ScanRequest.new(table: table, limit: limit, start_key: start_key))
  end

  def rewrite(key = self.key, expected:, set:)
    client.rewrite_item(native::RewriteRequest.new(**where, key: key, expected: expected, set: set))
  end

  describe "scan_page" do
    it "answers no items and no next key for an empty table" do
      expect(scan(limit: 10)).to eq([[], nil])
    end

    it "answers whole items with every value as [type, text]" do
      create
      items, next_key = scan(limit: 10)
      expect(next_key).to be_nil
      expect(items.size).to eq(1)
      expect(items.first).to include("session_id" => ["S", key], "data" => ["S", '{"a":1}'],
                                     "created_at" => %w[S 1700000000.25], "expire_at" => %w[N 2000000000],
                                     "updated_at" => ["S", String])
    end

    it "pages by limit, each page's next key starting the next, until none" do
      keys = Array.new(5) { |i| "#{key}-#{i}" }
      keys.each { |k| create(k) }
      seen = []
      start_key = nil
      pages = 0
      loop do
        items, start_key = scan(limit: 2, start_key: start_key)
        expect(items.size).to be <= 2
        expect(start_key).to be_nil.or(eq("session_id" => items.last&.dig("session_id", 1)))
        seen.concat(items.map { |item| item.dig("session_id", 1) })
        pages += 1
        break unless start_key
      end
      expect(seen).to match_array(keys)
      expect(pages).to be_between(3, 4)
    end
  end

  describe "rewrite_item" do
    it "sets the values when every expected one still holds, types included" do
      create
      expect(rewrite(expected: [%w[created_at S 1700000000.25], %w[expire_at N 2000000000]],
                     set: [%w[created_at N 1700000000.25], ["data", "S", '{"b":2}']])).to be(true)
      expect(get).to include("created_at" => 1_700_000_000.25, "data" => '{"b":2}', "expire_at" => 2_000_000_000)
    end

    it "answers false and writes nothing when an expected value changed" do
      create
      expect(rewrite(expected: [["data", "S", '{"a":0}']], set: [["data", "S", '{"b":2}']])).to be(false)
      expect(get["data"]).to eq('{"a":1}')
    end

    it "answers false when an expected value has another type" do
      create
      expect(rewrite(expected: [%w[expire_at S 2000000000]], set: [["data", "S", "{}"]])).to be(false)
      expect(get["data"]).to eq('{"a":1}')
    end

    it "answers false for a missing item, and creates none" do
      expect(rewrite(expected: [], set: [["data", "S", "{}"]])).to be(false)
      expect(get).to be_nil
    end

    it "answers true for nothing to set, and writes nothing" do
      expect(rewrite(expected: [%w[data S x]], set: [])).to be(true)
      expect(get).to be_nil
    end

    it "refuses a type other than S or N, naming the attribute" do
      create
      expect { rewrite(expected: [], set: [%w[data B eA==]]) }
        .to raise_error(errors::ConfigurationError, 'attribute "data": type "B" is not S or N')
      expect(get["data"]).to eq('{"a":1}')
    end
  end
end
