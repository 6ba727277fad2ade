//! `unetseg eval` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {}

/// Runs the subcommand.
pub fn run(_args: EvalArgs) -> Result<()> {
    Err(Error::invalid("eval is not implemented yet"))
}
