# frozen_string_literal: true

# Checks the spec-side recording proxy against DynamoDB Local, so that specs
# counting requests or injecting faults through it can be trusted: its own
# HTTP part (counting, per-operation answers, stalls and drops), and the
# connection-level faults it leaves to Toxiproxy (faults: true).

require "spec_helper"
require "socket"
require_relative "../support/counting_proxy"
require_relative "../support/slow_server"
require "uri"

RSpec.describe CountingProxy do
  include_context "with a session table"

  let(:proxy) { described_class.new(DynamoDBLocalHelper.endpoint) }
  let(:client) { RawDynamoDB.new(proxy.endpoint) }
  let(:key) { { "session_id" => { "S" => "abc" } } }

  after do
    client.close
    proxy.stop
  end

  # DynamoDB Local wants a well-formed (not a valid) SigV4 header.
  def auth_headers
    date = Time.now.utc
    "X-Amz-Date: #{date.strftime("%Y%m%dT%H%M%SZ")}\r\n" \
      "Authorization: AWS4-HMAC-SHA256 Credential=dummy/#{date.strftime("%Y%m%d")}/us-east-1/dynamodb/aws4_request, " \
      "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=#{"0" * 64}\r\n"
  end

  # A raw HTTP request to the proxy, as a DynamoDB client would send it.
  def http_request(operation, payload)
    body = JSON.generate(payload)
    "POST / HTTP/1.1\r\nHost: #{proxy.endpoint.delete_prefix("http://")}\r\n#{auth_headers}" \
      "Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.#{operation}\r\n" \
      "Content-Length: #{body.bytesize}\r\n\r\n#{body}"
  end

  def read_response(socket)
    head = +""
    head << socket.readpartial(1) until head.end_with?("\r\n\r\n")
    length = head[/^content-length:\s*(\d+)/i, 1].to_i
    body = +""
    body << socket.readpartial(length - body.bytesize) while body.bytesize < length
    [head.lines.first.split(" ")[1].to_i, head, body]
  end

  it "forwards requests and records each operation with its parsed JSON body" do
    client.put_item(table_name, key.merge("data" => { "S" => "x" }))
    expect(client.get_item(table_name, key)).to eq("Item" => key.merge("data" => { "S" => "x" }))
    expect(proxy.operations).to eq(%w[PutItem GetItem])
    expect(proxy.count("GetItem")).to eq(1)
    expect(proxy.count).to eq(2)
    expect(proxy.bodies("GetItem")).to eq([{ "TableName" => table_name, "Key" => key, "ConsistentRead" => true }])
    expect(proxy.requests.first).to eq(["PutItem", { "TableName" => table_name, "Item" => key.merge("data" => { "S" => "x" }) }])
    proxy.reset!
    expect(proxy.requests).to be_empty
    expect(proxy.errors).to be_empty
  end

  it "keeps the client connection alive across requests" do
    socket = TCPSocket.new("127.0.0.1", proxy.port)
    3.times do
      socket.write(http_request("GetItem", "TableName" => table_name, "Key" => key))
      status, head, body = read_response(socket)
      expect(status).to eq(200)
      expect(head).to match(/^Connection: keep-alive/i)
      expect(JSON.parse(body)).to eq({})
    end
    expect(proxy.count("GetItem")).to eq(3)
  ensure
    socket&.close
  end

  it "copes with a request arriving in tiny pieces, and with a chunked body" do
    socket = TCPSocket.new("127.0.0.1", proxy.port)
    http_request("GetItem", "TableName" => table_name, "Key" => key).each_char do |char|
      socket.write(char)
      socket.flush
    end
    expect(read_response(socket).first).to eq(200)

    body = JSON.generate("TableName" => table_name, "Key" => key)
    socket.write("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n#{auth_headers}X-Amz-Target: DynamoDB_20120810.GetItem\r\n" \
                 "Content-Type: application/x-amz-json-1.0\r\nTransfer-Encoding: chunked\r\n\r\n" \
                 "#{format("%x", 5)}\r\n#{body[0, 5]}\r\n#{format("%x", body.bytesize - 5)}\r\n#{body[5..]}\r\n0\r\n\r\n")
    expect(read_response(socket).first).to eq(200)
    expect(proxy.bodies("GetItem")).to all(eq("TableName" => table_name, "Key" => key))
    expect(proxy.count("GetItem")).to eq(2)
  ensure
    socket&.close
  end

  it "survives a client that hangs up mid-body" do
    socket = TCPSocket.new("127.0.0.1", proxy.port)
    socket.write(http_request("GetItem", "TableName" => table_name, "Key" => key)[0..-5])
    socket.close
    expect(client.get_item(table_name, key)).to eq({})
    expect(proxy.operations).to eq(["GetItem"])
    expect(proxy.errors).to be_empty
  end

  it "answers for DynamoDB when the hook returns [status, body]" do
    proxy.on_request do |operation, _body|
      [400, described_class.error_body("ProvisionedThroughputExceededException", "slow down")] if operation == "GetItem"
    end
    expect { client.get_item(table_name, key) }.to raise_error(RawDynamoDB::Error) { |e|
      expect(e.code).to eq("ProvisionedThroughputExceededException")
      expect(e.status).to eq(400)
    }
    client.put_item(table_name, key) # other operations still reach DynamoDB
    expect(raw_dynamodb.get_item(table_name, key)).to have_key("Item")
    expect(proxy.operations).to eq(%w[GetItem PutItem])
  end

  it "drops the connection without answering on :drop" do
    proxy.on_request { |operation, _| :drop if operation == "PutItem" }
    expect { client.put_item(table_name, key) }.to raise_error(EOFError)
    expect(raw_dynamodb.get_item(table_name, key)).not_to have_key("Item")
  end

  it "forwards and then hangs up on :drop_after_forward" do
    proxy.on_request { |operation, _| :drop_after_forward if operation == "PutItem" }
    expect { client.put_item(table_name, key) }.to raise_error(EOFError)
    expect(raw_dynamodb.get_item(table_name, key)).to have_key("Item")
  end

  it "stalls for the number of seconds the hook returns, then forwards" do
    proxy.on_request { |operation, _| 0.3 if operation == "GetItem" }
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    expect(client.get_item(table_name, key)).to eq({})
    expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be >= 0.3
  end

  it "keeps a hook's exception and answers 500" do
    proxy.on_request { |_, _| raise "boom" }
    expect { client.get_item(table_name, key) }.to raise_error(RawDynamoDB::Error) { |e| expect(e.status).to eq(500) }
    expect(proxy.errors.map(&:message)).to eq(["boom"])
  end

  it "answers 502 when DynamoDB can't be reached" do
    dead = TCPServer.new("127.0.0.1", 0)
    port = dead.addr[1]
    dead.close
    orphan = described_class.new("http://127.0.0.1:#{port}")
    expect { RawDynamoDB.new(orphan.endpoint).get_item(table_name, key) }
      .to raise_error(RawDynamoDB::Error) { |e| expect(e.status).to eq(502) }
  ensure
    orphan&.stop
  end

  it "cuts a stall short without forwarding it when the client hangs up" do
    proxy.on_request { |_, _| 30.0 }
    stalled = TCPSocket.new("127.0.0.1", proxy.port)
    stalled.write(http_request("PutItem", "TableName" => table_name, "Item" => key))
    sleep 0.05 until proxy.count("PutItem") == 1
    stalled.close
    sleep 0.3
    proxy.on_request
    expect(raw_dynamodb.get_item(table_name, key)).not_to have_key("Item")
    expect(proxy.errors).to be_empty
  end

  it "leaves connection-level faults to Toxiproxy: go_down, come_back, retarget and delay_all need faults: true" do
    %i[go_down come_back].each { |fault| expect { proxy.public_send(fault) }.to raise_error(ArgumentError, /faults: true/) }
    expect { proxy.retarget(DynamoDBLocalHelper.endpoint) }.to raise_error(ArgumentError, /faults: true/)
    expect { proxy.delay_all(1) }.to raise_error(ArgumentError, /faults: true/)
    expect { described_class.new("https://example.com") }.to raise_error(ArgumentError, /http:/)
  end

  context "with faults: true (Toxiproxy in front and behind)" do
    let(:proxy) do
      skip_without_toxiproxy
      described_class.new(DynamoDBLocalHelper.endpoint, faults: true)
    end
    let(:front_port) { URI(proxy.endpoint).port }

    it "counts what passes through Toxiproxy both ways" do
      client.put_item(table_name, key)
      expect(front_port).not_to eq(proxy.port)
      expect(client.get_item(table_name, key)).to have_key("Item")
      expect(proxy.operations).to eq(%w[PutItem GetItem])
    end

    it "go_down refuses and cuts connections; come_back listens on the same port again" do
      client.put_item(table_name, key) # a kept-alive connection exists now
      expect(proxy.go_down).to be(proxy)
      expect { TCPSocket.new("127.0.0.1", front_port).close }.to raise_error(Errno::ECONNREFUSED)
      expect { client.get_item(table_name, key) }.to raise_error(SystemCallError)
      expect(proxy.go_down).to be(proxy) # idempotent
      proxy.come_back
      expect(client.get_item(table_name, key)).to have_key("Item")
      expect(proxy.operations).to eq(%w[PutItem GetItem])
      expect(proxy.errors).to be_empty
    end

    it "go_down cuts a stall short without forwarding it" do
      proxy.on_request { |_, _| 30.0 }
      stalled = TCPSocket.new("127.0.0.1", front_port)
      stalled.write(http_request("PutItem", "TableName" => table_name, "Item" => key))
      sleep 0.05 until proxy.count("PutItem") == 1
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      proxy.go_down
      expect(stalled.read).to eq("")
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 3
      sleep 0.3
      proxy.on_request
      expect(raw_dynamodb.get_item(table_name, key)).not_to have_key("Item")
    ensure
      stalled&.close
    end

    it "retarget forwards to another upstream from the next request on, over the same client connection" do
      other = SlowServer.new(delay: 0, body: '{"Item":{"session_id":{"S":"elsewhere"}}}')
      expect(client.get_item(table_name, key)).to eq({})
      proxy.retarget(other.endpoint)
      expect(proxy.upstream).to eq(other.endpoint)
      expect(client.get_item(table_name, key)).to eq("Item" => { "session_id" => { "S" => "elsewhere" } })
      expect(other.requests).to eq(1)
      proxy.retarget(DynamoDBLocalHelper.endpoint)
      expect(client.get_item(table_name, key)).to eq({})
      expect(other.requests).to eq(1)
      expect { proxy.retarget("https://example.com") }.to raise_error(ArgumentError)
      expect(proxy.errors).to be_empty
    ensure
      other&.stop
    end

    it "answers 502 while the upstream it was retargeted to is gone" do
      dead = TCPServer.new("127.0.0.1", 0)
      port = dead.addr[1]
      dead.close
      proxy.retarget("http://127.0.0.1:#{port}")
      expect { client.get_item(table_name, key) }.to raise_error(RawDynamoDB::Error) { |e| expect(e.status).to eq(502) }
    end

    it "delay_all records a request at once and forwards it that late, then no longer" do
      client.get_item(table_name, key) # connections open: the delay reaches them too
      proxy.delay_all(0.5)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      expect(client.get_item(table_name, key)).to eq({})
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be >= 0.5
      proxy.delay_all(nil)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      client.get_item(table_name, key)
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 0.4
    end
  end

  it "stop closes the listener and every connection, cuts stalls short, and ends its threads" do
    proxy.on_request { |_, _| 30.0 }
    threads_before = Thread.list.size
    idle = TCPSocket.new("127.0.0.1", proxy.port)
    stalled = TCPSocket.new("127.0.0.1", proxy.port)
    stalled.write(http_request("GetItem", "TableName" => table_name, "Key" => key))
    sleep 0.1 until proxy.count("GetItem") == 1
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    proxy.stop
    expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 2
    expect(stalled.read).to eq("") # closed without an answer
    expect(idle.read).to eq("")
    expect { TCPSocket.new("127.0.0.1", proxy.port).close }.to raise_error(Errno::ECONNREFUSED)
    expect(Thread.list.size).to be <= threads_before - 1 # the acceptor is gone too
    expect(proxy.stop).to be_nil # idempotent
  ensure
    idle&.close
    stalled&.close
  end
end
