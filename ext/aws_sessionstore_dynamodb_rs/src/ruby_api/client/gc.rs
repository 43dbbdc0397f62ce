//! `Native::Client#collect_garbage` and the loop that waits for the scan,
//! reporting progress to Ruby between slices.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use magnus::{block::Proc, method, prelude::*, Error, RClass, RHash, Ruby, Value};

use super::results::{gc_stats, operations};
use super::Client;
use crate::error::StoreError;
use crate::helpers::gvl::nogvl;
use crate::helpers::runtime;
use crate::ops::gc::{self, GcProgress, GcSpec};

/// How often the waiting thread takes the GVL back to report progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

impl Client {
    /// `collect_garbage(Native::GcRequest, progress)` → Hash of `scanned`,
    /// `matched`, `deleted`, `elapsed`, `consumed_capacity`, `dry_run`.
    ///
    /// The scan runs as a task on the runtime; this thread waits for it in
    /// slices with the GVL released and calls `progress` (if given) with
    /// the counters after each slice; `progress` returning `false` stops the
    /// run between batches. An interrupt (Ctrl-C, SIGTERM, Thread#raise)
    /// also stops it between batches: the batches in flight complete, the
    /// final counters go to `progress`, then the exception propagates. A
    /// second interrupt abandons the run at once.
    fn collect_garbage(
        ruby: &Ruby,
        rb_self: &Self,
        spec: GcSpec,
        progress: Option<Proc>,
    ) -> Result<RHash, Error> {
        let dry_run = spec.dry_run;
        let client = rb_self.sdk(ruby)?;
        let counters = Arc::new(GcProgress::default());
        let started = Instant::now();
        let runtime = runtime::current().map_err(|e| e.into_ruby(ruby))?;
        let mut task = runtime.spawn(gc::collect(client, spec, counters.clone()));
        let mut interrupted: Option<Error> = None;
        let outcome = loop {
            let slice = nogvl(ruby, async {
                Ok(tokio::time::timeout(PROGRESS_EVERY, &mut task).await.ok())
            });
            match slice {
                Ok(Some(joined)) => {
                    break joined.unwrap_or_else(|e| {
                        Err(StoreError::Internal(format!("GC task failed: {e}")))
                    })
                }
                Ok(None) => {
                    if let Some(proc) = progress {
                        let stats = gc_stats(ruby, &counters, started, dry_run)?;
                        let answer: Value = proc.call((stats,))?;
                        if answer.is_kind_of(ruby.class_false_class()) {
                            counters.stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Err(e) => {
                    counters.stop.store(true, Ordering::Relaxed);
                    if interrupted.is_some() {
                        task.abort();
                        return Err(e);
                    }
                    interrupted = Some(e);
                }
            }
        };
        let stats = gc_stats(ruby, &counters, started, dry_run)?;
        stats.aset(
            ruby.to_symbol("operations"),
            operations(ruby, &counters.calls)?,
        )?;
        if let Some(proc) = progress {
            if interrupted.is_some() || outcome.is_err() {
                stats.aset(ruby.to_symbol("interrupted"), interrupted.is_some())?;
                let _: Value = proc.call((stats,))?;
            }
        }
        if let Some(e) = interrupted {
            return Err(e);
        }
        outcome.map_err(|e| e.into_ruby(ruby))?;
        Ok(stats)
    }
}

/// Registers this file's methods on `Native::Client`.
pub(super) fn define(class: RClass) -> Result<(), Error> {
    class.define_method("collect_garbage", method!(Client::collect_garbage, 2))?;
    Ok(())
}
