//! `unetseg serve` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {}

/// Runs the subcommand.
pub fn run(_args: ServeArgs) -> Result<()> {
    Err(Error::invalid("serve is not implemented yet"))
}
