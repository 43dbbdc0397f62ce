//! `Aws::SessionStore::DynamoDB::Native::Cipher`: the keys of
//! `encrypt_data` (`envelope.rs` does the work). Ruby builds one per
//! configuration (`lib/aws/session_store/dynamo_db/data_cipher.rb`) and
//! never sees a key: `inspect` shows the key ids only.
//!
//! - `Cipher.new(secrets)`: an Array of Strings, current first;
//!   `ConfigurationError` for none, a short one or a repeated one.
//! - `#seal(data, table, key_name, key)` → the stored String.
//! - `#open(data, table, key_name, key)` → `[plaintext, current_key?]`, or
//!   nil for data that is not encrypted; `CorruptSessionError` for data
//!   that does not decrypt.
//! - `#key_ids` → the key ids, current first; `Cipher.key_id(data)` → the
//!   key id of stored data, or nil.
//!
//! A session is at most 400 KB: sealing or opening one takes microseconds,
//! so these run with the GVL held.

use magnus::{function, method, prelude::*, Error, RArray, RModule, RString, Ruby};

use crate::envelope::Keyring;
use crate::error::StoreError;

#[magnus::wrap(
    class = "Aws::SessionStore::DynamoDB::Native::Cipher",
    free_immediately,
    size
)]
pub struct Cipher {
    keys: Keyring,
}

impl Cipher {
    fn new(ruby: &Ruby, secrets: RArray) -> Result<Self, Error> {
        let mut owned = Vec::with_capacity(secrets.len());
        for secret in secrets.into_iter() {
            let secret = RString::from_value(secret).ok_or_else(|| {
                StoreError::Configuration("encryption_keys must be Strings".into()).into_ruby(ruby)
            })?;
            // SAFETY: copied before any other Ruby call, with the GVL held.
            owned.push(unsafe { secret.as_slice() }.to_vec());
        }
        let keys = Keyring::new(&owned)
            .map_err(|message| StoreError::Configuration(message).into_ruby(ruby))?;
        Ok(Cipher { keys })
    }

    fn seal(
        ruby: &Ruby,
        rb_self: &Self,
        data: RString,
        table: String,
        key_name: String,
        key: String,
    ) -> Result<RString, Error> {
        // SAFETY: read before any other Ruby call, with the GVL held.
        let plaintext = unsafe { data.as_slice() };
        let sealed = rb_self
            .keys
            .seal(plaintext, &table, &key_name, &key)
            .map_err(|message| StoreError::Internal(message).into_ruby(ruby))?;
        Ok(ruby.str_new(&sealed))
    }

    fn open(
        ruby: &Ruby,
        rb_self: &Self,
        data: RString,
        table: String,
        key_name: String,
        key: String,
    ) -> Result<Option<(RString, bool)>, Error> {
        // SAFETY: copied out by `open` before any other Ruby call.
        let stored = unsafe { data.as_slice() };
        if !Keyring::is_sealed(stored) {
            return Ok(None);
        }
        let (plaintext, current) = rb_self
            .keys
            .open(stored, &table, &key_name, &key)
            .map_err(|e| StoreError::Corrupt(e.to_string()).into_ruby(ruby))?;
        // The serializers write UTF-8 text; anything else was not ours.
        let text = String::from_utf8(plaintext).map_err(|_| {
            StoreError::Corrupt("Decrypted session data is not UTF-8 text".into()).into_ruby(ruby)
        })?;
        Ok(Some((ruby.str_new(&text), current)))
    }

    fn key_ids(&self) -> Vec<String> {
        self.keys.ids()
    }

    fn key_id(data: RString) -> Option<String> {
        // SAFETY: copied out before any other Ruby call.
        Keyring::key_id(unsafe { data.as_slice() }).map(str::to_string)
    }

    fn inspect(&self) -> String {
        format!(
            "#<Aws::SessionStore::DynamoDB::Native::Cipher key_ids={:?}>",
            self.keys.ids()
        )
    }
}

pub fn init(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Cipher", ruby.class_object())?;
    class.define_singleton_method("new", function!(Cipher::new, 1))?;
    class.define_singleton_method("key_id", function!(Cipher::key_id, 1))?;
    class.define_method("seal", method!(Cipher::seal, 4))?;
    class.define_method("open", method!(Cipher::open, 4))?;
    class.define_method("key_ids", method!(Cipher::key_ids, 0))?;
    class.define_method("inspect", method!(Cipher::inspect, 0))?;
    class.define_method("to_s", method!(Cipher::inspect, 0))?;
    Ok(())
}
