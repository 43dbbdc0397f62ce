//! `Native.gvl_round_trip`: one native call that releases the GVL around a
//! future that is ready at once and takes it back, as every DynamoDB call
//! does, with no I/O. What `rake bench` subtracts to say what the GVL
//! release itself costs per call (bench/request_cpu.rb).

use magnus::{function, Error, RModule, Ruby};

use crate::helpers::gvl::nogvl;

pub fn init(_ruby: &Ruby, native: RModule) -> Result<(), Error> {
    native.define_module_function("gvl_round_trip", function!(gvl_round_trip, 0))
}

fn gvl_round_trip(ruby: &Ruby) -> Result<(), Error> {
    nogvl(ruby, async { Ok(()) })
}
