# frozen_string_literal: true

# A tiny, dependency-free DynamoDB JSON-protocol client (Net::HTTP + JSON) for
# specs. It deliberately shares no code with the gem under test, so interop
# specs can read and write raw items without trusting our own client.
# Items are in the wire format: {'session_id' => {'S' => 'abc'}, 'expire_at' => {'N' => '123'}}.
#
# DynamoDB Local does not verify signatures, so requests carry a syntactically
# valid SigV4 Authorization header with dummy credentials and a zero signature.

require "json"
require "net/http"
require "uri"

class RawDynamoDB
  # A non-200 answer. #code is the part of __type after '#', e.g.
  # 'ResourceNotFoundException'.
  class Error < StandardError
    attr_reader :code, :status, :body

    def initialize(code, message, status: nil, body: nil)
      @code = code
      @status = status
      @body = body
      super("#{code}: #{message}")
    end
  end

  TARGET_PREFIX = "DynamoDB_20120810"
  CONTENT_TYPE = "application/x-amz-json-1.0"
  BATCH_SIZE = 25 # BatchWriteItem's limit
  MAX_BATCH_ATTEMPTS = 10

  attr_reader :endpoint, :region

  def initialize(endpoint = ENV["DYNAMODB_ENDPOINT"], region: "us-east-1")
    raise ArgumentError, "RawDynamoDB needs an endpoint (DYNAMODB_ENDPOINT is not set)" if endpoint.to_s.empty?

    @endpoint = endpoint
    @uri = URI(endpoint)
    @region = region
    @http = nil
    @lock = Mutex.new # one keep-alive connection, shared safely across threads
  end

  # Sends one DynamoDB operation ('PutItem', 'Scan', ...) and returns the parsed
  # JSON answer; raises RawDynamoDB::Error on anything but 200.
  def call(operation, payload = {})
    body = JSON.generate(payload)
    response = @lock.synchronize { post(operation, body) }
    parsed = parse(response.body)
    return parsed if response.code == "200"

    type = parsed["__type"].to_s
    code = type.empty? ? "HTTP#{response.code}" : type.split("#").last
    message = parsed["message"] || parsed["Message"] || response.body
    raise Error.new(code, message, status: response.code.to_i, body: parsed)
  end

  # Item helpers take extra request parameters as a trailing positional Hash,
  # not keywords, so that braceless calls such as
  # get_item(t, 'session_id' => { 'S' => 'x' }) bind the item/key as intended.

  def put_item(table, item, extra = {})
    call("PutItem", { "TableName" => table, "Item" => item }.merge(stringify(extra)))
  end

  # Returns the raw GetItem answer, like the other item helpers:
  # {'Item' => {...}} when found, {} when not. Consistent by default: specs
  # read right after writing.
  def get_item(table, key, extra = {})
    payload = { "TableName" => table, "Key" => key, "ConsistentRead" => true }
    call("GetItem", payload.merge(stringify(extra)))
  end

  def delete_item(table, key, extra = {})
    call("DeleteItem", { "TableName" => table, "Key" => key }.merge(stringify(extra)))
  end

  # All items of the table, following LastEvaluatedKey. Extra Scan parameters
  # (e.g. 'Limit' => 10 to force pagination) are passed through.
  def scan_all(table, extra = {})
    paginate("Scan", { "TableName" => table, "ConsistentRead" => true }.merge(stringify(extra)),
             list: "Items", next_key: "LastEvaluatedKey", start_param: "ExclusiveStartKey")
  end

  # Moves created_at and updated_at of every item back by whole SECONDS:
  # the table as garbage collection sees it after that long idle, with no
  # sleep. Each timestamp keeps its type (S since v3, N before) and form.
  def age_items(table, seconds)
    scan_all(table).each do |item|
      aged = item.to_h do |name, value|
        type, text = value.first
        next [name, value] unless %w[created_at updated_at].include?(name) && %w[S N].include?(type)

        whole, fraction = text.split(".", 2)
        [name, { type => [Integer(whole, 10) - seconds, fraction].compact.join(".") }]
      end
      put_item(table, aged)
    end
  end

  # Writes items in BatchWriteItem chunks of 25, retrying UnprocessedItems with
  # a short backoff.
  def batch_put(table, items)
    items.each_slice(BATCH_SIZE) do |slice|
      requests = { table => slice.map { |item| { "PutRequest" => { "Item" => item } } } }
      attempt = 0
      until requests.nil? || requests.empty?
        attempt += 1
        raise Error.new("UnprocessedItems", "gave up after #{attempt - 1} attempts") if attempt > MAX_BATCH_ATTEMPTS

        sleep(0.05 * (2**(attempt - 2))) if attempt > 1
        requests = call("BatchWriteItem", "RequestItems" => requests)["UnprocessedItems"]
      end
    end
    items.size
  end

  # A PAY_PER_REQUEST table with a string hash key; waits until it is ACTIVE.
  def create_table(name, key: "session_id")
    call("CreateTable",
         "TableName" => name,
         "AttributeDefinitions" => [{ "AttributeName" => key, "AttributeType" => "S" }],
         "KeySchema" => [{ "AttributeName" => key, "KeyType" => "HASH" }],
         "BillingMode" => "PAY_PER_REQUEST")
    wait_until_active(name)
  end

  # Deletes the table; a missing table is not an error (returns nil).
  def delete_table(name)
    call("DeleteTable", "TableName" => name)
  rescue Error => e
    raise unless e.code == "ResourceNotFoundException"

    nil
  end

  def describe_table(name)
    call("DescribeTable", "TableName" => name)["Table"]
  end

  # All table names, following LastEvaluatedTableName.
  def list_tables
    paginate("ListTables", {}, list: "TableNames", next_key: "LastEvaluatedTableName",
                               start_param: "ExclusiveStartTableName")
  end

  # The TimeToLiveDescription hash, e.g. {'TimeToLiveStatus' => 'DISABLED'}.
  def describe_time_to_live(name)
    call("DescribeTimeToLive", "TableName" => name)["TimeToLiveDescription"]
  end

  def close
    @lock.synchronize do
      @http&.finish if @http&.started?
      @http = nil
    end
  end

  private

  # Every page of `operation`: each page's `list` concatenated, following
  # the answer's `next_key` into the next request's `start_param`.
  def paginate(operation, payload, list:, next_key:, start_param:)
    all = []
    start = nil
    loop do
      page = call(operation, start ? payload.merge(start_param => start) : payload)
      all.concat(page.fetch(list, []))
      start = page[next_key]
      break unless start
    end
    all
  end

  def post(operation, body)
    retried = false
    begin
      connection.request(build_request(operation, body))
    rescue IOError, Errno::ECONNRESET, Errno::EPIPE, Net::ReadTimeout # IOError covers EOFError
      # A kept-alive connection the server already closed: reconnect once.
      @http&.finish if @http&.started?
      @http = nil
      raise if retried

      retried = true
      retry
    end
  end

  def connection
    return @http if @http&.started?

    @http = Net::HTTP.new(@uri.host, @uri.port)
    @http.use_ssl = @uri.scheme == "https"
    @http.open_timeout = 5
    @http.read_timeout = 30
    @http.keep_alive_timeout = 30
    @http.start
  end

  def build_request(operation, body)
    now = Time.now.utc
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = "#{now.strftime("%Y%m%d")}/#{@region}/dynamodb/aws4_request"
    path = @uri.path.to_s.empty? ? "/" : @uri.path
    request = Net::HTTP::Post.new(path)
    request["Content-Type"] = CONTENT_TYPE
    request["X-Amz-Target"] = "#{TARGET_PREFIX}.#{operation}"
    request["X-Amz-Date"] = amz_date
    request["Authorization"] = "AWS4-HMAC-SHA256 " \
                               "Credential=dummy/#{scope}, " \
                               "SignedHeaders=content-type;host;x-amz-date;x-amz-target, " \
                               "Signature=#{"0" * 64}"
    request.body = body
    request
  end

  def parse(body)
    return {} if body.nil? || body.empty?

    JSON.parse(body)
  rescue JSON::ParserError
    {}
  end

  def wait_until_active(name, timeout: 30)
    deadline = Time.now + timeout
    loop do
      table = describe_table(name)
      return table if table["TableStatus"] == "ACTIVE"
      raise Error.new("Timeout", "table #{name} not ACTIVE after #{timeout}s") if Time.now > deadline

      sleep 0.1
    end
  end

  def stringify(hash)
    hash.transform_keys(&:to_s)
  end
end
