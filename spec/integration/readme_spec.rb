# frozen_string_literal: true

# Every ```ruby block of README.md and the pages of doc/ runs, unchanged, in a fresh `ruby -I lib`
# process with a clean environment, against DynamoDB Local
# (DYNAMODB_ENDPOINT, reached through AWS_DYNAMO_DB_SESSION_ENDPOINT, the
# store's documented variable; credentials "dummy"/"dummy"). How a block runs
# follows from its first line, the file the README says it belongs in:
#
#   # Gemfile               evaluated by Bundler's Gemfile DSL; it must name
#                           the gem this gemspec builds
#   # config.ru             loaded with Rack::Builder.parse_file (as rackup and
#                           Puma load it), MyApp a counter; two requests through
#                           the app must count 1, 2 on one cookie
#   # config/initializers/  the file of a minimal Rails app (Debian's Rails),
#                           loaded by Rails.application.initialize!; two
#                           requests through the Rails stack must count 1, 2
#   anything else           run as a script
#
# FIXTURES adds what a block needs around it (tables, items) and checks of
# what the README says about its result; a block no fixture matches still
# has to run. A block that cannot run would have to be listed in COVERED_BY
# with the examples/ file that covers it (none is, today).
#
# The blocks use the README's table names ("sessions", "my_app_sessions"), so
# two runs of this file must not share one DynamoDB Local.

require "spec_helper"
require "fileutils"
require "open3"
require "rbconfig"
require "securerandom"
require "tmpdir"
require_relative "../support/opentelemetry"

module ReadmeBlocks
  ROOT = File.expand_path("../..", __dir__)
  README = File.join(ROOT, "README.md")
  # The documents whose blocks run: the README, then doc/ (a block that
  # stands in more than one runs once).
  DOCS = [README, *Dir[File.join(ROOT, "doc", "*.md")].sort].freeze
  LIB = File.join(ROOT, "lib")
  TIMEOUT = 120 # seconds per block

  # A ```ruby block: its code, where it starts, and the heading above it.
  Block = Struct.new(:code, :line, :section, :file, keyword_init: true) do
    def kind
      case code.lines.first.to_s.strip
      when "# Gemfile" then :gemfile
      when "# config.ru" then :rackup
      when %r{\A# config/initializers/} then :rails_initializer
      else :script
      end
    end

    def to_s
      "#{file}:#{line} (#{section}, #{kind})"
    end
  end

  # README blocks that cannot run, with the examples/ file covering each:
  # { "first line of the block" => "examples/..." }.
  COVERED_BY = {}.freeze

  # Matched against a block's code. tables: created (empty) before, deleted
  # after; items: put into the first table before; cleanup: tables deleted
  # after; check: Ruby run after the block, in its process (a script block's
  # local variables are in scope).
  FIXTURES = [
    {
      match: /Table\.create_table/,
      cleanup: %w[sessions],
      check: <<~RUBY
        begin
          Aws::SessionStore::DynamoDB::Table.describe_table(table_name: "sessions")
          abort "the table is still there after delete_table"
        rescue Aws::SessionStore::DynamoDB::Errors::ResourceNotFoundError
          # gone, as it should be
        end
      RUBY
    },
    {
      match: /GarbageCollection\.collect_garbage/,
      tables: %w[sessions],
      # Three sessions created 8 days ago (beyond max_age), two fresh ones.
      items: lambda do
        now = Time.now.to_f
        [now - 8 * 86_400, now - 8 * 86_400, now - 8 * 86_400, now, now].map do |created|
          { "session_id" => { "S" => SecureRandom.hex(16) }, "data" => { "S" => "{}" },
            "created_at" => { "S" => created.to_s }, "updated_at" => { "S" => now.to_s } }
        end
      end,
      # The README shows `result.summary  # => "garbage collection: scanned
      # 1200, deleted 300, in 0.84 s (…)"`.
      check: <<~'RUBY'
        summary = result.summary
        pattern = /\Agarbage collection: scanned 5, deleted 3, in \d+\.\d\d s \(.+\)\z/
        abort "summary #{summary.inspect} is not #{pattern.inspect}" unless summary.match?(pattern)
      RUBY
    },
    {
      match: %r{require "aws/session_store/dynamo_db/rake_tasks"},
      # The tasks the README names.
      check: <<~RUBY
        %w[dynamo_db:session_store:create_table dynamo_db:session_store:delete_table
           dynamo_db:session_store:clean dynamo_db:collect_garbage].each do |task|
          abort "no task \#{task}" unless Rake::Task.task_defined?(task)
        end
      RUBY
    },
    {
      match: /UserSessions/,
      tables: %w[sessions],
      # doc/user-sessions.md prints the list's size before and after.
      check: <<~RUBY
        abort "UserSessions still lists sessions" unless sessions.list(42, **options).empty?
      RUBY
    },
    {
      match: /Migration\.reencrypt/,
      tables: %w[sessions],
      # doc/encryption.md: both sessions moved to the new key.
      check: <<~RUBY
        abort "reencrypt did not rewrite both sessions: \#{result.summary}" unless result.rewritten == 2
      RUBY
    },
    {
      # doc/opentelemetry.md: run with the OpenTelemetry SDK on the load
      # path (as the app's Gemfile would put it), and installed by name.
      match: %r{require "opentelemetry/sdk"},
      opentelemetry: true,
      check: <<~RUBY
        abort "the instrumentation is not installed" unless Aws::SessionStore::DynamoDB::Telemetry.instance.installed?
      RUBY
    },
    { match: /\A# config\.ru/, tables: %w[sessions] },
    { match: %r{\A# config/initializers/}, tables: %w[my_app_sessions] }
  ].freeze

  module_function

  def blocks
    DOCS.flat_map { |path| blocks_of(path) }.uniq(&:code)
  end

  def blocks_of(path)
    name = path.delete_prefix("#{ROOT}/")
    section = nil
    fence = nil # the open fence's language, "" for none
    blocks = []
    File.readlines(path).each_with_index do |line, index|
      if fence.nil? && (opening = line[/\A```(\w*)\s*\z/, 1])
        fence = opening
        blocks << Block.new(code: +"", line: index + 2, section: section, file: name) if fence == "ruby"
      elsif fence && line.rstrip == "```"
        fence = nil
      elsif fence == "ruby"
        blocks.last.code << line
      elsif fence.nil? && line.match?(/\A#+ /)
        section = line.strip
      end
    end
    blocks
  end

  def fixture(block)
    FIXTURES.find { |f| block.code.match?(f[:match]) } || {}
  end

  # The process environment of a block: nothing of the caller's but PATH,
  # HOME and RUBYLIB, so no AWS_* or AWS_DYNAMO_DB_SESSION_* leaks in.
  # RUBYLIB selects the stack, as an app's Gemfile would: where Rack or
  # Rails come from RUBYLIB (script/test's vendored stacks and Ruby kits),
  # a block without it would find none, or another Ruby's.
  def env
    {
      "PATH" => ENV.fetch("PATH", "/usr/bin:/bin"), "HOME" => ENV.fetch("HOME", Dir.tmpdir), "LANG" => "C.UTF-8",
      "RUBYLIB" => ENV.fetch("RUBYLIB", nil),
      "AWS_EC2_METADATA_DISABLED" => "true", "AWS_ACCESS_KEY_ID" => "dummy", "AWS_SECRET_ACCESS_KEY" => "dummy",
      "AWS_REGION" => "us-east-1", "AWS_CONFIG_FILE" => File::NULL, "AWS_SHARED_CREDENTIALS_FILE" => File::NULL,
      "AWS_DYNAMO_DB_SESSION_ENDPOINT" => DynamoDBLocalHelper.endpoint,
      "SESSION_SECRET" => SecureRandom.hex(64), "RAILS_ENV" => "test"
    }
  end

  # Writes the files for one block into dir. @return [String] the script to run.
  def prepare(block, dir, check)
    case block.kind
    when :script
      write(dir, "block.rb", "#{block.code}\n# --- checks of spec/readme_spec.rb ---\n#{check}")
    when :gemfile
      write(dir, "Gemfile", block.code)
      write(dir, "run.rb", <<~RUBY)
        require "bundler"
        dsl = Bundler::Dsl.new
        dsl.eval_gemfile(File.expand_path("Gemfile", __dir__))
        names = dsl.dependencies.map(&:name)
        spec = Gem::Specification.load(#{File.join(ROOT, "aws-sessionstore-dynamodb-rs.gemspec").inspect})
        abort "the Gemfile names \#{names.inspect}, the gemspec builds \#{spec.name}" unless names == [spec.name]
        #{check}
      RUBY
    when :rackup
      write(dir, "config.ru", block.code)
      write(dir, "run.rb", <<~RUBY)
        require "rack"
        require "rack/mock"
        # The app the README's `run MyApp` serves: counts requests.
        MyApp = lambda do |env|
          session = env["rack.session"]
          session["n"] = session.fetch("n", 0) + 1
          [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
        end
        app, = Rack::Builder.parse_file(File.expand_path("config.ru", __dir__))
        #{two_requests}
        #{check}
      RUBY
    when :rails_initializer
      write(dir, block.code.lines.first.sub("#", "").strip, block.code)
      write(dir, "run.rb", <<~RUBY)
        require "rails"
        require "action_controller/railtie"
        require "aws-sessionstore-dynamodb-rs" # what Bundler.require does for the Gemfile line
        class ReadmeApp < Rails::Application
          config.root = __dir__
          config.eager_load = false
          config.secret_key_base = "readme-spec-" + "s" * 64
          config.logger = Logger.new(nil)
        end
        Rails.application.initialize! # loads config/initializers/*.rb
        Rails.application.routes.draw do
          get "/" => lambda { |env|
            session = env["rack.session"]
            session["n"] = session.fetch("n", 0) + 1
            [200, { "content-type" => "text/plain" }, [session["n"].to_s]]
          }
        end
        app = Rails.application
        #{two_requests}
        #{check}
      RUBY
    end
  end

  # Two requests, the second with the first's cookie: they must count 1, 2.
  def two_requests
    <<~RUBY
      request = Rack::MockRequest.new(app)
      first = request.get("/")
      cookie = first["Set-Cookie"].to_s[/\\A[^;]+/]
      second = request.get("/", "HTTP_COOKIE" => cookie.to_s)
      bodies = [first, second].map(&:body)
      abort "expected 1, 2 on one cookie; got \#{bodies.inspect} (\#{first.status}, cookie \#{cookie.inspect})" unless bodies == %w[1 2]
    RUBY
  end

  def write(dir, name, text)
    path = File.join(dir, name)
    FileUtils.mkdir_p(File.dirname(path))
    File.write(path, text)
    path
  end

  # The OpenTelemetry API and SDK (spec/support/opentelemetry.rb), or nil.
  def opentelemetry_dirs
    loaded, = OpenTelemetrySupport.load
    loaded ? $LOAD_PATH.grep(/opentelemetry/) : nil
  end

  # Why a block can't run here (a clone without ../shared), or nil.
  def missing(block)
    return nil unless fixture(block)[:opentelemetry] && opentelemetry_dirs.nil?

    "the OpenTelemetry SDK is not on the load path (../shared/vendor/ruby: rubylib otel)"
  end

  # @return [Array(String, Process::Status)] output and status.
  def run(block)
    fixture = fixture(block)
    raw = DynamoDBLocalHelper.raw_client
    tables = fixture.fetch(:tables, [])
    fixture.fetch(:cleanup, []).each { |table| raw.delete_table(table) }
    tables.each do |table|
      raw.delete_table(table)
      raw.create_table(table)
    end
    raw.batch_put(tables.first, fixture[:items].call) if fixture[:items]
    Dir.mktmpdir("readme-block") do |dir|
      script = prepare(block, dir, fixture[:check].to_s)
      load_path = fixture[:opentelemetry] ? opentelemetry_dirs.flat_map { |d| ["-I", d] } : []
      output, status = Open3.capture2e(env, "timeout", TIMEOUT.to_s, RbConfig.ruby, "-I", LIB, *load_path, script,
                                       chdir: dir, unsetenv_others: true)
      [output, status]
    end
  ensure
    (tables.to_a + fixture.fetch(:cleanup, [])).each { |table| raw.delete_table(table) } if raw
  end
end

RSpec.describe "README.md and doc/" do
  blocks = ReadmeBlocks.blocks

  it "has ruby blocks to check" do
    expect(blocks.size).to be >= 6
  end

  blocks.each do |block|
    covered = ReadmeBlocks::COVERED_BY[block.code.lines.first.to_s.strip]
    if covered
      it "#{block}: covered by #{covered}" do
        expect(File.file?(File.join(ReadmeBlocks::ROOT, covered))).to be(true)
      end
    else
      it "#{block} runs" do
        why = ReadmeBlocks.missing(block)
        raise "#{why} (CI=true: it is required)" if why && ENV["CI"] == "true"

        skip why if why

        output, status = ReadmeBlocks.run(block)
        message = "exit #{status.exitstatus} for the block at #{block}:\n#{block.code}\n--- output:\n#{output}"
        expect(status).to be_success, message
      end
    end
  end
end
