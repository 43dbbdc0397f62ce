//! DynamoDB operations in plain async Rust: no Ruby here, so they are
//! tested with `cargo test` and called from the bindings with the GVL released.

pub mod connect;
pub mod gc;
pub mod http;
pub mod interrupt;
pub mod lock;
pub mod session;
pub mod sigv4;
pub mod table;
pub mod time;
pub mod wire;
