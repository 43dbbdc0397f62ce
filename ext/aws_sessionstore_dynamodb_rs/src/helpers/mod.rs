pub mod gvl;
pub mod runtime;
