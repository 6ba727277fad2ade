//! Subcommands of the `unetseg` binary, one module each (native only).

pub mod augment;
pub mod blend;
pub mod eval;
pub mod forward;
pub mod import_pytorch;
pub mod metrics;
pub mod plot;
pub mod postprocess;
pub mod robustness;
pub mod segment;
pub mod serve;
pub mod train;

use crate::model::UNetConfig;
use crate::{Error, Result};

/// The architecture presets (`train --model`, `import-pytorch --preset`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// 16-32-64-128-256 channels, same padding: fast enough for CPUs and browsers.
    Compact,
    /// The original CleanU_Net: 64-1024 channels, valid padding (572 -> 388).
    Seed,
}

impl Preset {
    /// The preset's architecture.
    pub fn config(self) -> UNetConfig {
        match self {
            Preset::Compact => UNetConfig::compact(),
            Preset::Seed => UNetConfig::seed(),
        }
    }
}

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
