//! Garbage collection: a parallel scan whose filter matches every timestamp
//! form any gem version wrote (S since v3, N before), returning keys only,
//! then BatchWriteItem deletes of 25 with UnprocessedItems retried.
//!
//! Each segment holds one scan page of keys at a time, and sends its delete
//! batches concurrently while it scans on: `DELETES_IN_FLIGHT` (32) batches
//! in flight at most, for the whole run. A stop flag is checked before each batch is sent, so an
//! interrupted run sends no new batch and lets the ones in flight finish.
//! Counters are atomics read by Ruby for progress.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, ReturnConsumedCapacity, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::StoreError;
use crate::ops::schema::{CREATED_AT, LOCKED_AT, UPDATED_AT, USER_RECORD_PREFIX};
use crate::ops::stats::{send_counted, CallStats, Capacity};
use crate::ops::time::{now_f64, ruby_float_string};

/// DynamoDB's BatchWriteItem limit.
pub const BATCH_SIZE: usize = 25;
const MAX_BATCH_ATTEMPTS: u32 = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const MAX_PACE: Duration = Duration::from_secs(86_400);
/// Delete batches in flight at once, across segments.
const DELETES_IN_FLIGHT: usize = 32;

#[derive(Debug, Clone)]
pub struct GcSpec {
    pub table: String,
    pub key_name: String,
    /// Seconds: garbage when `created_at` is older.
    pub max_age: Option<f64>,
    /// Seconds: garbage when `updated_at` is older.
    pub max_stale: Option<f64>,
    pub segments: u32,
    /// Pause before each scan page and each batch, per segment.
    pub operation_delay: Duration,
    /// Deletes per second across all segments; None for no limit.
    pub max_deletes_per_second: Option<f64>,
    pub dry_run: bool,
}

/// Live counters, shared with Ruby for progress and the final result.
#[derive(Debug, Default)]
pub struct GcProgress {
    pub scanned: AtomicU64,
    pub matched: AtomicU64,
    pub deleted: AtomicU64,
    /// Consumed capacity units, summed over scans and deletes.
    pub capacity: Capacity,
    pub stop: AtomicBool,
    /// Each Scan and BatchWriteItem, for the run's trace spans.
    pub calls: Arc<CallStats>,
}

impl GcProgress {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The scan filter and its values for the given cut-off times.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

/// Builds the filter, or None when neither limit is set (then nothing is
/// garbage: the official v0.5 deleted every session in that case).
pub fn filter(
    key_name: &str,
    max_age: Option<f64>,
    max_stale: Option<f64>,
    now: f64,
) -> Option<Filter> {
    let mut names = HashMap::from([("#k".to_string(), key_name.to_string())]);
    let mut values = HashMap::from([
        (":S".to_string(), AttributeValue::S("S".into())),
        (":N".to_string(), AttributeValue::S("N".into())),
    ]);
    let mut clauses = Vec::new();
    // A timestamp older than the cut-off, as S (compares as text: same
    // number of integer digits until the year 2286) or as N.
    let mut older = |attr: &str, name: &str, value: &str, cutoff: f64| {
        names.insert(name.to_string(), attr.to_string());
        values.insert(
            format!("{value}s"),
            AttributeValue::S(ruby_float_string(cutoff)),
        );
        values.insert(
            format!("{value}n"),
            AttributeValue::N(ruby_float_string(cutoff)),
        );
        format!(
            "((attribute_type({name}, :S) AND {name} < {value}s) OR (attribute_type({name}, :N) AND {name} < {value}n))"
        )
    };
    if let Some(age) = max_age {
        clauses.push(older(CREATED_AT, "#c", ":age", now - age));
    }
    if let Some(stale) = max_stale {
        clauses.push(older(UPDATED_AT, "#u", ":stale", now - stale));
    }
    // Stubs the official gem's locking left: no timestamps, only a lock;
    // never a session, so the shorter limit applies.
    let stub_limit = match (max_stale, max_age) {
        (Some(stale), Some(age)) => stale.min(age),
        (stale, age) => stale.or(age)?,
    };
    let lock = older(LOCKED_AT, "#l", ":lock", now - stub_limit);
    names
        .entry("#c".into())
        .or_insert_with(|| CREATED_AT.into());
    names
        .entry("#u".into())
        .or_insert_with(|| UPDATED_AT.into());
    clauses.push(format!(
        "(attribute_not_exists(#c) AND attribute_not_exists(#u) AND {lock})"
    ));
    // Items no request can ever age: timestamps of another type, or text
    // that is no number (sorts after the digits), or none at all and no
    // lock. Reads treat them as corrupt and start a fresh session.
    values.insert(":nondigit".to_string(), AttributeValue::S(":".into()));
    for name in ["#c", "#u"] {
        clauses.push(format!(
            "(attribute_exists({name}) AND NOT attribute_type({name}, :S) AND NOT attribute_type({name}, :N))"
        ));
        clauses.push(format!(
            "(attribute_type({name}, :S) AND {name} >= :nondigit)"
        ));
    }
    clauses.push(
        "(attribute_not_exists(#c) AND attribute_not_exists(#u) AND attribute_not_exists(#l))"
            .to_string(),
    );
    // User records (`ops::users`) have no timestamps and are never garbage.
    values.insert(
        ":record".to_string(),
        AttributeValue::S(USER_RECORD_PREFIX.into()),
    );
    Some(Filter {
        expression: format!(
            "({}) AND NOT begins_with(#k, :record)",
            clauses.join(" OR ")
        ),
        names,
        values,
    })
}

/// Paces deletes across segments to a rate.
struct Pacer {
    rate: Option<f64>,
    next: Mutex<Instant>,
}

impl Pacer {
    async fn take(&self, count: usize) {
        let Some(rate) = self.rate.filter(|r| *r > 0.0) else {
            return;
        };
        let wait = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = (*next).max(now);
            // A tiny rate gives a pause too long for Duration: cap it (a
            // day per batch) instead of panicking.
            let pause = Duration::try_from_secs_f64(count as f64 / rate).unwrap_or(MAX_PACE);
            *next = start + pause.min(MAX_PACE);
            start - now
        };
        tokio::time::sleep(wait).await;
    }
}

/// What every segment and delete task of one run shares.
struct Run {
    client: Client,
    spec: GcSpec,
    filter: Filter,
    pacer: Pacer,
    progress: Arc<GcProgress>,
    /// Delete batches in flight across all segments.
    deletes: Arc<Semaphore>,
}

/// Runs the collection. Returns when every segment is done or stopped.
pub async fn collect(
    client: Client,
    spec: GcSpec,
    progress: Arc<GcProgress>,
) -> Result<(), StoreError> {
    let Some(filter) = filter(&spec.key_name, spec.max_age, spec.max_stale, now_f64()) else {
        return Ok(());
    };
    let segments = spec.segments.max(1);
    let run = Arc::new(Run {
        client,
        filter,
        pacer: Pacer {
            rate: spec.max_deletes_per_second,
            next: Mutex::new(Instant::now()),
        },
        spec,
        progress,
        deletes: Arc::new(Semaphore::new(DELETES_IN_FLIGHT)),
    });
    let mut tasks = JoinSet::new();
    for segment in 0..segments {
        let run = run.clone();
        tasks.spawn(async move { scan_segment(run, segment, segments).await });
    }
    finish(&mut tasks, &run.progress, None).await
}

/// Waits for every task; the first error (or `earlier`) is the result. A
/// failed task stops the others between batches.
async fn finish(
    tasks: &mut JoinSet<Result<(), StoreError>>,
    progress: &GcProgress,
    earlier: Option<StoreError>,
) -> Result<(), StoreError> {
    let mut first_error = earlier;
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined_result(joined) {
            progress.stop.store(true, Ordering::Relaxed);
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn joined_result(
    joined: Result<Result<(), StoreError>, tokio::task::JoinError>,
) -> Result<(), StoreError> {
    joined.unwrap_or_else(|e| Err(StoreError::Internal(format!("GC task failed: {e}"))))
}

/// Scans one segment page by page. Each page's keys go out as delete
/// batches that run while the next page is scanned (at most
/// `DELETES_IN_FLIGHT` batches in flight for the whole run): against a
/// DynamoDB tens of milliseconds away, the rate comes from the number of
/// requests in flight, not from the CPU.
async fn scan_segment(run: Arc<Run>, segment: u32, segments: u32) -> Result<(), StoreError> {
    let mut deletes = JoinSet::new();
    let scanned = scan_pages(&run, segment, segments, &mut deletes).await;
    // Batches already sent complete even when the scan failed or stopped.
    finish(&mut deletes, &run.progress, scanned.err()).await
}

async fn scan_pages(
    run: &Arc<Run>,
    segment: u32,
    segments: u32,
    deletes: &mut JoinSet<Result<(), StoreError>>,
) -> Result<(), StoreError> {
    let spec = &run.spec;
    let progress = &run.progress;
    let mut start_key = None;
    loop {
        if progress.stopped() {
            return Ok(());
        }
        pause(spec.operation_delay).await;
        let mut request = run
            .client
            .scan()
            .table_name(&spec.table)
            .projection_expression("#k")
            .filter_expression(&run.filter.expression)
            .set_expression_attribute_names(Some(run.filter.names.clone()))
            .set_expression_attribute_values(Some(run.filter.values.clone()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_exclusive_start_key(start_key.take());
        if segments > 1 {
            request = request
                .segment(segment as i32)
                .total_segments(segments as i32);
        }
        let counted = Some(progress.calls.clone());
        let page = send_counted!(request, &counted).map_err(StoreError::from_sdk)?;
        progress
            .scanned
            .fetch_add(page.scanned_count.max(0) as u64, Ordering::Relaxed);
        progress.capacity.add_from(&page);
        let keys = page.items.unwrap_or_default();
        progress
            .matched
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
        if !spec.dry_run {
            for batch in keys.chunks(BATCH_SIZE) {
                if progress.stopped() {
                    return Ok(());
                }
                pause(spec.operation_delay).await;
                run.pacer.take(batch.len()).await;
                let permit = run
                    .deletes
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| StoreError::Internal(format!("GC permits: {e}")))?;
                // Reap finished batches as we go: an error stops the scan.
                while let Some(joined) = deletes.try_join_next() {
                    joined_result(joined)?;
                }
                let (run, batch) = (run.clone(), batch.to_vec());
                deletes.spawn(async move {
                    let deleted = delete_batch(&run.client, &run.spec, &batch, &run.progress).await;
                    drop(permit);
                    deleted
                });
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start_key = Some(key),
            _ => return Ok(()),
        }
    }
}

async fn pause(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

async fn delete_batch(
    client: &Client,
    spec: &GcSpec,
    keys: &[HashMap<String, AttributeValue>],
    progress: &GcProgress,
) -> Result<(), StoreError> {
    let mut pending: Vec<WriteRequest> = keys
        .iter()
        .map(|key| {
            let request = DeleteRequest::builder()
                .set_key(Some(key.clone()))
                .build()
                .map_err(|e| StoreError::Internal(format!("delete request: {e}")))?;
            Ok(WriteRequest::builder().delete_request(request).build())
        })
        .collect::<Result<_, StoreError>>()?;
    let mut backoff = Duration::from_millis(50);
    for attempt in 1..=MAX_BATCH_ATTEMPTS {
        let sent = pending.len();
        let request = client
            .batch_write_item()
            .request_items(&spec.table, pending)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let counted = Some(progress.calls.clone());
        let out = send_counted!(request, &counted).map_err(StoreError::from_sdk)?;
        progress.capacity.add_from(&out);
        pending = out
            .unprocessed_items
            .and_then(|mut m| m.remove(&spec.table))
            .unwrap_or_default();
        progress
            .deleted
            .fetch_add((sent - pending.len()) as u64, Ordering::Relaxed);
        if pending.is_empty() {
            return Ok(());
        }
        if attempt < MAX_BATCH_ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
    Err(StoreError::Service {
        code: "UnprocessedItems".into(),
        message: format!(
            "{} deletes still unprocessed after {MAX_BATCH_ATTEMPTS} attempts (throttled?)",
            pending.len()
        ),
        request_id: None,
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limits_means_no_filter() {
        assert!(filter("session_id", None, None, 1.0e9).is_none());
    }

    #[test]
    fn filter_matches_both_timestamp_types_and_stubs() {
        let f = filter("session_id", Some(100.0), Some(10.0), 1_000_000_000.0).expect("filter");
        assert!(f
            .expression
            .contains("attribute_type(#c, :S) AND #c < :ages"));
        assert!(f
            .expression
            .contains("attribute_type(#u, :N) AND #u < :stalen"));
        assert!(f
            .expression
            .contains("attribute_not_exists(#c) AND attribute_not_exists(#u)"));
        assert_eq!(f.values[":ages"], AttributeValue::S("999999900.0".into()));
        assert_eq!(f.values[":stalen"], AttributeValue::N("999999990.0".into()));
        assert_eq!(f.values[":lockn"], AttributeValue::N("999999990.0".into()));
        assert_eq!(f.names["#k"], "session_id");
        // Items whose age can't be read, or that have none, are garbage too.
        assert!(f
            .expression
            .contains("(attribute_type(#u, :S) AND #u >= :nondigit)"));
        assert!(f.expression.contains(
            "(attribute_exists(#c) AND NOT attribute_type(#c, :S) AND NOT attribute_type(#c, :N))"
        ));
        assert!(f.expression.contains(
            "(attribute_not_exists(#c) AND attribute_not_exists(#u) AND attribute_not_exists(#l))"
        ));
        assert_eq!(f.values[":nondigit"], AttributeValue::S(":".into()));
    }

    #[test]
    fn age_alone_still_names_both_timestamps_for_the_stub_clause() {
        let f = filter("id", Some(60.0), None, 1000.0).expect("filter");
        assert_eq!(f.names["#u"], "updated_at");
        assert!(!f.values.contains_key(":stales"));
    }
}
