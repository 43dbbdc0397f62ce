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

pub mod error;
mod helpers;
pub mod ops;
mod ruby_api;

/// mimalloc for every allocation of the native code (the SDK's request
/// pipeline allocates a great deal per call): 9% fewer instructions per
/// session request than glibc's malloc under callgrind (README,
/// Performance). Ruby's own objects are not affected.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[magnus::init]
fn init(ruby: &Ruby) -> Result<(), Error> {
    ruby_api::init(ruby)
}
