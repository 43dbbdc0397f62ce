# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      # The gem's version; the only place it is written.
      VERSION = "0.1.0"
    end
  end
end
