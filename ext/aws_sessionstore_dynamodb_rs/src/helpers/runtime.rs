//! The tokio runtime shared by every native call of this process.
//!
//! A current-thread runtime: it has no threads of its own. Every Ruby thread
//! in a native call drives its own request with `block_on`, and whichever
//! of them holds the runtime's core at the moment also runs the I/O driver,
//! the timers and the connection tasks for the others; when it leaves, the
//! core passes to another thread still waiting. Measured against a
//! multi-thread runtime with two workers, this saves the cross-thread
//! wake-ups of every call: ~40% of the process CPU of a session request
//! (bench/README.md).
//!
//! The runtime remembers the pid that built it: a forked child builds its
//! own and leaks the inherited one (its connections' sockets are shared with
//! the parent, and dropping them could touch the parent's state). The lock
//! is only taken while holding the GVL, so no other thread of this process
//! can hold it across a fork.

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
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot start the tokio runtime: {e}")))?,
    );
    if let Some(inherited) = slot.replace(PidRuntime {
        pid,
        runtime: runtime.clone(),
    }) {
        // Built by the parent before fork: its blocking-pool threads are
        // gone here, and its connections are the parent's.
        std::mem::forget(inherited);
    }
    Ok(runtime)
}

/// The pid the cached per-process state must match.
pub fn pid() -> u32 {
    std::process::id()
}
