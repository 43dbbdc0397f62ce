//! Client options, validated by Ruby (`Configuration#native_client_options`)
//! and checked again here for type only: Ruby owns configuration.

use std::time::Duration;

use magnus::{value::ReprValue, Error, RHash, Ruby, TryConvert, Value};

use crate::error::StoreError;
use crate::ops::connect::ClientOptions;

/// The options Ruby validated (`Configuration#native_client_options`, a
/// frozen Hash), read once; a value of the wrong type is a
/// `ConfigurationError`, never a panic.
pub fn from_hash(ruby: &Ruby, hash: RHash) -> Result<ClientOptions, Error> {
    Ok(ClientOptions {
        region: string(ruby, hash, "region")?,
        endpoint: string(ruby, hash, "endpoint")?,
        access_key_id: string(ruby, hash, "access_key_id")?,
        secret_access_key: string(ruby, hash, "secret_access_key")?,
        session_token: string(ruby, hash, "session_token")?,
        profile: string(ruby, hash, "profile")?,
        connect_timeout: seconds(ruby, hash, "connect_timeout")?,
        operation_timeout: seconds(ruby, hash, "operation_timeout")?,
        max_attempts: match fetch(ruby, hash, "max_attempts") {
            Some(v) => Some(
                u32::try_convert(v)
                    .map_err(|_| bad(ruby, "max_attempts", "a positive Integer"))?
                    .max(1),
            ),
            None => None,
        },
    })
}

fn fetch(ruby: &Ruby, hash: RHash, key: &str) -> Option<Value> {
    hash.get(ruby.to_symbol(key)).filter(|v| !v.is_nil())
}

fn string(ruby: &Ruby, hash: RHash, key: &str) -> Result<Option<String>, Error> {
    match fetch(ruby, hash, key) {
        Some(v) => String::try_convert(v)
            .map(Some)
            .map_err(|_| bad(ruby, key, "a String")),
        None => Ok(None),
    }
}

fn seconds(ruby: &Ruby, hash: RHash, key: &str) -> Result<Option<Duration>, Error> {
    match fetch(ruby, hash, key) {
        Some(v) => {
            let secs = f64::try_convert(v).map_err(|_| bad(ruby, key, "a number of seconds"))?;
            Duration::try_from_secs_f64(secs)
                .map(Some)
                .map_err(|_| bad(ruby, key, "a non-negative number of seconds"))
        }
        None => Ok(None),
    }
}

fn bad(ruby: &Ruby, key: &str, expected: &str) -> Error {
    StoreError::Configuration(format!("option :{key} must be {expected}")).into_ruby(ruby)
}
