# frozen_string_literal: true

# The Rails integration end to end, on the Rails the run has: Debian's 6.1,
# or Rails 7.2 on Rack 3.1 when script/test runs the suite with the
# vendored stack's RUBYLIB (../shared/vendor/ruby/rubylib rails-7.2), which
# the app's processes inherit. A minimal app is
# written to a temp dir (no Bundler; it loads the gem from this checkout),
# then every step runs as a subprocess with a clean environment: the
# generators, db:migrate against DynamoDB Local, requests through the whole
# Rails stack (Rack::MockRequest against Rails.application, in that process),
# `rails -T`, `rake dynamo_db:collect_garbage`, db:rollback.
#
# The steps build on each other, so they run once, in order, in before(:all);
# the examples check what each step did. Run alone with:
#
#   rspec --tag rails      (or: rspec spec/rails_integration_spec.rb)

require "spec_helper"
require "aws-sessionstore-dynamodb-rs"
require "digest"
require "fileutils"
require "json"
require "open3"
require "rbconfig"
require "tmpdir"
require "yaml"

# Subprocess helpers and the files of the app.
module RailsAppHelpers
  LIB = File.expand_path("../../lib", __dir__)
  COOKIE = "_rails_spec_session"
  # Seconds one subprocess may take before it is killed.
  STEP_TIMEOUT = 90

  module_function

  # The Rails version the app's processes load, or nil when Rails is missing.
  def rails_version
    script = %w[rails active_record action_controller sqlite3].map { |feature| "require '#{feature}'" }.join(";")
    out, _err, status = Open3.capture3(clean_env({}), RbConfig.ruby, "-e", "#{script}; print Rails::VERSION::STRING",
                                       unsetenv_others: true)
    status.success? ? out : nil
  end

  # Only what the app needs: no RUBYOPT/BUNDLE_* of the caller, no AWS_*
  # credentials but the ones given here. RUBYLIB is kept: it selects the
  # stack (Rails 7.2 and Rack 3 from ../shared/vendor/ruby).
  def clean_env(extra)
    {
      "PATH" => ENV.fetch("PATH", "/usr/bin:/bin"), "HOME" => ENV.fetch("HOME", Dir.tmpdir),
      "LANG" => "C.UTF-8", "RAILS_ENV" => "development",
      "AWS_EC2_METADATA_DISABLED" => "true", "RUBYLIB" => ENV.fetch("RUBYLIB", nil)
    }.compact.merge(extra)
  end

  def write_app(dir)
    files = {
      "config/boot.rb" => <<~RUBY,
        # No Bundler: the gem from the working tree, Rails from Debian.
        $LOAD_PATH.unshift(#{LIB.inspect})
      RUBY
      "config/application.rb" => <<~RUBY,
        require_relative "boot"
        require "rails"
        require "active_record/railtie"
        require "action_controller/railtie"
        # What Bundler.require does for the Gemfile line.
        require "aws-sessionstore-dynamodb-rs"

        module RailsSpecApp
          class Application < Rails::Application
            config.load_defaults Rails::VERSION::STRING.to_f
            config.eager_load = false
            config.secret_key_base = "rails-spec-secret-key-base-" + ("s" * 64)
            config.hosts.clear
            config.active_record.migration_error = false
            config.logger = Logger.new(File.expand_path("../log/app.log", __dir__))
            # The app's SameSite default for its cookies (Rails: lax).
            if ENV["COOKIES_SAME_SITE"]
              config.action_dispatch.cookies_same_site_protection = ENV["COOKIES_SAME_SITE"].to_sym
            end
          end
        end
      RUBY
      "config/environment.rb" => <<~RUBY,
        require_relative "application"
        Rails.application.initialize!
      RUBY
      "config/initializers/session_store.rb" => <<~RUBY,
        # Store options (max_stale, max_age, hashed_keys) and cookie options
        # (key, same_site).
        extra = {}
        extra[:hashed_keys] = true if ENV["HASHED_KEYS"]
        # One user's sessions (doc/user-sessions.md), with a callable.
        extra[:user_key] = ->(session) { session["user_id"] } if ENV["USER_KEY"]
        if ENV["SAME_SITE"] == "proc"
          extra[:same_site] = ->(_request, _response) { :strict }
        elsif ENV["SAME_SITE"]
          extra[:same_site] = ENV["SAME_SITE"].to_sym
        end
        Rails.application.config.session_store ENV.fetch("SESSION_STORE").to_sym,
                                               key: #{COOKIE.inspect}, max_stale: 7200, max_age: 86_400, **extra
      RUBY
      "config/database.yml" => <<~YAML,
        development:
          adapter: sqlite3
          database: db/development.sqlite3
      YAML
      "config/routes.rb" => <<~RUBY,
        Rails.application.routes.draw do
          get "counter" => "counter#show"
          get "info" => "counter#info"
          get "reset" => "counter#reset"
          get "form" => "counter#form"
          post "submit" => "counter#submit"
          get "flash_set" => "counter#flash_set"
          get "flash_show" => "counter#flash_show"
          get "ids" => "counter#ids"
          get "sign_in" => "counter#sign_in"
          get "sign_out_others" => "counter#sign_out_others"
          get "whoami" => "counter#whoami"
        end
      RUBY
      "app/controllers/counter_controller.rb" => <<~RUBY,
        class CounterController < ActionController::Base
          def show
            session[:n] = (session[:n] || 0) + 1
            render plain: session[:n].to_s
          end

          def info
            render json: {
              n: session[:n], session_class: session.class.name, id: session.id.to_s,
              option_keys: request.session_options.to_hash.keys.map(&:to_s)
            }
          end

          def reset
            reset_session
            render plain: "reset"
          end

          # CSRF: the token lives in the session; a POST must bring it back.
          protect_from_forgery with: :exception

          def form
            render plain: form_authenticity_token
          end

          def submit
            render plain: "accepted"
          end

          rescue_from ActionController::InvalidAuthenticityToken do
            render plain: "forgery", status: 422
          end

          # The flash lives in the session across a redirect.
          def flash_set
            flash[:notice] = "saved in the session"
            redirect_to "/flash_show"
          end

          def flash_show
            render plain: flash[:notice].to_s
          end

          # The session id read the four ways (session[:session_id] first:
          # it loads the session), before and after reset_session; `early`
          # is session.id before anything loaded the session.
          def ids
            early = session.id&.public_id
            session[:n] = (session[:n] || 0) + 1 unless params[:read]
            before = id_reads
            if params[:reset]
              reset_session
              session[:n] = 1
              after = id_reads
            end
            render json: { early: early, before: before, after: after }
          end

          # One user's sessions: "sign out everywhere else" in one line.
          def sign_in
            session[:user_id] = params[:id]
            render plain: "signed in"
          end

          def sign_out_others
            render plain: Aws::SessionStore::DynamoDB::UserSessions.of(request).revoke_others(session[:user_id]).to_s
          end

          def whoami
            render plain: session[:user_id].to_s
          end

          private

          def id_reads
            id = session[:session_id]
            option = request.session_options[:id]
            { sym: id, str: session["session_id"], public_id: session.id&.public_id, to_s: session.id.to_s,
              option: option&.to_s, classes: [session.id.class.name, option.class.name].uniq,
              private_id: session.id&.private_id }
          end
        end
      RUBY
      "Rakefile" => <<~RUBY,
        require_relative "config/application"
        Rails.application.load_tasks
      RUBY
      "bin/rails" => <<~RUBY,
        APP_PATH = File.expand_path("../config/application", __dir__)
        require_relative "../config/boot"
        require "rails/commands"
      RUBY
      # Two browsers sign in as one user; the first signs out everywhere else.
      "script/revoke.rb" => "COOKIE = #{COOKIE.inspect}\n" + <<~'RUBY',
        require_relative "../config/environment"
        require "json"
        require "rack/mock"

        get = lambda do |jar, path|
          res = Rack::MockRequest.new(Rails.application).get(path, "HTTP_COOKIE" => jar[:cookie].to_s)
          lines = Array(res.headers["Set-Cookie"] || res.headers["set-cookie"]).flat_map { |v| v.split("\n") }
          line = lines.find { |l| l.start_with?("#{COOKIE}=") }
          jar[:cookie] = line[/\A[^;]*/] if line
          res.body
        end
        first = {}
        second = {}
        [first, second].each { |jar| get.(jar, "/sign_in?id=42") }
        before = [get.(first, "/whoami"), get.(second, "/whoami")]
        revoked = get.(first, "/sign_out_others")
        after = [get.(first, "/whoami"), get.(second, "/whoami")]
        puts JSON.generate(before: before, revoked: revoked, after: after)
      RUBY
      # Requests in process, through Rails.application, cookies carried.
      "script/drive.rb" => "COOKIE = #{COOKIE.inspect}\n" + <<~'RUBY'
        require_relative "../config/environment"
        require "json"
        require "rack/mock"
        require "uri"

        # One cookie jar per client. Set-Cookie: a String with newlines
        # (Rack 2) or an Array (Rack 3).
        request = lambda do |jar, method, path, params = {}|
          res = Rack::MockRequest.new(Rails.application).request(method, path, "HTTP_COOKIE" => jar[:cookie].to_s,
                                                                                params: params)
          lines = Array(res.headers["Set-Cookie"] || res.headers["set-cookie"]).flat_map { |v| v.split("\n") }
          line = lines.find { |l| l.start_with?("#{COOKIE}=") }
          jar[:cookie] = line[/\A[^;]*/] if line
          { status: res.status, body: res.body, set_cookie: line, cookie: jar[:cookie],
            location: res.headers["Location"] || res.headers["location"] }
        end
        get = ->(jar, path) { request.(jar, "GET", path) }

        client = {}
        counts = Array.new(Integer(ENV.fetch("REQUESTS"))) { get.(client, "/counter") }
        info = get.(client, "/info")
        # reset_session, by a second client: count, reset, count again.
        other = {}
        reset = ENV["RESET"] ? %w[/counter /reset /counter].map { |path| get.(other, path) } : []
        # CSRF round trip and a flash across a redirect, by a third client.
        third = {}
        token = get.(third, "/form")[:body]
        csrf = [request.(third, "POST", "/submit", "authenticity_token" => token),
                request.(third, "POST", "/submit", "authenticity_token" => "forged")]
        set = get.(third, "/flash_set")
        flash = [set, get.(third, URI(set[:location].to_s).path), get.(third, "/flash_show")]
        # The session id, by a fourth client: new, read, count, reset, read;
        # then cookies that are no session id (forged, malformed, not UTF-8).
        fourth = {}
        ids = %w[/ids /ids?read=1 /ids /ids?reset=1 /ids?read=1].map { |path| get.(fourth, path) }
        forged = ["garbage", "#{"0" * 32}--#{"a" * 32}", "%FF%FE%C3%28"].map do |value|
          get.({ cookie: "#{COOKIE}=#{value}" }, "/ids?read=1").merge(presented: value)
        end
        store = ObjectSpace.each_object(ActionDispatch::Session::DynamoDbStore).first
        config = store.config
        puts JSON.generate(
          counts: counts, info: info, reset: reset, cookie: client[:cookie], csrf: csrf, flash: flash,
          ids: ids, forged: forged, hashed_keys: config.hashed_keys,
          rails_version: Rails::VERSION::STRING, rack_version: Rack.release,
          session_store: Rails.application.config.session_store.name, store_class: store.class.name,
          store_ancestors: store.class.ancestors.map(&:to_s),
          config: config.to_hash.slice(:table_name, :max_stale, :max_age, :lock_retry_delay, :read_capacity,
                                       :config_file),
          secret_is_secret_key_base: config.secret_key == Rails.application.secret_key_base,
          secret_key_prefix: config.secret_key[0, 12],
          # Code calling Configuration/Table/GarbageCollection without options.
          no_options_table_name: Aws::SessionStore::DynamoDB::Configuration.new.table_name
        )
      RUBY
    }
    files.each do |path, text|
      full = File.join(dir, path)
      FileUtils.mkdir_p(File.dirname(full))
      File.write(full, text)
    end
    %w[db log tmp].each { |d| FileUtils.mkdir_p(File.join(dir, d)) }
  end
end

RSpec.describe "Rails integration", :rails do
  before(:all) do
    @rails_version = RailsAppHelpers.rails_version
    skip "Rails (railties, activerecord, sqlite3) is not installed: run script/setup" unless @rails_version

    @raw = DynamoDBLocalHelper.raw_client
    @table = DynamoDBLocalHelper.unique_table_name("rails-spec")
    @dir = Dir.mktmpdir("rails-spec-app")
    @steps = {}
    RailsAppHelpers.write_app(@dir)
    # ENV beats the file (lock_retry_delay); config.session_store beats ENV
    # (max_stale 7200 over 3000 over the file's 3600).
    @env = RailsAppHelpers.clean_env(
      "SESSION_STORE" => "dynamo_db_store",
      "AWS_DYNAMO_DB_SESSION_MAX_STALE" => "3000",
      "AWS_DYNAMO_DB_SESSION_LOCK_RETRY_DELAY" => "250"
    )

    run_step(:config_generator, "bin/rails", "generate", "dynamo_db:session_store_config")
    run_step(:config_generator_env, "bin/rails", "generate", "dynamo_db:session_store_config",
             "--environment=production")
    run_step(:config_generator_help, "bin/rails", "generate", "dynamo_db:session_store_config", "--help")
    run_step(:migration_generator, "bin/rails", "generate", "dynamo_db:session_store_migration")
    run_step(:legacy_generator, "bin/rails", "generate", "sessionstore:dynamodb")
    run_step(:index_generator, "bin/rails", "generate", "dynamo_db:user_index_migration")
    @generated = {
      config: read("config/aws_dynamo_db_session_store.yml"),
      config_env: read("config/aws_dynamo_db_session_store/production.yml"),
      legacy_config: read("config/sessionstore/dynamodb.yml"),
      migrations: Dir[File.join(@dir, "db/migrate/*.rb")].sort.to_h { |f| [File.basename(f), File.read(f)] }
    }

    # The app's settings go where a user would put them: the generated file.
    File.write(File.join(@dir, "config/aws_dynamo_db_session_store.yml"), <<~YAML, mode: "a")

      table_name: #{@table}
      endpoint: #{DynamoDBLocalHelper.endpoint}
      region: us-east-1
      access_key_id: dummy
      secret_access_key: dummy
      read_capacity: 7
      max_stale: 3600
      lock_retry_delay: 100
    YAML

    run_step(:migrate, "bin/rails", "db:migrate")
    @described = @raw.describe_table(@table) if @steps[:migrate][:status].success?
    @ttl = @raw.describe_time_to_live(@table) if @described

    run_step(:drive, "script/drive.rb", env: { "REQUESTS" => "3", "RESET" => "1" })
    @drive = parse_json(:drive)
    @items_after_drive = @raw.scan_all(@table) if @described

    # The session id and SameSite under other settings: hashed keys with
    # the app's SameSite default set to strict; an explicit same_site
    # (:none, a callable) over the app's default.
    @id_drives = {
      drive_hashed: { "HASHED_KEYS" => "1", "COOKIES_SAME_SITE" => "strict" },
      drive_same_site_none: { "SAME_SITE" => "none", "COOKIES_SAME_SITE" => "strict" },
      drive_same_site_proc: { "SAME_SITE" => "proc" }
    }
    @keys_after = {}
    @id_drives.each do |name, env|
      run_step(name, "script/drive.rb", env: env.merge("REQUESTS" => "1"))
      @keys_after[name] = @raw.scan_all(@table).map { |i| i["session_id"]["S"] } if @described
    end

    run_step(:revoke, "script/revoke.rb", env: { "USER_KEY" => "1" })

    run_step(:rails_tasks, "bin/rails", "-T", "dynamo_db")
    run_step(:rake_tasks, "rake", "-T", ruby: false)

    now = Time.now.to_f
    @gc_items = { "gc-old" => now - 8000, "gc-recent" => now - 5000 }
    @gc_items.each do |sid, updated|
      @raw.put_item(@table, "session_id" => { "S" => sid }, "data" => { "S" => "{}" },
                            "created_at" => { "S" => (now - 9000).to_s }, "updated_at" => { "S" => updated.to_s })
    end
    run_step(:collect_garbage, "rake", "dynamo_db:collect_garbage", ruby: false)
    @gc_left = @raw.scan_all(@table).map { |item| item["session_id"]["S"] }
    run_step(:clean, "rake", "dynamo_db:session_store:clean", ruby: false)

    # The v0.5 names: :dynamodb_store reading config/sessionstore/dynamodb.yml.
    # A secret in the file beats secret_key_base (v0.5 generated one there).
    FileUtils.mv(File.join(@dir, "config/aws_dynamo_db_session_store.yml"),
                 File.join(@dir, "config/sessionstore/dynamodb.yml"))
    File.write(File.join(@dir, "config/sessionstore/dynamodb.yml"), "secret_key: legacy-file-secret-#{"f" * 32}\n",
               mode: "a")
    run_step(:drive_legacy, "script/drive.rb", env: { "SESSION_STORE" => "dynamodb_store", "REQUESTS" => "2" })
    @drive_legacy = parse_json(:drive_legacy)

    run_step(:rollback, "bin/rails", "db:rollback", "STEP=3")
    @tables_after_rollback = @raw.list_tables
    if ENV["RAILS_SPEC_TIMINGS"]
      @steps.each { |name, r| warn format("%-22s %5.2f s %s", name, r[:elapsed], r[:status].success? ? "" : "FAILED") }
    end
  end

  after(:all) do
    @raw&.delete_table(@table) if @table
    next unless @dir && File.directory?(@dir)

    # RAILS_SPEC_KEEP=1 keeps the app (and RAILS_SPEC_TIMINGS=1 times the steps) for debugging.
    ENV["RAILS_SPEC_KEEP"] ? warn("Rails app kept in #{@dir}") : FileUtils.remove_entry(@dir)
  end

  # Runs `ruby <args>` (or the command itself) in the app dir, with a timeout.
  def run_step(name, *args, env: {}, ruby: true)
    command = ["timeout", RailsAppHelpers::STEP_TIMEOUT.to_s] + (ruby ? [RbConfig.ruby] : []) + args
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    out, err, status = Open3.capture3(@env.merge(env), *command, chdir: @dir, unsetenv_others: true)
    elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    @steps[name] = { out: out, err: err, status: status, elapsed: elapsed }
  end

  def step(name)
    result = @steps.fetch(name)
    expect(result[:status]).to be_success,
                               "#{name} failed (#{result[:status]}):\n#{result[:out]}\n#{result[:err]}"
    result
  end

  def parse_json(name)
    JSON.parse(@steps[name][:out].lines.last.to_s)
  rescue JSON::ParserError
    nil
  end

  def read(path)
    full = File.join(@dir, path)
    File.file?(full) ? File.read(full) : nil
  end

  def item(sid)
    @items_after_drive.find { |i| i["session_id"]["S"] == sid }
  end

  def cookie_value(cookie)
    Rack::Utils.unescape(cookie.to_s.delete_prefix("#{RailsAppHelpers::COOKIE}="))
  end

  describe "generators" do
    let(:members) { Aws::SessionStore::DynamoDB::Configuration::MEMBERS.keys }

    it "dynamo_db:session_store_config writes a commented YAML of every option" do
      out = step(:config_generator)[:out]
      expect(out).to match(%r{create\s+config/aws_dynamo_db_session_store\.yml})
      text = @generated[:config]
      members.each { |name| expect(text).to match(/^#\s*#{name}:/), "#{name} missing from the config file" }
      expect(YAML.safe_load(text)).to be_nil # every option commented out: the defaults apply
      expect(text).to include("# table_name: sessions", "# lock_expiry_time: 500", "# serializer: json")
    end

    it "dynamo_db:session_store_config --environment writes the per-environment file" do
      out = step(:config_generator_env)[:out]
      expect(out).to match(%r{create\s+config/aws_dynamo_db_session_store/production\.yml})
      expect(@generated[:config_env]).to include("Generated for the production environment")
    end

    it "dynamo_db:session_store_config --help shows its USAGE" do
      out = step(:config_generator_help)[:out]
      expect(out).to include("rails generate dynamo_db:session_store_config", "--environment",
                             "config/aws_dynamo_db_session_store/production.yml")
    end

    it "dynamo_db:session_store_migration writes a migration calling create_table/delete_table" do
      out = step(:migration_generator)[:out]
      expect(out).to match(%r{create\s+db/migrate/\d{14}_create_dynamo_db_sessions_table\.rb})
      name, text = @generated[:migrations].find { |file, _| file.end_with?("_create_dynamo_db_sessions_table.rb") }
      expect(name).not_to be_nil
      expect(text).to include("class CreateDynamoDbSessionsTable < ActiveRecord::Migration[#{@rails_version.to_f}]",
                              "Aws::SessionStore::DynamoDB::Table.create_table(session_store_options)",
                              "Aws::SessionStore::DynamoDB::Table.delete_table(session_store_options)")
    end

    it "dynamo_db:user_index_migration writes a migration calling add_user_index/remove_user_index" do
      out = step(:index_generator)[:out]
      expect(out).to match(%r{create\s+db/migrate/\d{14}_add_user_index_to_dynamo_db_sessions\.rb})
      _, text = @generated[:migrations].find { |file, _| file.end_with?("_add_user_index_to_dynamo_db_sessions.rb") }
      expect(text).to include("class AddUserIndexToDynamoDbSessions < ActiveRecord::Migration[#{@rails_version.to_f}]",
                              "Aws::SessionStore::DynamoDB::Table.add_user_index(session_store_options)",
                              "Aws::SessionStore::DynamoDB::Table.remove_user_index(session_store_options)")
    end

    it "sessionstore:dynamodb (v0.5) writes a migration and config/sessionstore/dynamodb.yml" do
      out = step(:legacy_generator)[:out]
      expect(out).to match(%r{create\s+db/migrate/\d{14}_sessionstore_migration\.rb})
        .and match(%r{create\s+config/sessionstore/dynamodb\.yml})
      expect(@generated[:migrations].keys.map { |f| f[/\A\d+/] }.uniq.size).to eq(3) # distinct versions
      expect(@generated[:migrations].values.join).to include("class SessionstoreMigration < ActiveRecord::Migration")
      members.each { |name| expect(@generated[:legacy_config]).to match(/^#\s*#{name}:/) }
    end
  end

  describe "db:migrate" do
    it "creates the table named in the config file, with the file's capacity and TTL on expire_at" do
      result = step(:migrate)
      expect(@described["TableStatus"]).to eq("ACTIVE")
      expect(@described["KeySchema"]).to eq([{ "AttributeName" => "session_id", "KeyType" => "HASH" }])
      expect(@described.dig("ProvisionedThroughput", "ReadCapacityUnits")).to eq(7)
      expect(@ttl).to include("TimeToLiveStatus" => "ENABLED", "AttributeName" => "expire_at")
      # The third (dynamo_db:user_index_migration) adds the user index.
      expect(@described["GlobalSecondaryIndexes"])
        .to contain_exactly(include("IndexName" => "user_id-index", "IndexStatus" => "ACTIVE",
                                    "Projection" => { "ProjectionType" => "KEYS_ONLY" }))
      # The second migration (sessionstore:dynamodb) finds it there: a warning.
      expect(result[:err]).to include("already exists")
    end

    it "db:rollback deletes it" do
      step(:rollback)
      expect(@tables_after_rollback).not_to include(@table)
    end
  end

  describe "config.session_store :dynamo_db_store" do
    it "counts through the full Rails stack, with the cookie carried" do
      step(:drive)
      expect(@drive["counts"].map { |r| [r["status"], r["body"]] }).to eq([[200, "1"], [200, "2"], [200, "3"]])
      expect(@drive["session_store"]).to eq("ActionDispatch::Session::DynamoDbStore")
      info = JSON.parse(@drive["info"]["body"])
      expect(info["n"]).to eq(3)
      expect(info["session_class"]).to eq("ActionDispatch::Request::Session")
      expect(info["id"]).to eq(cookie_value(@drive["cookie"]))
      expect(@drive["store_ancestors"]).to include("ActionDispatch::Session::Compatibility",
                                                   "ActionDispatch::Session::StaleSessionCheck",
                                                   "ActionDispatch::Session::SessionObject",
                                                   "Aws::SessionStore::DynamoDB::RackMiddleware")
    end

    it "writes the item in the official format" do
      step(:drive)
      sid = cookie_value(@drive["cookie"])
      expect(sid).to match(/\A\h{32}--\h{32}\z/)
      found = item(sid)
      expect(found).not_to be_nil
      expect(found.keys).to contain_exactly("session_id", "data", "created_at", "updated_at", "expire_at")
      expect(found["data"]).to eq("S" => '{"n":3}')
      expect(found["created_at"]["S"]).to match(/\A\d+\.\d+\z/)
      expect(found["updated_at"]["S"]).to match(/\A\d+\.\d+\z/)
      # max_stale 7200 from config.session_store, not 3000 (ENV) or 3600 (file).
      expect(Integer(found["expire_at"]["N"]) - Time.now.to_i).to be_between(7000, 7200 + 3600)
    end

    it "takes options from config.session_store, then ENV, then the config file; the secret from secret_key_base" do
      step(:drive)
      expect(@drive["config"]).to include(
        "table_name" => @table, "max_stale" => 7200, "max_age" => 86_400, "lock_retry_delay" => 250,
        "read_capacity" => 7, "config_file" => File.join(@dir, "config/aws_dynamo_db_session_store.yml")
      )
      expect(@drive["secret_is_secret_key_base"]).to be(true)
      expect(@drive["no_options_table_name"]).to eq(@table)
    end

    it "keeps store options out of the cookie and the session options" do
      step(:drive)
      set_cookie = @drive["counts"].first["set_cookie"]
      expect(set_cookie).to start_with("#{RailsAppHelpers::COOKIE}=")
      expect(set_cookie.downcase).not_to include("max-age", "expires")
      keys = JSON.parse(@drive["info"]["body"])["option_keys"]
      expect(keys).to include("path", "httponly")
      expect(keys).not_to include("secret_key", "max_stale", "max_age", "table_name", "config_file", "endpoint")
    end

    it "runs on the Rails and Rack of this run" do
      step(:drive)
      expect(@drive["rails_version"]).to eq(@rails_version)
      expect(@drive["rack_version"]).to eq(Rack.release)
    end

    it "round-trips the CSRF token kept in the session, and refuses a forged one" do
      step(:drive)
      accepted, forged = @drive["csrf"]
      expect([accepted["status"], accepted["body"]]).to eq([200, "accepted"])
      expect([forged["status"], forged["body"]]).to eq([422, "forgery"])
    end

    it "carries the flash across a redirect, once" do
      step(:drive)
      set, shown, again = @drive["flash"]
      expect(set["status"]).to eq(302)
      expect(shown["body"]).to eq("saved in the session")
      expect(again["body"]).to eq("")
    end

    it "signs out everywhere else from a controller in one line (user_key as a callable)" do
      step(:revoke)
      expect(parse_json(:revoke)).to eq("before" => %w[42 42], "revoked" => "1", "after" => ["42", ""])
    end

    it "reset_session deletes the item and starts afresh" do
      step(:drive)
      before, reset, after = @drive["reset"]
      expect([before["body"], reset["body"], after["body"]]).to eq(%w[1 reset 1])
      expect(reset["cookie"]).not_to eq(before["cookie"])
      expect(item(cookie_value(before["cookie"]))).to be_nil
      expect(item(cookie_value(after["cookie"]))["data"]).to eq("S" => '{"n":1}')
    end
  end

  describe "session ids (Rack::Session::SessionId) and the cookie's SameSite" do
    let(:secret) { "rails-spec-secret-key-base-#{"s" * 64}" }

    # The storage key under hashed_keys (OpenSSL as the reference).
    def hashed(cookie)
      derived = OpenSSL::HMAC.digest("SHA256", secret, "aws-sessionstore-dynamodb-rs storage key v2")
      OpenSSL::HMAC.hexdigest("SHA256", derived, cookie)
    end

    def same_site(result)
      result["set_cookie"].to_s[/;\s*samesite=(\w+)/i, 1]&.downcase
    end

    def body(result)
      JSON.parse(result["body"])
    end

    # The four reads agree on the cookie's value, a Rack::Session::SessionId
    # whose private_id is Rack's (a SHA-256 digest of the public id).
    def agree(reads, cookie)
      expect(cookie).to match(/\A\h{32}--\h{32}\z/)
      expect(reads.slice("sym", "str", "public_id", "to_s", "option").values.uniq).to eq([cookie])
      expect(reads["classes"]).to eq(["Rack::Session::SessionId"])
      expect(reads["private_id"]).to eq("2::#{Digest::SHA256.hexdigest(cookie)}")
    end

    { drive: false, drive_hashed: true }.each do |name, hashed_keys|
      it "reads the id all four ways before and after reset_session (#{hashed_keys ? "hashed" : "clear"} keys)" do
        step(name)
        drive = name == :drive ? @drive : parse_json(name)
        expect(drive["hashed_keys"]).to be(hashed_keys)
        new, read, count, reset, again = drive["ids"]
        expect([new, read, count, reset, again].map { |r| r["status"] }).to all(eq(200))
        first = cookie_value(new["cookie"])
        expect(body(new)["early"]).to be_nil # no cookie yet
        [new, read, count].each { |r| agree(body(r)["before"], first) }
        expect(body(read)["early"]).to eq(first) # a signed cookie is the id before the load
        agree(body(reset)["before"], first)
        second = cookie_value(reset["cookie"])
        expect(second).not_to eq(first)
        agree(body(reset)["after"], second)
        agree(body(again)["before"], second)
        expect(body(again)["early"]).to eq(second)

        # The items' keys as ever: the cookie, or its HMAC-SHA256.
        keys = name == :drive ? @items_after_drive.map { |i| i["session_id"]["S"] } : @keys_after[name]
        expect(keys).to include(hashed_keys ? hashed(second) : second)
        expect(keys).not_to include(hashed(first), first)
        expect(keys).not_to include(second) if hashed_keys
      end
    end

    it "never takes a forged, malformed or non-UTF-8 cookie as the id: a fresh one, no error page" do
      step(:drive)
      expect(@drive["forged"].size).to eq(3)
      @drive["forged"].each do |result|
        expect(result["status"]).to eq(200), result.inspect
        fresh = cookie_value(result["cookie"])
        expect(fresh).not_to eq(result["presented"])
        expect(body(result)["early"]).to be_nil
        agree(body(result)["before"], fresh)
      end
    end

    it "gets the app's SameSite default (cookies_same_site_protection) unless same_site is given" do
      results = { drive: @drive }
      @id_drives.each_key do |name|
        step(name)
        results[name] = parse_json(name)
      end
      # Every session cookie set: new sessions, resets, fresh ids for forged cookies.
      set = results.transform_values { |drive| (drive["ids"] + drive["forged"]).select { |r| r["set_cookie"] } }
      expect(set.values.map(&:size)).to all(be >= 5)
      seen = set.transform_values { |cookies| cookies.map { |r| same_site(r) }.uniq }
      expect(seen).to eq(
        drive: ["lax"],                 # load_defaults: lax
        drive_hashed: ["strict"],       # config.action_dispatch.cookies_same_site_protection = :strict
        drive_same_site_none: ["none"], # same_site: :none over the app's strict
        drive_same_site_proc: ["strict"] # same_site: a callable, over the app's lax
      )
      expect(same_site(@drive["counts"].first)).to eq("lax")
    end
  end

  describe "config.session_store :dynamodb_store (v0.5)" do
    it "works, reading config/sessionstore/dynamodb.yml, its secret_key first" do
      step(:drive_legacy)
      expect(@drive_legacy["counts"].map { |r| r["body"] }).to eq(%w[1 2])
      expect(@drive_legacy["session_store"]).to eq("ActionDispatch::Session::DynamodbStore")
      expect(@drive_legacy["config"]).to include(
        "table_name" => @table, "config_file" => File.join(@dir, "config/sessionstore/dynamodb.yml")
      )
      expect(@drive_legacy.dig("info", "body")).to include('"n":2')
      expect(@drive_legacy).to include("secret_is_secret_key_base" => false, "secret_key_prefix" => "legacy-file-",
                                       "no_options_table_name" => @table)
    end
  end

  describe "rake tasks" do
    it "rails -T and rake -T list them with descriptions" do
      [step(:rails_tasks)[:out], step(:rake_tasks)[:out]].each do |out|
        expect(out).to match(/dynamo_db:session_store:create_table +# Create the DynamoDB session table/)
          .and match(/dynamo_db:session_store:delete_table +# Delete the DynamoDB session table/)
          .and match(/dynamo_db:session_store:clean +# Delete expired sessions/)
          .and match(/dynamo_db:collect_garbage +# Delete expired sessions/)
          .and match(/dynamo_db:session_store:revoke_user +# End every session of one user/)
          .and match(/dynamo_db:session_store:add_user_index +# Add the user_id index/)
        expect(out).not_to include("rails_options")
      end
    end

    it "rake dynamo_db:collect_garbage uses the app's options (max_stale 7200 from config.session_store)" do
      out = step(:collect_garbage)[:out]
      expect(out).to match(/garbage collection: scanned \d+, deleted 1,/)
      expect(@gc_left).to include("gc-recent")
      expect(@gc_left).not_to include("gc-old")
      expect(@gc_left).to include(cookie_value(@drive["cookie"])) if @drive
    end

    it "rake dynamo_db:session_store:clean runs with the same options and finds nothing left to delete" do
      out = step(:clean)[:out]
      expect(out).to match(/garbage collection: scanned #{@gc_left.size}, deleted 0,/)
    end
  end
end
