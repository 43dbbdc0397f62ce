# frozen_string_literal: true

# The README's options table comes from the option table
# (lib/aws/session_store/dynamo_db/options.rb); spec/unit checks they agree.
namespace :docs do
  desc "Rewrite the README's options table from lib/aws/session_store/dynamo_db/options.rb"
  task :options do
    $LOAD_PATH.unshift File.expand_path("../lib", __dir__)
    require "aws/session_store/dynamo_db/options"
    require "aws/session_store/dynamo_db/configuration"
    readme = File.read("README.md")
    start = readme.index("<!-- options table:")
    stop = readme.index("<!-- end of options table -->")
    abort "README.md: the options table markers are missing" unless start && stop
    head = readme[start...readme.index("\n", start) + 1]
    table = Aws::SessionStore::DynamoDB.options_markdown_table
    File.write("README.md", "#{readme[0...start]}#{head}#{table}\n#{readme[stop..]}")
  end
end
