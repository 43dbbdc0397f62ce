//! Pessimistic locking, compatible with the official gem's `locked_at`
//! attribute (a timestamp string) but without its races:
//!
//! * acquire: set `locked_at` only if the item exists and is unlocked, and
//!   get the item back in the same call;
//! * an expired lock is taken over with a compare-and-swap on the value we
//!   observed, so two waiters can never both win;
//! * a missing item is reported as missing: no stub item is ever created.
//!
//! All waiting happens with the GVL released (`Interrupt::sleep`): Ruby
//! threads run, and Ruby can interrupt the wait.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use std::time::Instant;

use crate::error::StoreError;
use crate::item::Item;
use crate::ops::interrupt::Interrupt;
use crate::ops::session::{self, ItemKey};
use crate::ops::time::{now_f64, parse_seconds, ruby_float_string};
use crate::ops::wire::{item_from_json, Answer, WireClient};

pub const LOCK_ATTRIBUTE: &str = "locked_at";

/// The official options, in their official units.
#[derive(Debug, Clone, Copy)]
pub struct LockTiming {
    pub expiry: Duration,
    pub retry_delay: Duration,
    pub max_wait: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Locked {
    /// We hold the lock; `lock` is the `locked_at` value to release with.
    Acquired { item: Item, lock: String },
    /// No such item: the caller starts a fresh session.
    Missing,
}

/// A `locked_at` value unique within this process (strictly increasing
/// microseconds), in the `Time.now.to_f.to_s` form the official gem writes.
pub fn lock_value() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = (now_f64() * 1_000_000.0) as u64;
    let mut prev = LAST.load(Ordering::Relaxed);
    let micros = loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(actual) => prev = actual,
        }
    };
    ruby_float_string(micros as f64 / 1_000_000.0)
}

/// How the conditional write went.
enum Attempt {
    Acquired(Item),
    /// Refused; the item as it was (None: it does not exist).
    Refused(Option<Item>),
}

fn conditional_lock(
    client: &WireClient,
    key: &ItemKey,
    lock: &str,
    observed: Option<&str>,
    interrupt: &Interrupt,
) -> Result<Attempt, StoreError> {
    let mut body = key.request();
    let mut values = json!({ ":l": { "S": lock } });
    let condition = match observed {
        None => "attribute_exists(#k) AND attribute_not_exists(#l)",
        Some(old) => {
            values[":old"] = json!({ "S": old });
            "attribute_exists(#k) AND #l = :old"
        }
    };
    body.insert("UpdateExpression".into(), json!("SET #l = :l"));
    body.insert("ConditionExpression".into(), json!(condition));
    body.insert(
        "ExpressionAttributeNames".into(),
        json!({ "#k": key.key_name, "#l": LOCK_ATTRIBUTE }),
    );
    body.insert("ExpressionAttributeValues".into(), values);
    body.insert("ReturnValues".into(), json!("ALL_NEW"));
    body.insert(
        "ReturnValuesOnConditionCheckFailure".into(),
        json!("ALL_OLD"),
    );
    match client.call("UpdateItem", &Value::Object(body), interrupt)? {
        Answer::Ok(out) => Ok(Attempt::Acquired(
            out.get("Attributes")
                .and_then(item_from_json)
                .unwrap_or_default(),
        )),
        Answer::ConditionFailed(old) => Ok(Attempt::Refused(old)),
    }
}

/// Acquires the lock on `key`, waiting up to `timing.max_wait`.
pub fn acquire(
    client: &WireClient,
    key: &ItemKey,
    consistent: bool,
    timing: LockTiming,
    interrupt: &Interrupt,
) -> Result<Locked, StoreError> {
    let started = Instant::now();
    let mut observed: Option<String> = None;
    let mut jitter = Jitter::new();
    loop {
        let lock = lock_value();
        let old = match conditional_lock(client, key, &lock, observed.as_deref(), interrupt)? {
            Attempt::Acquired(item) => return Ok(Locked::Acquired { item, lock }),
            Attempt::Refused(Some(old)) => old,
            // Servers that don't return the old item: look it up.
            Attempt::Refused(None) => match session::get(client, key, consistent, interrupt)? {
                Some(old) => old,
                None => return Ok(Locked::Missing),
            },
        };
        observed = match old.get(LOCK_ATTRIBUTE) {
            // Released between our write and now: try again at once.
            None => None,
            Some(value) => {
                let text = lock_text(value);
                if lock_expired(text.as_deref(), timing.expiry) {
                    // Take over exactly this expired lock, nobody else's.
                    Some(text.unwrap_or_default())
                } else {
                    let waited = started.elapsed();
                    if waited >= timing.max_wait {
                        return Err(StoreError::LockWaitTimeout {
                            waited_ms: waited.as_millis() as u64,
                        });
                    }
                    // The last attempt happens at the deadline, not before.
                    let pause = jitter
                        .around(timing.retry_delay)
                        .min(timing.max_wait - waited);
                    interrupt.sleep(pause)?;
                    None
                }
            }
        };
    }
}

/// The text of a `locked_at` value (the official gem writes S; older
/// versions N).
fn lock_text(value: &AttributeValue) -> Option<String> {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => Some(s.clone()),
        _ => None,
    }
}

fn lock_expired(text: Option<&str>, expiry: Duration) -> bool {
    match text.and_then(parse_seconds) {
        Some(at) => (now_f64() - at) * 1000.0 > expiry.as_millis() as f64,
        // Unreadable lock value: nobody can release it, treat as expired.
        None => true,
    }
}

/// Removes our lock without saving (the app raised). A lock that is no
/// longer ours, or a deleted item, is left alone.
pub fn release(
    client: &WireClient,
    key: &ItemKey,
    lock: &str,
    interrupt: &Interrupt,
) -> Result<bool, StoreError> {
    let mut body = key.request();
    body.insert("UpdateExpression".into(), json!("REMOVE #l"));
    body.insert("ConditionExpression".into(), json!("#l = :l"));
    body.insert(
        "ExpressionAttributeNames".into(),
        json!({ "#l": LOCK_ATTRIBUTE }),
    );
    body.insert(
        "ExpressionAttributeValues".into(),
        json!({ ":l": { "S": lock } }),
    );
    match client.call("UpdateItem", &Value::Object(body), interrupt)? {
        Answer::Ok(_) => Ok(true),
        Answer::ConditionFailed(_) => Ok(false),
    }
}

/// ±20% around the retry delay, so waiters don't retry in lockstep.
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(lock_value().len() as u64);
        Jitter(hasher.finish() | 1)
    }

    fn around(&mut self, delay: Duration) -> Duration {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let factor = 0.8 + (self.0 % 1000) as f64 / 2500.0;
        delay.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_values_are_unique_and_parse() {
        let a = lock_value();
        let b = lock_value();
        assert_ne!(a, b);
        assert!(parse_seconds(&a).unwrap() < parse_seconds(&b).unwrap());
    }

    #[test]
    fn expiry_compares_age_with_the_limit() {
        let old = ruby_float_string(now_f64() - 2.0);
        assert!(lock_expired(Some(&old), Duration::from_millis(500)));
        let fresh = ruby_float_string(now_f64());
        assert!(!lock_expired(Some(&fresh), Duration::from_millis(500)));
        assert!(lock_expired(Some("garbage"), Duration::from_millis(500)));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut j = Jitter::new();
        for _ in 0..1000 {
            let d = j.around(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(80) && d <= Duration::from_millis(120),
                "{d:?}"
            );
        }
    }
}
