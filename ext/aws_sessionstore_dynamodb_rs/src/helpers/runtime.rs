//! The tokio runtime shared by every native call of this process.
//!
//! A multi-thread runtime created before `fork` cannot be used, or even
//! dropped, in the child: its worker threads do not exist there. So the
//! runtime remembers the pid that built it; a process with another pid builds
//! its own and leaks the inherited one. The lock is only taken while holding
//! the GVL, so no other thread of this process can hold it across a fork.

use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;

use crate::error::StoreError;

struct PidRuntime {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<PidRuntime>> = Mutex::new(None);

/// The runtime for the current process, built on first use.
pub fn current() -> Result<Arc<Runtime>, StoreError> {
    let pid = std::process::id();
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(existing) = slot.as_ref() {
        if existing.pid == pid {
            return Ok(existing.runtime.clone());
        }
    }
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("aws-sessionstore-dynamodb")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot start the tokio runtime: {e}")))?,
    );
    if let Some(inherited) = slot.replace(PidRuntime {
        pid,
        runtime: runtime.clone(),
    }) {
        // Built by the parent before fork: its threads are gone here, and
        // dropping it would wait for them forever.
        std::mem::forget(inherited);
    }
    Ok(runtime)
}

/// The pid the cached per-process state must match.
pub fn pid() -> u32 {
    std::process::id()
}

fn worker_threads() -> usize {
    // Each Ruby thread drives its own request on `block_on`; the workers only
    // run connection tasks, so a couple are plenty.
    std::thread::available_parallelism()
        .map(|n| n.get().clamp(1, 2))
        .unwrap_or(1)
}
