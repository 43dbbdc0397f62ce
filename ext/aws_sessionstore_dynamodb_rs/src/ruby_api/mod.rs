//! What Ruby sees: `Aws::SessionStore::DynamoDB::Native` and what is in it.

use magnus::{prelude::*, Error, RModule, Ruby};

mod cipher;
mod client;
mod errors;
mod gvl;
mod item;
mod options;
mod sid;
#[cfg(feature = "test-hooks")]
mod test_hooks;

pub fn init(ruby: &Ruby) -> Result<(), Error> {
    let native: RModule = ruby
        .define_module("Aws")?
        .define_module("SessionStore")?
        .define_module("DynamoDB")?
        .define_module("Native")?;
    native.const_set("VERSION", env!("CARGO_PKG_VERSION"))?;
    // Whether this is an unoptimised (dev profile) build: benches say so.
    native.const_set("DEBUG_BUILD", cfg!(debug_assertions))?;
    // DynamoDB's item size limit, defined once (`error.rs`): the Ruby
    // layer's messages and the specs' in-memory client read it here.
    native.const_set("ITEM_SIZE_LIMIT", crate::error::ITEM_SIZE_LIMIT)?;
    // First: a missing exception class fails the load.
    errors::init(ruby)?;
    client::init(ruby, native)?;
    cipher::init(ruby, native)?;
    sid::init(ruby, native)?;
    gvl::init(ruby, native)?;
    #[cfg(feature = "test-hooks")]
    test_hooks::init(ruby, native)?;
    Ok(())
}
