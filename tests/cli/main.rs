//! Integration tests of the `unetseg` binary, one module per subcommand. They form one
//! test binary: every test binary links burn, so fewer of them build faster.

#[path = "../support/mod.rs"]
mod support;

mod augment;
mod blend;
mod eval;
mod import_pytorch;
mod metrics;
mod plot;
mod postprocess;
mod robustness;
mod segment;
mod segment_formats;
mod train;
