//! Native core of aws-sessionstore-dynamodb-rs. Everything here lives under
//! the private `Aws::SessionStore::DynamoDB::Native` namespace; the public
//! API is the Ruby in `lib/`. See `ext/README.md` for the bridge.
//!
//! - `ruby_api/`: what Ruby sees, one file per Ruby class or function, and
//!   the one mapping of errors to Ruby exceptions;
//! - `ops/`: the DynamoDB work in plain async Rust (sessions, locks, GC,
//!   tables, the client), no Ruby;
//! - `helpers/`: the GVL and the per-process runtime.

use magnus::{Error, Ruby};

pub mod envelope;
pub mod error;
mod helpers;
pub mod ops;
mod ruby_api;

/// mimalloc for every allocation of the native code (the SDK's request
/// pipeline allocates a great deal per call): 9% fewer instructions per
/// session request than glibc's malloc under callgrind
/// (bench/README.md). Ruby's own objects are not affected.
#[cfg(not(feature = "count-allocs"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--features count-allocs` (examples/floor.rs, never a shipped build): the
/// same allocator, counting every allocation of the process.
#[cfg(feature = "count-allocs")]
pub mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    static ALLOCS: AtomicU64 = AtomicU64::new(0);
    static BYTES: AtomicU64 = AtomicU64::new(0);

    struct Counting;

    fn count(size: usize) {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(size as u64, Relaxed);
    }

    // SAFETY: forwards every call to mimalloc unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count(layout.size());
            mimalloc::MiMalloc.alloc(layout)
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count(layout.size());
            mimalloc::MiMalloc.alloc_zeroed(layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count(new_size);
            mimalloc::MiMalloc.realloc(ptr, layout, new_size)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            mimalloc::MiMalloc.dealloc(ptr, layout)
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// Allocations (a realloc counts as one) and bytes requested so far.
    pub fn now() -> (u64, u64) {
        (ALLOCS.load(Relaxed), BYTES.load(Relaxed))
    }
}

#[magnus::init]
fn init(ruby: &Ruby) -> Result<(), Error> {
    ruby_api::init(ruby)
}
