//! `unetseg forward` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg forward`.
#[derive(clap::Args, Debug)]
pub struct ForwardArgs {}

/// Runs the subcommand.
pub fn run(_args: ForwardArgs) -> Result<()> {
    Err(Error::invalid("forward is not implemented yet"))
}
