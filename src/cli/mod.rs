//! Subcommands of the `unetseg` binary, one module each (native only).

pub mod augment;
pub mod blend;
pub mod eval;
pub mod forward;
pub mod import_pytorch;
pub mod metrics;
pub mod plot;
pub mod postprocess;
pub mod segment;
pub mod serve;
pub mod train;

use crate::{Error, Result};

/// The comma-separated values of option `option` (named in errors, e.g. `--ratios`):
/// finite numbers >= 0.
fn non_negative_numbers(option: &str, text: &str) -> Result<Vec<f64>> {
    text.split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| Error::invalid(format!("{option}: '{v}' is not a number >= 0")))
        })
        .collect()
}
