//! Native core of aws-sessionstore-dynamodb-rs. Everything here lives under
//! the private `Aws::SessionStore::DynamoDB::Native` namespace; the public
//! API is the Ruby in `lib/`. See `ext/README.md` for the bridge.

use magnus::{prelude::*, Error, RModule, Ruby};

mod client;
pub mod error;
mod helpers;
pub mod item;
pub mod ops;
pub mod options;
mod sid;

#[magnus::init]
fn init(ruby: &Ruby) -> Result<(), Error> {
    let aws = ruby.define_module("Aws")?;
    let store = aws.define_module("SessionStore")?;
    let dynamo = store.define_module("DynamoDB")?;
    let native: RModule = dynamo.define_module("Native")?;
    native.const_set("VERSION", env!("CARGO_PKG_VERSION"))?;
    error::init(ruby)?;
    client::init(ruby, native)?;
    sid::init(ruby, native)?;
    #[cfg(feature = "test-hooks")]
    native.define_module_function("__panic__", magnus::function!(panic_for_spec, 1))?;
    Ok(())
}

#[cfg(feature = "test-hooks")]
/// Panics inside the GVL-free helper, so a spec can prove a panic becomes
/// `Errors::InternalError` and never Ruby's uncatchable `fatal`. Private.
fn panic_for_spec(ruby: &Ruby, message: String) -> Result<(), Error> {
    helpers::gvl::nogvl(ruby, async move {
        if !message.is_empty() {
            panic!("{message}");
        }
        Ok(())
    })
}
