//! `unetseg postprocess` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg postprocess`.
#[derive(clap::Args, Debug)]
pub struct PostprocessArgs {}

/// Runs the subcommand.
pub fn run(_args: PostprocessArgs) -> Result<()> {
    Err(Error::invalid("postprocess is not implemented yet"))
}
