//! What one store call cost, for instrumentation: how many DynamoDB calls
//! and HTTP attempts it made (the SDK's retries included) and the capacity
//! DynamoDB reports. Only gathered when someone listens (Ruby asks per
//! call): then each request asks for `ReturnConsumedCapacity` and carries an
//! interceptor counting its attempts.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemOutput, batch_write_item::BatchWriteItemOutput,
    delete_item::DeleteItemOutput, get_item::GetItemOutput, query::QueryOutput, scan::ScanOutput,
    transact_write_items::TransactWriteItemsOutput, update_item::UpdateItemOutput,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

#[derive(Debug, Default)]
pub struct CallStats {
    /// DynamoDB operations sent (a lock wait makes several).
    pub calls: AtomicU32,
    /// HTTP attempts, retries included.
    pub attempts: AtomicU32,
    /// Consumed capacity units.
    pub capacity: Capacity,
    /// Each operation, for a trace's spans (at most `MAX_OPERATIONS`).
    pub operations: Mutex<Vec<Operation>>,
}

/// Most operations one store call keeps for its spans; a lock wait makes a
/// few, a garbage collection run may make thousands.
pub const MAX_OPERATIONS: usize = 1000;

/// One DynamoDB operation, as a trace span shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The SDK's name for it: `GetItem`, `UpdateItem`, `TransactWriteItems`…
    pub name: String,
    /// When it was sent, in nanoseconds since the Unix epoch.
    pub started_ns: u64,
    /// How long it took, its retries included.
    pub duration_ns: u64,
    /// HTTP attempts.
    pub attempts: u32,
    /// Capacity units DynamoDB reported for it.
    pub capacity: Option<f64>,
    /// Why it failed (DynamoDB's error code, or the SDK's kind of failure).
    pub error: Option<String>,
}

/// One operation in flight: its attempts and name, as its interceptor
/// sees them, and when it started.
#[derive(Debug)]
pub struct Probe {
    attempts: AtomicU32,
    name: OnceLock<String>,
    wall: SystemTime,
    started: Instant,
}

impl Probe {
    pub fn start() -> Arc<Probe> {
        Arc::new(Probe {
            attempts: AtomicU32::new(0),
            name: OnceLock::new(),
            wall: SystemTime::now(),
            started: Instant::now(),
        })
    }

    /// The finished operation.
    pub fn finish(&self, capacity: Option<f64>, error: Option<String>) -> Operation {
        let since_epoch = self.wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        Operation {
            name: self.name.get().cloned().unwrap_or_else(|| "Unknown".into()),
            started_ns: u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX),
            duration_ns: u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            attempts: self.attempts.load(Ordering::Relaxed),
            capacity,
            error,
        }
    }
}

/// What a span says of a failed operation: DynamoDB's error code, or the
/// kind of failure the SDK met before an answer.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    match err {
        SdkError::ServiceError(service) => {
            service.err().code().unwrap_or("ServiceError").to_string()
        }
        SdkError::TimeoutError(_) => "TimeoutError".into(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => "TimeoutError".into(),
        SdkError::DispatchFailure(_) => "DispatchFailure".into(),
        SdkError::ResponseError(_) => "ResponseError".into(),
        SdkError::ConstructionFailure(_) => "ConstructionFailure".into(),
        _ => "SdkError".into(),
    }
}

/// Consumed capacity units, summed across threads and tasks: kept as
/// thousandths in an atomic (DynamoDB reports fractions such as 0.5).
#[derive(Debug, Default)]
pub struct Capacity {
    milli: AtomicU64,
}

impl Capacity {
    /// Adds what DynamoDB reported, if it reported anything.
    pub fn add(&self, units: Option<f64>) {
        if let Some(units) = units {
            self.milli
                .fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    }

    /// Adds the capacity an operation's answer reports (every table's, for
    /// the operations that report a list); what it reported, if anything.
    pub fn add_from(&self, out: &impl Consumed) -> Option<f64> {
        let mut total = None;
        out.each_consumed(|units| {
            self.add(units);
            if let Some(units) = units {
                total = Some(total.unwrap_or(0.0) + units);
            }
        });
        total
    }

    pub fn units(&self) -> f64 {
        self.milli.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

/// An operation's answer that can carry `ConsumedCapacity`: one entry for
/// item operations and Scan, a list for the multi-item ones.
pub trait Consumed {
    fn each_consumed(&self, add: impl FnMut(Option<f64>));
}

macro_rules! consumed_one {
    ($($output:ty),+) => {$(
        impl Consumed for $output {
            fn each_consumed(&self, mut add: impl FnMut(Option<f64>)) {
                add(self.consumed_capacity().and_then(|c| c.capacity_units));
            }
        }
    )+};
}

macro_rules! consumed_list {
    ($($output:ty),+) => {$(
        impl Consumed for $output {
            fn each_consumed(&self, mut add: impl FnMut(Option<f64>)) {
                for used in self.consumed_capacity() {
                    add(used.capacity_units);
                }
            }
        }
    )+};
}

consumed_one!(
    GetItemOutput,
    UpdateItemOutput,
    DeleteItemOutput,
    ScanOutput,
    QueryOutput
);
consumed_list!(
    TransactWriteItemsOutput,
    BatchWriteItemOutput,
    BatchGetItemOutput
);

impl CallStats {
    /// Retries: attempts beyond the first of each call.
    pub fn retries(&self) -> u32 {
        self.attempts
            .load(Ordering::Relaxed)
            .saturating_sub(self.calls.load(Ordering::Relaxed))
    }

    /// Keeps a finished operation for the spans (the first
    /// `MAX_OPERATIONS` of a call).
    pub fn record(&self, operation: Operation) {
        if let Ok(mut operations) = self.operations.lock() {
            if operations.len() < MAX_OPERATIONS {
                operations.push(operation);
            }
        }
    }

    /// The operations kept, in the order they finished.
    pub fn operations(&self) -> Vec<Operation> {
        self.operations
            .lock()
            .map(|ops| ops.clone())
            .unwrap_or_default()
    }
}

/// Counts every attempt of the operation it is attached to, in the call's
/// stats and in the operation's probe, which also learns its name.
#[derive(Debug)]
pub struct CountAttempts(pub Arc<CallStats>, pub Arc<Probe>);

impl Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "CountAttempts"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        self.1.attempts.fetch_add(1, Ordering::Relaxed);
        if let Some(metadata) = cfg.load::<Metadata>() {
            let _ = self.1.name.set(metadata.name().to_string());
        }
        Ok(())
    }
}

/// Sends a fluent request; with stats, counts the call and its attempts
/// and keeps the operation for the spans. `$capacity` (given the stats and
/// the answer) adds and returns the capacity the answer reports; without
/// it, the operation reports none (the table calls).
/// A macro because each operation's fluent builder is its own type.
macro_rules! send_traced {
    ($request:expr, $stats:expr) => {
        $crate::ops::stats::send_traced!($request, $stats, |_stats, _out| None)
    };
    ($request:expr, $stats:expr, $capacity:expr) => {
        match $stats {
            Some(stats) => {
                stats
                    .calls
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let probe = $crate::ops::stats::Probe::start();
                let sent = $request
                    .customize()
                    .interceptor($crate::ops::stats::CountAttempts(
                        stats.clone(),
                        probe.clone(),
                    ))
                    .send()
                    .await;
                let operation = match &sent {
                    Ok(out) => probe.finish(($capacity)(stats, out), None),
                    Err(err) => probe.finish(None, Some($crate::ops::stats::error_code(err))),
                };
                stats.record(operation);
                sent
            }
            None => $request.send().await,
        }
    };
}
pub(crate) use send_traced;

/// `send_traced!` for an operation that reports consumed capacity: with
/// stats, it asks for it and adds what DynamoDB reports.
macro_rules! send_counted {
    ($request:expr, $stats:expr) => {
        match $stats {
            Some(_) => $crate::ops::stats::send_traced!(
                $request.return_consumed_capacity(
                    aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total,
                ),
                $stats,
                |stats: &std::sync::Arc<$crate::ops::stats::CallStats>, out| {
                    stats.capacity.add_from(out)
                }
            ),
            None => $request.send().await,
        }
    };
}
pub(crate) use send_counted;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_sums_fractions_and_ignores_none() {
        let capacity = Capacity::default();
        capacity.add(Some(0.5));
        capacity.add(None);
        capacity.add(Some(1.25));
        assert_eq!(capacity.units(), 1.75);
    }

    #[test]
    fn capacity_adds_one_entry_or_every_table_of_a_list() {
        use aws_sdk_dynamodb::types::ConsumedCapacity;
        let used = |units| ConsumedCapacity::builder().capacity_units(units).build();
        let capacity = Capacity::default();
        capacity.add_from(
            &GetItemOutput::builder()
                .consumed_capacity(used(0.5))
                .build(),
        );
        capacity.add_from(&GetItemOutput::builder().build());
        capacity.add_from(
            &TransactWriteItemsOutput::builder()
                .consumed_capacity(used(2.0))
                .consumed_capacity(used(4.0))
                .build(),
        );
        assert_eq!(capacity.units(), 6.5);
    }
}
