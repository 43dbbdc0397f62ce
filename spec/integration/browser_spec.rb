# frozen_string_literal: true

# Where sessions really live: a real browser (Debian's chromium, headless,
# driven over WebDriver on loopback by chromium-driver and Debian's
# selenium-webdriver) against the demo app (examples/app) under Puma in
# cluster mode with 2 workers, on https with a throwaway certificate so the
# cookie can be Secure. Log in, count across workers, log out (the old
# cookie then opens nothing), and the cookie's attributes as the browser
# keeps them.

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "openssl"
require "securerandom"
require "socket"
require "tmpdir"

RSpec.describe "The demo page in a real browser", :browser do
  let(:root) { File.expand_path("../..", __dir__) }

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # A self-signed certificate for 127.0.0.1; the browser is told to accept it.
  def write_certificate(dir)
    key = OpenSSL::PKey::RSA.new(2048)
    cert = OpenSSL::X509::Certificate.new
    cert.version = 2
    cert.serial = rand(1 << 64)
    cert.subject = cert.issuer = OpenSSL::X509::Name.parse("/CN=127.0.0.1")
    cert.public_key = key.public_key
    cert.not_before = Time.now - 60
    cert.not_after = Time.now + 3600
    extensions = OpenSSL::X509::ExtensionFactory.new(cert, cert)
    cert.add_extension(extensions.create_extension("subjectAltName", "IP:127.0.0.1"))
    cert.sign(key, OpenSSL::Digest.new("SHA256"))
    File.write(File.join(dir, "cert.pem"), cert.to_pem)
    File.write(File.join(dir, "key.pem"), key.to_pem)
    [File.join(dir, "cert.pem"), File.join(dir, "key.pem")]
  end

  def start_puma(dir, port, table)
    cert, key = write_certificate(dir)
    env = {
      "PORT" => port.to_s, "DEMO_TLS" => "1", "DEMO_TLS_CERT" => cert, "DEMO_TLS_KEY" => key,
      "SESSION_SECRET" => SecureRandom.hex(64), "AWS_DYNAMO_DB_SESSION_TABLE_NAME" => table,
      "AWS_DYNAMO_DB_SESSION_ENDPOINT" => DynamoDBLocalHelper.endpoint, "AWS_REGION" => "us-east-1",
      "AWS_ACCESS_KEY_ID" => "dummy", "AWS_SECRET_ACCESS_KEY" => "dummy", "AWS_EC2_METADATA_DISABLED" => "true",
      "RUBYLIB" => [File.join(root, "lib"), ENV.fetch("RUBYLIB", nil)].compact.join(File::PATH_SEPARATOR)
    }
    Process.spawn(env, "puma", "-C", File.join(root, "examples/app/puma.rb"),
                  File.join(root, "examples/app/config.ru"),
                  out: File.join(dir, "puma.log"), err: %i[child out], pgroup: true)
  end

  def wait_until_listening(port, pid, log)
    deadline = monotonic + 60
    loop do
      TCPSocket.new("127.0.0.1", port).close
      return
    rescue SystemCallError
      raise "Puma exited:\n#{File.read(log)}" if Process.wait(pid, Process::WNOHANG)
      raise "Puma did not listen within 60 s:\n#{File.read(log)}" if monotonic > deadline

      sleep 0.2
    end
  end

  def browser
    require "selenium-webdriver"
    options = Selenium::WebDriver::Chrome::Options.new(binary: "/usr/bin/chromium")
    %w[--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --ignore-certificate-errors
       --no-first-run --disable-extensions].each { |arg| options.add_argument(arg) }
    service = Selenium::WebDriver::Chrome::Service.new(path: "/usr/bin/chromedriver", args: ["--allowed-ips="])
    Selenium::WebDriver.for(:chrome, options: options, service: service)
  end

  # The element's text on the page now shown. Right after a navigation the
  # old page's element can be found and then vanish under us; look again.
  def text(driver, id)
    Selenium::WebDriver::Wait.new(timeout: 10, ignore: Selenium::WebDriver::Error::StaleElementReferenceError)
                             .until { driver.find_element(id: id).text }
  end

  # Clicks a form's button and returns once the page the form posted to (a
  # 303 back to /page) has replaced the current one: WebDriver's click does
  # not wait for that, so without this the next lookup may read the old page.
  def submit(driver, id)
    old_page = driver.find_element(tag_name: "html")
    driver.find_element(id: id).click
    Selenium::WebDriver::Wait.new(timeout: 10).until do
      old_page.tag_name
      false
    rescue Selenium::WebDriver::Error::StaleElementReferenceError
      true
    end
  end

  around do |example|
    table = DynamoDBLocalHelper.unique_table_name("browser")
    Aws::SessionStore::DynamoDB::Table.create_table(
      table_name: table, endpoint: DynamoDBLocalHelper.endpoint, region: "us-east-1",
      access_key_id: "dummy", secret_access_key: "dummy", billing_mode: :pay_per_request
    )
    Dir.mktmpdir("browser-spec") do |dir|
      @port = TCPServer.open("127.0.0.1", 0) { |server| server.addr[1] }
      @table = table
      pid = start_puma(dir, @port, table)
      begin
        wait_until_listening(@port, pid, File.join(dir, "puma.log"))
        @driver = browser
        example.run
      ensure
        @driver&.quit
        Process.kill("TERM", -pid) rescue nil # rubocop:disable Style/RescueModifier
        Process.wait(pid) rescue nil # rubocop:disable Style/RescueModifier
      end
    end
  ensure
    DynamoDBLocalHelper.raw_client.delete_table(table) if table
  end

  it "keeps the session across both workers, logs in and out, and the old cookie opens nothing after" do
    driver = @driver
    page = "https://127.0.0.1:#{@port}/page"
    driver.navigate.to(page)
    expect(text(driver, "count")).to eq("1")
    expect(text(driver, "user")).to eq("Not logged in")

    cookie = driver.manage.cookie_named("demo.page")
    expect(cookie).to include(secure: true, http_only: true, same_site: "Lax", path: "/")
    expect(cookie[:value]).to match(/\A\h{32}--\h{32}\z/)

    driver.find_element(id: "name").send_keys("alice")
    submit(driver, "login")
    expect(text(driver, "user")).to eq("alice")
    logged_in = driver.manage.cookie_named("demo.page")[:value]
    expect(logged_in).not_to eq(cookie[:value]) # a new id on log in

    workers = []
    counts = []
    # Each page closes its connection, so the next may reach either worker;
    # which one accepts is the kernel's pick, so go on (up to 60 pages)
    # until both have answered.
    until (counts.size >= 12 && workers.uniq.size == 2) || counts.size >= 60
      driver.navigate.to(page)
      workers << text(driver, "worker")
      counts << Integer(text(driver, "count"))
      expect(text(driver, "user")).to eq("alice")
    end
    expect(counts).to eq((counts.first...(counts.first + counts.size)).to_a) # one session, counted by both
    expect(workers.uniq.size).to eq(2)

    submit(driver, "logout")
    expect(text(driver, "user")).to eq("Not logged in")
    expect(text(driver, "count")).to eq("1")

    # The logged-in cookie, put back by hand: its session is gone.
    driver.manage.delete_all_cookies
    driver.manage.add_cookie(name: "demo.page", value: logged_in, path: "/", secure: true)
    driver.navigate.to(page)
    expect(text(driver, "user")).to eq("Not logged in")
    expect(text(driver, "count")).to eq("1")
    expect(driver.manage.cookie_named("demo.page")[:value]).not_to eq(logged_in)
  end
end
