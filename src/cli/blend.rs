//! `unetseg blend`: one network whose weights are a weighted average of several
//! networks of one architecture (a "model soup"), e.g. a run's best epoch and its
//! stochastic weight average. Unlike an ensemble, the result costs one network's
//! inference time.

use std::path::PathBuf;

use burn::tensor::Device;

use crate::model::{self, Precision, UNet};
use crate::{Error, Result};

/// Arguments of `unetseg blend`.
#[derive(clap::Args, Debug)]
pub struct BlendArgs {
    /// Weights files to blend: networks of one architecture, best from one training
    /// run (independently trained networks do not average into a working one).
    /// Batch norm, if any, is folded into the convolutions first.
    #[arg(long, num_args = 1.., required = true)]
    pub weights: Vec<PathBuf>,
    /// Share of each network, comma-separated in the order of --weights, e.g. 0.5,0.5
    /// (default: equal shares); rescaled to sum to 1.
    #[arg(long)]
    pub ratios: Option<String>,
    /// Output weights file.
    #[arg(long)]
    pub out: PathBuf,
    /// Storage precision of the output: f16 (as the shipped default) or f32.
    #[arg(long, default_value = "f16", value_parser = ["f16", "f32"])]
    pub precision: String,
}

/// Runs the subcommand on the CPU.
pub fn run(args: BlendArgs) -> Result<()> {
    let ratios = shares(args.ratios.as_deref(), args.weights.len())?;
    let device = Device::flex();
    let mut nets: Vec<UNet> = Vec::with_capacity(args.weights.len());
    for path in &args.weights {
        let net = model::load(path, &device)?.fold_batch_norm();
        if let Some(first) = nets.first() {
            if net.config() != first.config() {
                return Err(Error::file(
                    path,
                    format!(
                        "a different architecture from {} ({:?} against {:?})",
                        args.weights[0].display(),
                        net.config(),
                        first.config()
                    ),
                ));
            }
        }
        nets.push(net);
    }
    let pairs: Vec<(&UNet, f64)> = nets.iter().zip(ratios.iter().copied()).collect();
    let blended = model::blend(&pairs)?;
    let precision = if args.precision == "f32" { Precision::F32 } else { Precision::F16 };
    model::save(&blended, &args.out, precision)?;
    let listed: Vec<String> =
        args.weights.iter().zip(&ratios).map(|(p, r)| format!("{r:.3} x {}", p.display())).collect();
    println!("{} = {}", args.out.display(), listed.join(" + "));
    Ok(())
}

/// The shares of `count` networks from `--ratios` (equal without it), rescaled to
/// sum to 1; each must be a finite number >= 0 and at least one above 0.
fn shares(text: Option<&str>, count: usize) -> Result<Vec<f64>> {
    let raw: Vec<f64> = match text {
        None => vec![1.0; count],
        Some(text) => super::non_negative_numbers("--ratios", text)?,
    };
    if raw.len() != count {
        return Err(Error::invalid(format!("--ratios has {} values for {count} weights files", raw.len())));
    }
    let total: f64 = raw.iter().sum();
    if total <= 0.0 {
        return Err(Error::invalid("--ratios must not all be 0"));
    }
    Ok(raw.iter().map(|r| r / total).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_equal_by_default_and_rescaled() {
        assert_eq!(shares(None, 4).unwrap(), vec![0.25; 4]);
        assert_eq!(shares(Some("3, 1"), 2).unwrap(), vec![0.75, 0.25]);
    }

    #[test]
    fn shares_reject_bad_lists() {
        for (text, count, needle) in [
            ("0.5", 2, "1 values for 2"),
            ("0.5,x", 2, "'x' is not a number"),
            ("-1,2", 2, "'-1' is not a number"),
            ("0,0", 2, "all be 0"),
        ] {
            let err = shares(Some(text), count).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
