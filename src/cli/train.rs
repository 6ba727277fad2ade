//! `unetseg train` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {}

/// Runs the subcommand.
pub fn run(_args: TrainArgs) -> Result<()> {
    Err(Error::invalid("train is not implemented yet"))
}
