# frozen_string_literal: true

require_relative "locking/base"
require_relative "locking/null"
require_relative "locking/pessimistic"
