//! `unetseg segment` (placeholder until implemented).

use crate::{Error, Result};

/// Arguments of `unetseg segment`.
#[derive(clap::Args, Debug)]
pub struct SegmentArgs {}

/// Runs the subcommand.
pub fn run(_args: SegmentArgs) -> Result<()> {
    Err(Error::invalid("segment is not implemented yet"))
}
