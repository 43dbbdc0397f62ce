//! What Ruby gets back from the client's methods, built in one place once
//! the GVL is back: `Answer`, the one conversion of every `ops` outcome
//! (the outcomes Ruby sees as Symbols named in one table), the
//! `[result, stats]` pair of an instrumented item call, garbage
//! collection's counters, a table's description.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use magnus::{prelude::*, Error, Exception, IntoValue, RArray, RHash, Ruby, Value};

use crate::error::StoreError;
use crate::ops::gc::GcProgress;
use crate::ops::item::Item;
use crate::ops::lock::{Locked, Takeover};
use crate::ops::session::{Moved, Saved};
use crate::ops::stats::CallStats;
use crate::ops::table::{Created, Deleted, Description};
use crate::ops::users::Revoked;
use crate::ruby_api::item;

/// An `ops` outcome as the Ruby value a method returns.
pub(super) trait Answer {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error>;
}

/// The outcomes Ruby receives as Symbols: each variant's name, once, and
/// after a `;` the variants that are errors instead (raised as Ruby
/// exceptions).
macro_rules! symbols {
    ($($outcome:ident {
        $($variant:ident => $name:literal),+
        $(; $($failed:ident => $error:expr),+)? $(,)?
    })+) => {$(
        impl Answer for $outcome {
            fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
                let name = match self {
                    $($outcome::$variant => $name,)+
                    $($($outcome::$failed => return Err($error.into_ruby(ruby)),)+)?
                };
                Ok(ruby.to_symbol(name).as_value())
            }
        }
    )+};
}

symbols! {
    Created { Created => "created", AlreadyExisted => "exists" }
    Deleted { Deleted => "deleted", Missing => "missing" }
    // Why `lock_session` took a lock from another holder.
    Takeover { Expired => "expired", Future => "future", Unreadable => "unreadable" }
    Revoked { Deleted => "deleted", Gone => "gone", NotTheirs => "not_theirs" }
    Moved {
        Moved => "moved", SourceGone => "source_gone", Refused => "refused";
        LockLost => StoreError::LockLost
    }
}

/// `save_session`: true when written, false when the condition refused it;
/// a lost lock raises `LockLostError`.
impl Answer for Saved {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        match self {
            Saved::Written => true.answer(ruby),
            Saved::ConditionFailed => false.answer(ruby),
            Saved::LockLost => Err(StoreError::LockLost.into_ruby(ruby)),
        }
    }
}

/// `lock_session`: `[item, lock, takeover]`, or nil when there is no item.
impl Answer for Locked {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        match self {
            Locked::Acquired {
                item,
                lock,
                takeover,
            } => Ok(ruby
                .ary_new_from_values(&[
                    item.answer(ruby)?,
                    lock.into_value_with(ruby),
                    takeover.answer(ruby)?,
                ])
                .as_value()),
            Locked::Missing => ().answer(ruby),
        }
    }
}

/// An item's attributes as a Hash (`get_item`: or nil, as `Option`).
impl Answer for Item {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        Ok(item::to_ruby(ruby, self)?.as_value())
    }
}

/// The value, or nil.
impl<T: Answer> Answer for Option<T> {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        match self {
            Some(value) => value.answer(ruby),
            None => ().answer(ruby),
        }
    }
}

impl Answer for bool {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        Ok(self.into_value_with(ruby))
    }
}

/// nil.
impl Answer for () {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        Ok(ruby.qnil().as_value())
    }
}

/// `user_session_keys`: `[[storage_key, added_at], ...]`.
impl Answer for Vec<(String, i64)> {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        let list = ruby.ary_new_capa(self.len());
        for (key, added_at) in self {
            list.push((key, added_at))?;
        }
        Ok(list.as_value())
    }
}

/// `user_index_keys`: the storage keys, an Array of Strings.
impl Answer for Vec<String> {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        Ok(ruby.ary_from_vec(self).as_value())
    }
}

/// `session_summaries`: an Array of attribute Hashes.
impl Answer for Vec<Item> {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        let list = ruby.ary_new_capa(self.len());
        for found in self {
            list.push(item::to_ruby(ruby, found)?)?;
        }
        Ok(list.as_value())
    }
}

/// `scan_page`: `[items, next_key]`, each item's S and N values as
/// `[type, text]`, the next page's start key (its S values) or nil.
impl Answer for (Vec<Item>, Option<Item>) {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        let (items, next) = self;
        let list = ruby.ary_new_capa(items.len());
        for found in items {
            list.push(item::to_ruby_typed(ruby, found)?)?;
        }
        let next = match next {
            Some(key) => {
                let hash = ruby.hash_new();
                for (name, value) in key {
                    if let AttributeValue::S(text) = value {
                        hash.aset(name, text)?;
                    }
                }
                hash.as_value()
            }
            None => ruby.qnil().as_value(),
        };
        Ok(ruby
            .ary_new_from_values(&[list.as_value(), next])
            .as_value())
    }
}

/// `describe_table`.
impl Answer for Description {
    fn answer(self, ruby: &Ruby) -> Result<Value, Error> {
        description(ruby, self).map(|hash| hash.as_value())
    }
}

/// The call's result, or `[result, stats]` when the request asked for
/// stats (`instrument: true`): DynamoDB calls, HTTP attempts, retries and
/// consumed capacity units.
pub(super) fn with_stats(
    ruby: &Ruby,
    value: Value,
    stats: &Option<Arc<CallStats>>,
) -> Result<Value, Error> {
    let Some(stats) = stats else {
        return Ok(value);
    };
    let hash = ruby.hash_new();
    hash.aset(ruby.to_symbol("calls"), stats.calls.load(Ordering::Relaxed))?;
    hash.aset(
        ruby.to_symbol("attempts"),
        stats.attempts.load(Ordering::Relaxed),
    )?;
    hash.aset(ruby.to_symbol("retries"), stats.retries())?;
    hash.aset(ruby.to_symbol("consumed_capacity"), stats.capacity.units())?;
    hash.aset(ruby.to_symbol("operations"), operations(ruby, stats)?)?;
    Ok(ruby
        .ary_new_from_values(&[value, hash.as_value()])
        .as_value())
}

/// A failed call's exception, carrying the call's operations (when it
/// asked for stats) in `@native_operations`, so its spans show the failure.
pub(super) fn with_operations(ruby: &Ruby, error: Error, stats: &Option<Arc<CallStats>>) -> Error {
    let (Some(stats), Some(exception)) = (stats, error.value().and_then(Exception::from_value))
    else {
        return error;
    };
    if let Ok(list) = operations(ruby, stats) {
        let _: Result<Value, Error> =
            exception.funcall("instance_variable_set", ("@native_operations", list));
    }
    error
}

/// Each DynamoDB operation of the call, for its span: `[name, started_ns,
/// duration_ns, attempts, capacity or nil, error code or nil]`.
pub(super) fn operations(ruby: &Ruby, stats: &CallStats) -> Result<RArray, Error> {
    let kept = stats.operations();
    let list = ruby.ary_new_capa(kept.len());
    for op in kept {
        list.push((
            op.name,
            op.started_ns,
            op.duration_ns,
            op.attempts,
            op.capacity,
            op.error,
        ))?;
    }
    Ok(list)
}

/// Garbage collection's counters: `scanned`, `matched`, `deleted`,
/// `elapsed` (seconds since `started`), `consumed_capacity`, `dry_run`.
pub(super) fn gc_stats(
    ruby: &Ruby,
    counters: &GcProgress,
    started: Instant,
    dry_run: bool,
) -> Result<RHash, Error> {
    let hash = ruby.hash_new();
    hash.aset(
        ruby.to_symbol("scanned"),
        counters.scanned.load(Ordering::Relaxed),
    )?;
    hash.aset(
        ruby.to_symbol("matched"),
        counters.matched.load(Ordering::Relaxed),
    )?;
    hash.aset(
        ruby.to_symbol("deleted"),
        counters.deleted.load(Ordering::Relaxed),
    )?;
    hash.aset(ruby.to_symbol("elapsed"), started.elapsed().as_secs_f64())?;
    hash.aset(
        ruby.to_symbol("consumed_capacity"),
        counters.capacity.units(),
    )?;
    hash.aset(ruby.to_symbol("dry_run"), dry_run)?;
    Ok(hash)
}

/// A table's description: `status`, `item_count`, `size_bytes`,
/// `billing_mode`, `key_name`, `ttl_status`, `ttl_attribute`,
/// `user_index` (its status, or nil).
fn description(ruby: &Ruby, d: Description) -> Result<RHash, Error> {
    let hash = ruby.hash_new();
    hash.aset(ruby.to_symbol("status"), d.status)?;
    hash.aset(ruby.to_symbol("item_count"), d.item_count)?;
    hash.aset(ruby.to_symbol("size_bytes"), d.size_bytes)?;
    hash.aset(ruby.to_symbol("billing_mode"), d.billing_mode)?;
    hash.aset(ruby.to_symbol("key_name"), d.key_name)?;
    hash.aset(ruby.to_symbol("ttl_status"), d.ttl_status)?;
    hash.aset(ruby.to_symbol("ttl_attribute"), d.ttl_attribute)?;
    hash.aset(ruby.to_symbol("user_index"), d.user_index)?;
    Ok(hash)
}
