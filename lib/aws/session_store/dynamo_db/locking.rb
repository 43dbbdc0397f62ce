# frozen_string_literal: true

require_relative "locking/storage_keys"
require_relative "locking/loaded"
require_relative "locking/base"
require_relative "locking/null"
require_relative "locking/pessimistic"
