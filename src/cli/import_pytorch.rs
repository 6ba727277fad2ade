//! `unetseg import-pytorch` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg import-pytorch`.
#[derive(clap::Args, Debug)]
pub struct ImportPytorchArgs {}

/// Runs the subcommand.
pub fn run(_args: ImportPytorchArgs) -> Result<()> {
    Err(Error::invalid("import-pytorch is not implemented yet"))
}
