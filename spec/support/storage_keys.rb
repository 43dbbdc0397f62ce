# frozen_string_literal: true

require "openssl"

# Cookie values and storage keys as the store makes them, computed with
# OpenSSL as the reference the specs compare the store with.
#
#   include StorageKeys
#   signed("abc")        # "<HMAC-MD5 hex>--abc", the cookie value
#   hashed(cookie)       # the storage key under hashed_keys
#   first_scheme(cookie) # the first hashed scheme's key, still read
module StorageKeys
  # The label the storage-key secret is derived under.
  STORAGE_LABEL = "aws-sessionstore-dynamodb-rs storage key v2"

  def signed(sid, secret = StoreSpecHelpers::SECRET)
    "#{OpenSSL::HMAC.hexdigest("MD5", secret, sid)}--#{sid}"
  end

  # HMAC-SHA256 of the cookie under a key derived from the secret for
  # storage only.
  def hashed(cookie, secret = StoreSpecHelpers::SECRET)
    OpenSSL::HMAC.hexdigest("SHA256", OpenSSL::HMAC.digest("SHA256", secret, STORAGE_LABEL), cookie)
  end

  # The labels of user ids (hashed_keys with user_key) and list handles.
  USER_LABEL = "aws-sessionstore-dynamodb-rs user id v1"
  HANDLE_LABEL = "aws-sessionstore-dynamodb-rs session handle v1"

  # The user_id an item holds for `id` under hashed_keys.
  def hashed_user(id, secret = StoreSpecHelpers::SECRET)
    OpenSSL::HMAC.hexdigest("SHA256", OpenSSL::HMAC.digest("SHA256", secret, USER_LABEL), id.to_s)
  end

  # The handle UserSessions.list shows for the session stored under `key`.
  def handle_of(key, secret = StoreSpecHelpers::SECRET)
    OpenSSL::HMAC.hexdigest("SHA256", OpenSSL::HMAC.digest("SHA256", secret, HANDLE_LABEL), key)
  end

  # The first scheme's key: HMAC-SHA256 directly under the secret.
  def first_scheme(cookie, secret = StoreSpecHelpers::SECRET)
    OpenSSL::HMAC.hexdigest("SHA256", secret, cookie)
  end
end
