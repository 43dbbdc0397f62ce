//! `Native.sid_digest(secret, id)`: the HMAC-MD5 (hex) that signs a session
//! id in the cookie, `"<digest>--<id>"`, as the official gem computes it
//! with `OpenSSL::HMAC.hexdigest("MD5", secret, id)`. Computed here so that
//! loading the store does not load OpenSSL, and so a request does not pay
//! OpenSSL 3's per-call digest lookup.
//!
//! `Native.storage_key(secret, cookie)`: with `hashed_keys`, the item's key,
//! HMAC-SHA256 (hex) of the cookie's value under a key derived from the
//! secret for this one use (HMAC-SHA256 of a fixed label under the secret),
//! so a table dump holds no value that works as a cookie, and the secret
//! that signs cookies is never used directly as a storage key.
//!
//! `Native.user_key(secret, user_id)`: with `hashed_keys` and `user_key`,
//! the `user_id` a session item holds, HMAC-SHA256 (hex) of the user's id
//! under a key derived from the secret with a label of its own, so a table
//! dump holds no user ids. `Native.session_handle(secret, storage_key)`:
//! what `UserSessions.list` shows for a session, the same under a third
//! label: it names a session without being its cookie or its key.
//!
//! `Native.legacy_storage_key(secret, cookie)`: the first scheme, HMAC-SHA256
//! of the cookie directly under the secret. Sessions stored that way are
//! still read and moved to the current key.

use hmac::digest::InvalidLength;
use hmac::{Hmac, KeyInit, Mac};
use magnus::{function, Error, RModule, RString, Ruby};
use md5::Md5;
use sha2::Sha256;

use crate::error::StoreError;

type HmacMd5 = Hmac<Md5>;
type HmacSha256 = Hmac<Sha256>;

pub fn init(_ruby: &Ruby, native: RModule) -> Result<(), Error> {
    native.define_module_function("sid_digest", function!(sid_digest, 2))?;
    native.define_module_function("storage_key", function!(storage_key, 2))?;
    native.define_module_function("legacy_storage_key", function!(legacy_storage_key, 2))?;
    native.define_module_function("user_key", function!(user_key, 2))?;
    native.define_module_function("session_handle", function!(session_handle, 2))
}

/// The label of the key derived from the secret for storage keys; a new
/// scheme gets a new label.
const STORAGE_KEY_LABEL: &[u8] = b"aws-sessionstore-dynamodb-rs storage key v2";

fn storage_key(ruby: &Ruby, secret: RString, id: RString) -> Result<String, Error> {
    hex_digest(ruby, secret, id, "HMAC-SHA256", |secret, id| {
        hmac_sha256(secret, STORAGE_KEY_LABEL).and_then(|derived| hmac_sha256(&derived, id))
    })
}

/// The labels of the keys derived for user ids and session handles.
const USER_KEY_LABEL: &[u8] = b"aws-sessionstore-dynamodb-rs user id v1";
const HANDLE_LABEL: &[u8] = b"aws-sessionstore-dynamodb-rs session handle v1";

fn user_key(ruby: &Ruby, secret: RString, user: RString) -> Result<String, Error> {
    hex_digest(ruby, secret, user, "HMAC-SHA256", |secret, user| {
        hmac_sha256(secret, USER_KEY_LABEL).and_then(|derived| hmac_sha256(&derived, user))
    })
}

fn session_handle(ruby: &Ruby, secret: RString, key: RString) -> Result<String, Error> {
    hex_digest(ruby, secret, key, "HMAC-SHA256", |secret, key| {
        hmac_sha256(secret, HANDLE_LABEL).and_then(|derived| hmac_sha256(&derived, key))
    })
}

fn legacy_storage_key(ruby: &Ruby, secret: RString, id: RString) -> Result<String, Error> {
    hex_digest(ruby, secret, id, "HMAC-SHA256", hmac_sha256)
}

fn sid_digest(ruby: &Ruby, secret: RString, id: RString) -> Result<String, Error> {
    hex_digest(ruby, secret, id, "HMAC-MD5", hmac_md5)
}

/// `digest(secret, id)` in hex, reading both Ruby strings in place; an
/// error names the digest.
fn hex_digest<const N: usize>(
    ruby: &Ruby,
    secret: RString,
    id: RString,
    name: &str,
    digest: impl FnOnce(&[u8], &[u8]) -> Result<[u8; N], InvalidLength>,
) -> Result<String, Error> {
    // SAFETY: the slices are read before any other Ruby call, with the GVL
    // held, so neither string can change or move meanwhile.
    let (secret, id) = unsafe { (secret.as_slice(), id.as_slice()) };
    digest(secret, id)
        .map(hex::encode)
        .map_err(|e| StoreError::Internal(format!("{name}: {e}")).into_ruby(ruby))
}

/// HMAC-SHA256 (RFC 2104 over SHA-256); like HMAC-MD5, any key length.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32], InvalidLength> {
    Ok(mac::<HmacSha256>(key, data)?.into())
}

/// HMAC-MD5 (RFC 2104); the `hmac` crate takes a key of any length (a key
/// longer than a block is hashed first), so this never fails in practice.
pub fn hmac_md5(key: &[u8], data: &[u8]) -> Result<[u8; 16], InvalidLength> {
    Ok(mac::<HmacMd5>(key, data)?.into())
}

fn mac<M: Mac + KeyInit>(
    key: &[u8],
    data: &[u8],
) -> Result<hmac::digest::Output<M>, InvalidLength> {
    let mut mac = <M as KeyInit>::new_from_slice(key)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::hmac_md5;

    #[test]
    fn rfc_2202_vectors() {
        // RFC 2202, test cases 1, 2 and 6 (an 80-byte key).
        assert_eq!(
            hex::encode(hmac_md5(&[0x0b; 16], b"Hi There").unwrap()),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hex::encode(hmac_md5(b"Jefe", b"what do ya want for nothing?").unwrap()),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hex::encode(
                hmac_md5(
                    &[0xaa; 80],
                    b"Test Using Larger Than Block-Size Key - Hash Key First"
                )
                .unwrap()
            ),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"
        );
    }
}
