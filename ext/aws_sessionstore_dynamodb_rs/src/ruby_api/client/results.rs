//! The Ruby values the client's methods return besides plain ones, built
//! in one place once the GVL is back: the `[result, stats]` pair of an
//! instrumented item call, garbage collection's counters, a table's
//! description.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use magnus::{prelude::*, Error, RHash, Ruby, Value};

use crate::ops::gc::GcProgress;
use crate::ops::stats::CallStats;
use crate::ops::table::Description;

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
    Ok(ruby
        .ary_new_from_values(&[value, hash.as_value()])
        .as_value())
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
/// `billing_mode`, `key_name`, `ttl_status`, `ttl_attribute`.
pub(super) fn description(ruby: &Ruby, d: Description) -> Result<RHash, Error> {
    let hash = ruby.hash_new();
    hash.aset(ruby.to_symbol("status"), d.status)?;
    hash.aset(ruby.to_symbol("item_count"), d.item_count)?;
    hash.aset(ruby.to_symbol("size_bytes"), d.size_bytes)?;
    hash.aset(ruby.to_symbol("billing_mode"), d.billing_mode)?;
    hash.aset(ruby.to_symbol("key_name"), d.key_name)?;
    hash.aset(ruby.to_symbol("ttl_status"), d.ttl_status)?;
    hash.aset(ruby.to_symbol("ttl_attribute"), d.ttl_attribute)?;
    Ok(hash)
}
