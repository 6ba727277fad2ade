//! `unetseg metrics` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg metrics`.
#[derive(clap::Args, Debug)]
pub struct MetricsArgs {}

/// Runs the subcommand.
pub fn run(_args: MetricsArgs) -> Result<()> {
    Err(Error::invalid("metrics is not implemented yet"))
}
