# frozen_string_literal: true

# Entry point named after the gem (what Bundler requires).
require_relative "aws/session_store/dynamo_db"
