//! `unetseg augment` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg augment`.
#[derive(clap::Args, Debug)]
pub struct AugmentArgs {}

/// Runs the subcommand.
pub fn run(_args: AugmentArgs) -> Result<()> {
    Err(Error::invalid("augment is not implemented yet"))
}
