# frozen_string_literal: true

require "set"

# An in-memory stand-in for Native::Client with the same request Structs and
# the same answers (conditions, locks, moves, errors), for specs of the
# middleware's contract that need no DynamoDB, and for the bench row that
# measures the Ruby glue alone. The integration specs run the real client
# against DynamoDB Local; this only mirrors its documented behaviour
# (ext/aws_sessionstore_dynamodb_rs/src/ops/session.rs and lock.rs).
#
#   client = MemoryClient.new
#   Aws::SessionStore::DynamoDB::Native.client_factory = ->(_options) { client }
#   ... # every store built now uses it
#   Aws::SessionStore::DynamoDB::Native.client_factory = nil
class MemoryClient
  ITEM_LIMIT = Aws::SessionStore::DynamoDB::Native::ITEM_SIZE_LIMIT

  # Every call, as [method, key], for specs that count calls.
  attr_reader :calls
  # Every call, as [method, request Struct], for specs that check what the
  # store asked for (data sent or not, the table, instrument on or off).
  attr_reader :requests

  # Keys the user index does not show yet (an eventually consistent GSI
  # lagging behind the table): add to it to inject the lag.
  attr_reader :index_lag

  def initialize
    @items = {}
    @lock = Mutex.new
    @calls = []
    @requests = []
    @user_index = false
    @index_lag = Set.new
  end

  # The stored item (a copy), or nil.
  def item(key)
    @lock.synchronize { @items[key]&.dup }
  end

  def put(key, attributes)
    @lock.synchronize { @items[key] = attributes.dup }
  end

  # Stores an item given as DynamoDB's JSON has it ({"created_at" =>
  # {"BOOL" => true}}), holding what the native client answers for each
  # type (ruby_api/item.rs; the contract checks the real client answers
  # so): S a String, N an Integer or Float, BOOL true or false, NULL nil,
  # any other type a Symbol naming it.
  def put_typed(key, attributes)
    put(key, attributes.transform_values do |typed|
      type, value = typed.first
      case type
      when "S" then value
      when "N" then Integer(value, exception: false) || Float(value)
      when "BOOL" then value
      when "NULL" then nil
      else type.to_sym
      end
    end)
  end

  # Removes the item, as another process would (no call recorded).
  def remove(key)
    @lock.synchronize { @items.delete(key) }
  end

  def keys
    @lock.synchronize { @items.keys }
  end

  def get_item(request)
    answer(request, :get_item) { @items[request.key]&.dup }
  end

  def delete_item(request)
    answer(request, :delete_item) { @items.delete(request.key) ? true : false }
  end

  def save_session(request)
    size = save_size(request)
    raise errors::SessionTooLargeError.new(size, ITEM_LIMIT) if size > ITEM_LIMIT

    answer(request, :save_session) do
      current = @items[request.key]
      next retried_new_save?(request, current) if request.new_session && current
      next false if !request.new_session && current.nil?

      raise errors::LockLostError if request.lock && current && current["locked_at"] != request.lock

      item = (current || { request.key_name => request.key }).dup
      item["updated_at"] = now
      item["data"] = request.data if request.data
      item["created_at"] = request.created_at if request.created_at
      request.expire_at ? item["expire_at"] = request.expire_at : item.delete("expire_at")
      request.user ? item["user_id"] = request.user : (request.user == false && item.delete("user_id"))
      item["user_agent"] = request.user_agent if request.user_agent
      item.delete("locked_at") if request.lock
      @items[request.key] = item
      true
    end
  end

  def move_session(request)
    answer(request, :move_session) do
      old = @items[request.from_key]
      next :source_gone unless old
      raise errors::LockLostError if request.lock && old["locked_at"] != request.lock
      next :refused if old["updated_at"].to_s != request.read_updated_at[1] || @items.key?(request.key)

      @items[request.key] = { request.key_name => request.key, "data" => request.data,
                              "created_at" => request.created_at, "updated_at" => now,
                              "expire_at" => request.expire_at, "user_id" => request.user,
                              "user_agent" => request.user_agent }.compact
      @items.delete(request.from_key)
      track(request.key_name, request.user, request.key) if request.user
      :moved
    end
  end

  # Waits as the native lock does: retry every retry_delay_ms, take over a
  # lock older than expiry_ms, give up after max_wait_ms.
  def lock_session(request)
    started = monotonic
    loop do
      found = answer(request, :lock_session) { try_lock(request) }
      return found unless (request.instrument ? found.first : found) == :busy

      waited = (monotonic - started) * 1000
      raise errors::LockWaitTimeoutError.new(waited_ms: waited.to_i) if waited >= request.max_wait_ms

      sleep([request.retry_delay_ms, request.max_wait_ms - waited].min / 1000.0)
    end
  end

  def release_lock(request)
    answer(request, :release_lock) do
      current = @items[request.key]
      next false unless current && current["locked_at"] == request.lock

      @items[request.key] = current.reject { |name, _| name == "locked_at" }
      true
    end
  end

  private

  # What the native save counts (ops/session.rs save_size): the key, the
  # attribute names and values, 20 bytes for updated_at, 12 for expire_at.
  def save_size(request)
    size = request.key_name.bytesize + request.key.bytesize + "updated_at".bytesize + 20
    size += "data".bytesize + request.data.bytesize if request.data
    size += "created_at".bytesize + request.created_at.bytesize if request.created_at
    size += "expire_at".bytesize + 12 if request.expire_at
    size += "user_id".bytesize + request.user.bytesize if request.user
    size += "user_agent".bytesize + request.user_agent.bytesize if request.user_agent
    size
  end

  # A new save that finds its own data and created_at was an attempt of
  # this very write whose answer was lost (the native client retries).
  def retried_new_save?(request, current)
    current["data"] == request.data && current["created_at"] == request.created_at
  end

  # [item, lock, takeover] with the lock ours, nil without an item, :busy
  # while another live lock holds it (stamped within expiry_ms either side
  # of now, as the native client judges it).
  def try_lock(request)
    current = @items[request.key]
    return nil unless current

    held = current["locked_at"]
    takeover = nil
    if held
      age_ms = (Time.now.to_f - held.to_f) * 1000
      return :busy if age_ms.abs <= request.expiry_ms

      takeover = age_ms.negative? ? :future : :expired
    end
    lock = "#{format("%.6f", Time.now.to_f)}#{rand(1_000_000_000).to_s.rjust(9, "0")}"
    @items[request.key] = current.merge("locked_at" => lock)
    [@items[request.key].dup, lock, takeover]
  end

  def answer(request, method)
    value = @lock.synchronize do
      @calls << [method, (request.key if request.members.include?(:key))]
      @requests << [method, request]
      yield
    end
    request.instrument ? [value, stats(method, value)] : value
  end

  # The DynamoDB operation each call makes (as the real client names it).
  OPERATIONS = { get_item: "GetItem", save_session: "UpdateItem", delete_item: "DeleteItem",
                 lock_session: "UpdateItem", release_lock: "UpdateItem", move_session: "TransactWriteItems",
                 track_user_session: "UpdateItem", untrack_user_session: "UpdateItem",
                 user_session_keys: "GetItem", revoke_user_session: "DeleteItem",
                 session_summaries: "BatchGetItem", user_index_keys: "Query" }.freeze

  # What the real client reports of an instrumented call: one operation of
  # one attempt, now, with its capacity (a delete of no item: refused).
  def stats(method, value)
    started = Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)
    error = method == :delete_item && value == false ? "ConditionalCheckFailedException" : nil
    { calls: 1, attempts: 1, retries: 0, consumed_capacity: error ? 0.0 : 1.0,
      operations: [[OPERATIONS.fetch(method, method.to_s), started, 1000, 1, error ? nil : 1.0, error]] }
  end

  def now
    Time.now.to_f.to_s
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  def errors
    Aws::SessionStore::DynamoDB::Errors
  end

  # --- one user's sessions (ext/aws_sessionstore_dynamodb_rs/src/ops/users.rs):
  # the user record "user#<user>" holds "s:<storage key>" => whole second
  # added.
  public

  # DynamoDB refuses a record past the item size limit (ValidationException).
  def track_user_session(request)
    answer(request, :track_user_session) do
      track(request.key_name, request.user, request.key)
      record_key = "user##{request.user}"
      if item_size(@items[record_key]) > ITEM_LIMIT
        @items[record_key] = @items[record_key].except("s:#{request.key}")
        raise errors::ValidationError.new("Item size has exceeded the maximum allowed size", "ValidationException")
      end
      nil
    end
  end

  def untrack_user_session(request)
    answer(request, :untrack_user_session) do
      record = @items["user##{request.user}"]
      entry = "s:#{request.key}"
      next false unless record && record[entry] == request.added_at

      @items["user##{request.user}"] = record.except(entry)
      true
    end
  end

  def user_session_keys(request)
    answer(request, :user_session_keys) do
      record = @items["user##{request.user}"] || {}
      record.filter_map { |name, added| [name.delete_prefix("s:"), added] if name.start_with?("s:") }
            .sort_by { |key, added| [added, key] }
    end
  end

  def revoke_user_session(request)
    answer(request, :revoke_user_session) do
      current = @items[request.key]
      next :gone unless current
      next :not_theirs unless current["user_id"] == request.user

      @items.delete(request.key)
      :deleted
    end
  end

  # The user index (ops/users.rs `indexed`, ops/table.rs): a table has it
  # once add_user_index ran; without it a query is DynamoDB's
  # ValidationException.
  def add_user_index(_request)
    @lock.synchronize { @user_index ? :exists : (@user_index = true) && :created }
  end

  def remove_user_index(_request)
    @lock.synchronize { @user_index ? (@user_index = false) || :deleted : :missing }
  end

  def user_index_keys(request)
    answer(request, :user_index_keys) do
      unless @user_index
        raise errors::ValidationError.new("The table does not have the specified index: user_id-index",
                                          "ValidationException")
      end

      @items.filter_map { |key, item| key if item["user_id"] == request.user && !@index_lag.include?(key) }
    end
  end

  def session_summaries(request)
    answer(request, :session_summaries) do
      wanted = [request.key_name, "created_at", "updated_at", "user_id", "user_agent"]
      request.keys.filter_map { |key| @items[key]&.slice(*wanted) }
    end
  end

  # --- scan_page and rewrite_item: the calls of Migration.migrate ---------
  # (ext/aws_sessionstore_dynamodb_rs/src/ops/migrate.rs). Whole items with
  # S and N values as [type, text], in key order; a full page (`limit`
  # items) answers its last key to start the next one from, as DynamoDB's
  # LastEvaluatedKey does, so the page after it may be empty.

  def scan_page(request)
    @lock.synchronize do
      @calls << [:scan_page, request.start_key]
      after = request.start_key&.values&.first
      keys = @items.keys.sort.select { |key| after.nil? || key > after }.first([request.limit, 1].max)
      items = keys.map { |key| typed(@items[key]) }
      next_key = keys.size == [request.limit, 1].max ? { key_name_of(keys.last) => keys.last } : nil
      [items, next_key]
    end
  end

  # Sets `set` when every `expected` [name, type, text] still holds (type
  # included; numbers compared as numbers); false when one does not, or
  # the item is gone. An empty `set` writes nothing and answers true.
  def rewrite_item(request)
    expected = request.expected.map { |entry| typed_entry(entry) }
    set = request.set.map { |entry| typed_entry(entry) }
    @lock.synchronize do
      @calls << [:rewrite_item, request.key]
      next true if set.empty?

      current = @items[request.key]
      next false unless current && expected.all? { |name, type, text| same_typed?(current[name], type, text) }

      @items[request.key] = current.merge(set.to_h { |name, type, text| [name, stored_value(type, text)] })
      true
    end
  end

  private

  # [type, text] as the native scan answers it; types the store never
  # writes (BOOL, NULL, B, lists, maps) as [type, nil].
  def typed(item)
    item.transform_values do |value|
      case value
      when String then ["S", value]
      when Numeric then ["N", value.to_s]
      when true, false then ["BOOL", nil]
      when nil then ["NULL", nil]
      else [value.to_s, nil]
      end
    end
  end

  def typed_entry(entry)
    name, type, text = entry
    unless %w[S N].include?(type)
      raise errors::ConfigurationError, "attribute #{name.inspect}: type #{type.inspect} is not S or N"
    end

    [name, type, text]
  end

  def same_typed?(value, type, text)
    case type
    when "S" then value.is_a?(String) && value == text
    else value.is_a?(Numeric) && Rational(value.to_s) == Rational(text)
    end
  end

  # A number as the native get_item answers it: an Integer or Float that
  # is exactly its text, else a StoredNumber.
  def stored_value(type, text)
    return text if type == "S"
    return Integer(text) if Integer(text, exception: false)&.to_s == text
    return Float(text) if Float(text, exception: false)&.to_s == text

    Aws::SessionStore::DynamoDB::Native::StoredNumber.new(text)
  end

  # An item's size as DynamoDB counts it, near enough: names and values.
  def item_size(item)
    item.sum { |name, value| name.bytesize + value.to_s.bytesize }
  end

  # Adds the entry (under the lock), as ops::users::track does.
  def track(key_name, user, key)
    record_key = "user##{user}"
    record = @items[record_key] || { key_name => record_key }
    @items[record_key] = record.merge("s:#{key}" => Time.now.to_i)
  end

  def key_name_of(key)
    @items[key].key(key) || "session_id"
  end
end
