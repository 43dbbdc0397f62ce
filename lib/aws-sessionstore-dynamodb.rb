# frozen_string_literal: true

# The official gem's entry point, so `require "aws-sessionstore-dynamodb"`
# keeps working after swapping the Gemfile line.
require_relative "aws/session_store/dynamo_db"
