//! Pessimistic locking, compatible with the official gem's `locked_at`
//! attribute (a timestamp string) but without its races:
//!
//! * acquire: set `locked_at` only if the item exists and is unlocked, and
//!   get the item back in the same call;
//! * an expired lock is taken over with a compare-and-swap on the value we
//!   observed, sent with the type it was read with (v0.5 wrote numbers), so
//!   two waiters can never both win and a numeric lock is not spun on;
//! * a missing item is reported as missing: no stub item is ever created.
//!
//! Waiting is a tokio sleep inside the GVL-free call (`helpers::gvl`): other
//! Ruby threads run meanwhile, and Ruby can interrupt the wait.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::ops::item::{Item, ItemKey};
use crate::ops::schema::LOCKED_AT;
use crate::ops::session;
use crate::ops::stats::send_counted;
use crate::ops::time::{now_f64, parse_seconds};
use crate::ops::update::{refusal, Refusal, Update};

/// The official options, in their official units.
#[derive(Debug, Clone, Copy)]
pub struct LockTiming {
    pub expiry: Duration,
    pub retry_delay: Duration,
    pub max_wait: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Locked {
    /// We hold the lock; `lock` is the `locked_at` value to release with;
    /// `takeover` says why when it was taken from another holder.
    Acquired {
        item: Item,
        lock: String,
        takeover: Option<Takeover>,
    },
    /// No such item: the caller starts a fresh session.
    Missing,
}

/// Why a held lock was taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Stamped longer than `lock_expiry_time` ago.
    Expired,
    /// Stamped more than `lock_expiry_time` in the future (a clock running
    /// ahead, or a planted value): it would otherwise hold until then.
    Future,
    /// Not a time at all: its writer could never release it.
    Unreadable,
}

/// A `locked_at` value unique to this holder: the time with microseconds,
/// as the official gem writes it, followed by random low-order digits. It
/// still reads as the same time (`"1795303103.393567"` →
/// `"1795303103.393567" + "482913077"`), and a retried acquire whose first
/// answer was lost recognises its own lock.
pub fn lock_value() -> String {
    format!("{:.6}{:09}", now_f64(), fastrand::u32(..1_000_000_000))
}

/// How the conditional write went.
enum Attempt {
    Acquired(Item),
    /// Refused; the item as it was (None: it does not exist).
    Refused(Option<Item>),
}

async fn conditional_lock(
    client: &Client,
    key: &ItemKey,
    lock: &str,
    observed: Option<&AttributeValue>,
) -> Result<Attempt, StoreError> {
    let mut update = Update::new();
    update
        .set("l", LOCKED_AT, AttributeValue::S(lock.to_string()))
        .name("k", &key.key_name)
        .require("attribute_exists(#k)");
    match observed {
        None => update.require("attribute_not_exists(#l)"),
        Some(old) => update.require("#l = :old").value("old", old.clone()),
    };
    let request = update
        .request(client, key)
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    match send_counted!(request, &key.stats) {
        Ok(out) => Ok(Attempt::Acquired(out.attributes.unwrap_or_default())),
        Err(err) => match refusal(&err) {
            Refusal::RefusedWith(old) => Ok(Attempt::Refused(Some(old))),
            Refusal::Refused => Ok(Attempt::Refused(None)),
            Refusal::NotConditional => Err(StoreError::from_sdk(err)),
        },
    }
}

/// Acquires the lock on `key`, waiting up to `timing.max_wait`.
pub async fn acquire(
    client: &Client,
    key: &ItemKey,
    consistent: bool,
    timing: LockTiming,
) -> Result<Locked, StoreError> {
    let started = Instant::now();
    let mut observed: Option<AttributeValue> = None;
    let mut takeover: Option<Takeover> = None;
    // Whether the last refusal already earned an immediate retry: a lock
    // released or expired is tried again at once, but only once in a row,
    // so no path can spin.
    let mut retried_at_once = false;
    loop {
        let lock = lock_value();
        let old = match conditional_lock(client, key, &lock, observed.as_ref()).await? {
            Attempt::Acquired(item) => {
                return Ok(Locked::Acquired {
                    item,
                    lock,
                    takeover: observed.as_ref().and(takeover),
                })
            }
            Attempt::Refused(Some(old)) => old,
            // Servers that don't return the old item: look it up.
            Attempt::Refused(None) => match session::get(client, key, consistent).await? {
                Some(old) => old,
                None => return Ok(Locked::Missing),
            },
        };
        let tried = observed.take();
        let at_once = match old.get(LOCKED_AT) {
            // Our own lock: an earlier attempt of this call landed and its
            // answer was lost, then the SDK retried.
            Some(AttributeValue::S(held)) if *held == lock => {
                return Ok(Locked::Acquired {
                    item: old,
                    lock,
                    takeover: tried.as_ref().and(takeover),
                });
            }
            // Released between our write and now.
            None => true,
            // Expired, and not the value a takeover just failed on: take
            // over exactly this lock, nobody else's.
            Some(value) if tried.as_ref() != Some(value) => match stale(value, timing.expiry) {
                Some(why) => {
                    observed = Some(value.clone());
                    takeover = Some(why);
                    true
                }
                None => false,
            },
            Some(_) => false,
        };
        // A lock seen released or expired is tried again at once, even at
        // the deadline: the attempt costs no wait, and the deadline's last
        // attempt may be the one that finds the lock expired.
        if at_once && !retried_at_once {
            retried_at_once = true;
            continue;
        }
        let waited = started.elapsed();
        if waited >= timing.max_wait {
            return Err(StoreError::LockWaitTimeout {
                waited_ms: waited.as_millis() as u64,
            });
        }
        retried_at_once = false;
        // The last attempt happens at the deadline, not before.
        let pause = jitter(timing.retry_delay).min(timing.max_wait - waited);
        tokio::time::sleep(pause).await;
    }
}

/// Why a `locked_at` value may be taken over, or None while it holds: older
/// than `expiry`, or more than `expiry` in the future. The official gem
/// writes S, v0.5 wrote N; a value that is no time at all can never be
/// released by its writer, so it is stale too.
fn stale(value: &AttributeValue, expiry: Duration) -> Option<Takeover> {
    let at = match value {
        AttributeValue::S(s) | AttributeValue::N(s) => parse_seconds(s),
        _ => None,
    };
    let Some(at) = at else {
        return Some(Takeover::Unreadable);
    };
    let age_ms = (now_f64() - at) * 1000.0;
    let limit = expiry.as_millis() as f64;
    if age_ms > limit {
        Some(Takeover::Expired)
    } else if -age_ms > limit {
        Some(Takeover::Future)
    } else {
        None
    }
}

/// Removes our lock without saving (the app raised). A lock that is no
/// longer ours, or a deleted item, is left alone.
pub async fn release(client: &Client, key: &ItemKey, lock: String) -> Result<bool, StoreError> {
    let request = Update::new()
        .remove("l", LOCKED_AT)
        .require_equal("l", LOCKED_AT, AttributeValue::S(lock))
        .request(client, key);
    match send_counted!(request, &key.stats) {
        Ok(_) => Ok(true),
        Err(err) if refusal(&err).is_conditional() => Ok(false),
        Err(err) => Err(StoreError::from_sdk(err)),
    }
}

/// ±20% around the retry delay, so waiters don't retry in lockstep.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(0.8 + fastrand::f64() * 0.4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::time::ruby_float_string;

    #[test]
    fn lock_values_are_unique_and_read_as_now() {
        let a = lock_value();
        let b = lock_value();
        assert_ne!(a, b);
        let at = parse_seconds(&a).expect("parses");
        assert!((at - now_f64()).abs() < 5.0, "{a}");
    }

    #[test]
    fn expiry_compares_age_with_the_limit_for_every_type() {
        let limit = Duration::from_millis(500);
        let old = ruby_float_string(now_f64() - 2.0);
        assert!(stale(&AttributeValue::S(old.clone()), limit).is_some());
        assert!(stale(&AttributeValue::N(old), limit).is_some());
        let fresh = ruby_float_string(now_f64());
        assert!(stale(&AttributeValue::S(fresh.clone()), limit).is_none());
        assert!(stale(&AttributeValue::N(fresh), limit).is_none());
        assert!(stale(&AttributeValue::S("garbage".into()), limit).is_some());
        assert!(stale(&AttributeValue::Bool(true), limit).is_some());
    }

    #[test]
    fn a_lock_stamped_beyond_the_expiry_in_the_future_is_stale() {
        let limit = Duration::from_millis(500);
        let ahead = ruby_float_string(now_f64() + 60.0);
        assert_eq!(
            stale(&AttributeValue::S(ahead), limit),
            Some(Takeover::Future)
        );
        let slightly = ruby_float_string(now_f64() + 0.1);
        assert_eq!(stale(&AttributeValue::S(slightly), limit), None);
        let old = ruby_float_string(now_f64() - 60.0);
        assert_eq!(
            stale(&AttributeValue::N(old), limit),
            Some(Takeover::Expired)
        );
        assert_eq!(
            stale(&AttributeValue::S("x".into()), limit),
            Some(Takeover::Unreadable)
        );
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for _ in 0..1000 {
            let d = jitter(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(80) && d <= Duration::from_millis(120),
                "{d:?}"
            );
        }
    }
}
