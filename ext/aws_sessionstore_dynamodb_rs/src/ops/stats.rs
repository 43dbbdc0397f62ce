//! What one store call cost, for instrumentation: how many DynamoDB calls
//! and HTTP attempts it made (the SDK's retries included) and the capacity
//! DynamoDB reports. Only gathered when someone listens (Ruby asks per
//! call): then each request asks for `ReturnConsumedCapacity` and carries an
//! interceptor counting its attempts.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemOutput, batch_write_item::BatchWriteItemOutput,
    delete_item::DeleteItemOutput, get_item::GetItemOutput, scan::ScanOutput,
    transact_write_items::TransactWriteItemsOutput, update_item::UpdateItemOutput,
};
use aws_smithy_runtime_api::box_error::BoxError;

#[derive(Debug, Default)]
pub struct CallStats {
    /// DynamoDB operations sent (a lock wait makes several).
    pub calls: AtomicU32,
    /// HTTP attempts, retries included.
    pub attempts: AtomicU32,
    /// Consumed capacity units.
    pub capacity: Capacity,
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
    /// the operations that report a list).
    pub fn add_from(&self, out: &impl Consumed) {
        out.each_consumed(|units| self.add(units));
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
    ScanOutput
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
}

/// Counts every attempt of the operation it is attached to.
#[derive(Debug)]
pub struct CountAttempts(pub Arc<CallStats>);

impl Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "CountAttempts"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Sends a fluent request; with stats, asks for the consumed capacity,
/// counts the call and its attempts, and adds the capacity DynamoDB reports.
/// A macro because each operation's fluent builder is its own type.
macro_rules! send_counted {
    ($request:expr, $stats:expr) => {
        match $stats {
            Some(stats) => {
                stats
                    .calls
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let sent = $request
                    .return_consumed_capacity(
                        aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total,
                    )
                    .customize()
                    .interceptor($crate::ops::stats::CountAttempts(stats.clone()))
                    .send()
                    .await;
                if let Ok(out) = &sent {
                    stats.capacity.add_from(out);
                }
                sent
            }
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
