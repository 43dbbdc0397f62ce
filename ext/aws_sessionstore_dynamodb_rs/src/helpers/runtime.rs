//! The tokio runtime shared by every native call of this process.
//!
//! A multi-thread runtime created before `fork` cannot be used, or even
//! dropped, in the child: its worker threads do not exist there. So the
//! runtime remembers the pid that built it; a process with another pid builds
//! its own and leaks the inherited one. The lock is only taken while holding
//! the GVL, so no other thread of this process can hold it across a fork.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;

use crate::error::StoreError;
use crate::ops::wire::WireClient;

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

/// The session hot path runs on the calling Ruby thread (see
/// `helpers::gvl::nogvl_blocking`), and each thread keeps its own wire
/// clients, each with its own keep-alive connection.
struct Local {
    pid: u32,
    wires: HashMap<u64, Arc<WireClient>>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// This thread's wire client for the native client `id`, built by `make` on
/// first use.
pub fn local_wire(
    id: u64,
    make: impl FnOnce() -> Result<WireClient, StoreError>,
) -> Result<Arc<WireClient>, StoreError> {
    LOCAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        let pid = std::process::id();
        if slot.as_ref().is_none_or(|l| l.pid != pid) {
            let fresh = Local {
                pid,
                wires: HashMap::new(),
            };
            if let Some(inherited) = slot.replace(fresh) {
                // The parent's connections: their sockets are shared with
                // the parent after fork; leave them to it.
                std::mem::forget(inherited);
            }
        }
        let Some(local) = slot.as_mut() else {
            return Err(StoreError::Internal("thread-local clients missing".into()));
        };
        if let Some(wire) = local.wires.get(&id) {
            return Ok(wire.clone());
        }
        let wire = Arc::new(make()?);
        local.wires.insert(id, wire.clone());
        Ok(wire)
    })
}
