//! `Native.__panic__`, only in builds with the `test-hooks` feature (`rake
//! compile`), never in release or gem builds: it panics inside the GVL-free
//! helper, so a spec can prove a panic becomes `Errors::InternalError` and
//! never Ruby's uncatchable `fatal`.

use magnus::{function, Error, RModule, Ruby};

use crate::helpers::gvl::nogvl;

pub fn init(_ruby: &Ruby, native: RModule) -> Result<(), Error> {
    native.define_module_function("__panic__", function!(panic_for_spec, 1))
}

#[allow(clippy::panic, reason = "the hook exists to panic, for the spec")]
fn panic_for_spec(ruby: &Ruby, message: String) -> Result<(), Error> {
    nogvl(ruby, async move {
        if !message.is_empty() {
            panic!("{message}");
        }
        Ok(())
    })
}
