//! `unetseg import-pytorch`: converts a state_dict of the original project's
//! `CleanU_Net` (`.pt` from `torch.save`, or `.safetensors`) into a unetseg
//! weights file, which carries its configuration and loads without arguments.

use std::path::PathBuf;

use burn::tensor::Device;
use clap::ValueEnum;

use super::Preset;
use crate::import::{import_state_dict, infer_base_channels};
use crate::model::{self, Precision};
use crate::Result;

/// Arguments of `unetseg import-pytorch`.
#[derive(clap::Args, Debug)]
pub struct ImportPytorchArgs {
    /// The PyTorch state_dict (.pt/.pth saved with torch.save, or .safetensors).
    #[arg(long)]
    pub state_dict: PathBuf,
    /// Architecture: `seed` (valid convolutions, as the original) or `compact` (same-padded).
    #[arg(long, value_enum)]
    pub preset: Preset,
    /// Channels of the first level; by default read from Conv_down1's weight.
    #[arg(long)]
    pub base_channels: Option<usize>,
    /// The unetseg weights file to write (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: ImportPytorchArgs) -> Result<()> {
    let base = match args.base_channels {
        Some(base) => base,
        None => infer_base_channels(&args.state_dict)?,
    };
    let config = args.preset.config().with_base_channels(base);
    config.validate()?;
    let model = import_state_dict(&args.state_dict, &config, &Device::flex())?;
    model::save(&model, &args.out, Precision::F32)?;
    println!(
        "{} -> {} ({} preset, base {} channels, {} parameters)",
        args.state_dict.display(),
        args.out.display(),
        args.preset.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default(),
        base,
        config.parameter_count()
    );
    Ok(())
}
