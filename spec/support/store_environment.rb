# frozen_string_literal: true

require "fileutils"
require "tmpdir"
require "aws/session_store/dynamo_db/configuration"

# For the configuration specs: each example starts with none of the store's
# variables in ENV and sees the legacy-name warnings afresh; afterwards ENV
# is back exactly as it was and the example's `tmpdir` is gone.
# `yaml_file` writes a file there.
RSpec.shared_context "with a clean store environment" do
  let(:tmpdir) { Dir.mktmpdir("sessionstore-config") }

  around do |example|
    saved = ENV.to_h
    ENV.each_key { |k| ENV.delete(k) if k.start_with?("AWS_DYNAMO_DB_SESSION_", "DYNAMO_DB_SESSION_") }
    Aws::SessionStore::DynamoDB::Configuration.reset_legacy_env_warnings!
    example.run
  ensure
    ENV.replace(saved)
    Aws::SessionStore::DynamoDB::Configuration.reset_legacy_env_warnings!
    FileUtils.remove_entry(tmpdir) if File.directory?(tmpdir)
  end

  def yaml_file(text, name = "config.yml")
    path = File.join(tmpdir, name)
    File.write(path, text)
    path
  end
end
