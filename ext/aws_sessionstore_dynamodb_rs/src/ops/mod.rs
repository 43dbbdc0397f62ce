//! DynamoDB operations in plain async Rust on the SDK client: no Ruby here,
//! so they are tested with `cargo test` and called from the bindings with
//! the GVL released.

pub mod connect;
pub mod gc;
pub mod item;
pub mod lock;
pub mod migrate;
pub mod schema;
pub mod session;
pub mod stats;
pub mod table;
pub mod time;
pub mod update;
pub mod users;
