//! Subcommands of the `unetseg` binary, one module each (native only).

pub mod augment;
pub mod blend;
pub mod eval;
pub mod forward;
pub mod import_pytorch;
pub mod metrics;
pub mod postprocess;
pub mod segment;
pub mod serve;
pub mod train;
