//! `unetseg robustness`: how the network's score holds up when held-out slices are
//! shifted the way users' images differ from ISBI's (see [`crate::robustness`]):
//! one row per shift with the challenge's V_rand of the shifted slices as one stack
//! (probability maps, as `eval` scores them) and its change from the unshifted row,
//! as a table or JSON; or, with `--write-shifts`, the shifted slices as PNGs.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::eval::{paired_slices, parse_slices};
use super::segment::load_network;
use crate::device::DeviceChoice;
use crate::imageio::{read_mask, read_pages, write_png_u8};
use crate::inference::TileOptions;
use crate::robustness::{self, LabelledSlice, Shift, ShiftScore, SHIFTS};
use crate::GrayU8;
use crate::{Error, Result};

/// Arguments of `unetseg robustness`.
#[derive(clap::Args, Debug)]
pub struct RobustnessArgs {
    /// Weights file; without it, the default weights built into unetseg.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Folder of images (PNG, JPEG, TIFF; the first page of each).
    #[arg(long)]
    pub images: PathBuf,
    /// Folder of ground-truth masks (0 = membrane, 255 = cell), paired with the images by file stem.
    #[arg(long)]
    pub masks: PathBuf,
    /// Only the images at positions A..B (0-based, inclusive, in name order), e.g.
    /// `24..26` for the slices the default weights were not trained on.
    #[arg(long, value_parser = parse_slices)]
    pub slices: Option<(usize, usize)>,
    /// Print JSON: {"slices": [names], "shifts": [{"shift", "description", "v_rand",
    /// "v_rand_change", "stack": {metrics...}}]}, the unshifted row first.
    #[arg(long)]
    pub json: bool,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// Seed of the noise shift (slice k draws from seed + k).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Instead of scoring, write each shift's slices (all but the unshifted ones) as
    /// 8-bit PNGs, the images the check segments and the masks it scores them against:
    /// DIR/<shift>/images/<stem>.png and DIR/<shift>/masks/<stem>.png (`<shift>` as in
    /// the table: `invert`, `scale-2x`, ...). Loads no weights.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["json", "weights"])]
    pub write_shifts: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: RobustnessArgs) -> Result<()> {
    let pairs = paired_slices(&args.images, &args.masks, args.slices)?;
    let slices = pairs
        .iter()
        .map(|pair| {
            let image = read_pages(&pair.image)?
                .into_iter()
                .next()
                .ok_or_else(|| Error::file(&pair.image, "the file holds no image"))?;
            let mask = read_mask(&pair.mask)?;
            if (image.width(), image.height()) != mask.dims() {
                return Err(Error::file(
                    &pair.mask,
                    format!(
                        "is {}x{} but its image is {}x{}",
                        mask.width(),
                        mask.height(),
                        image.width(),
                        image.height()
                    ),
                ));
            }
            Ok(LabelledSlice { name: pair.image.display().to_string(), image, mask })
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(dir) = &args.write_shifts {
        let stems: Vec<&str> = pairs.iter().map(|p| p.stem.as_str()).collect();
        return write_shifts(dir, &slices, &stems, args.seed);
    }
    let network = load_network(args.weights.as_deref(), args.device)?;
    let scores = robustness::check(&network, &slices, &SHIFTS, &TileOptions::default(), args.seed, |shift| {
        if !args.json {
            eprintln!("{}...", shift.description());
        }
    })?;
    let unshifted = scores[0].stack.v_rand;
    if args.json {
        let names: Vec<&str> = pairs.iter().map(|p| p.stem.as_str()).collect();
        let rows: Vec<Value> = scores.iter().map(|s| row_json(s, unshifted)).collect();
        let doc = json!({ "slices": names, "shifts": rows });
        println!("{}", serde_json::to_string_pretty(&doc).map_err(|e| Error::invalid(e.to_string()))?);
    } else {
        println!("{:<14} {:>9} {:>9} {:>9} {:>9}  what", "shift", "v_rand", "change", "v_info", "pixel_acc");
        for score in &scores {
            let stack = &score.stack;
            println!(
                "{:<14} {:>9.4} {:>+9.4} {:>9.4} {:>9.4}  {}",
                score.shift.name(),
                stack.v_rand,
                stack.v_rand - unshifted,
                stack.v_info,
                stack.pixel_accuracy,
                score.shift.description()
            );
        }
    }
    Ok(())
}

/// Writes every shift of the check but the unshifted one, as the check makes it
/// ([`robustness::shifted_slice`]), under `dir`: `<shift>/images/<stem>.png` and
/// `<shift>/masks/<stem>.png` for slice `slices[k]` named `stems[k]`.
fn write_shifts(dir: &Path, slices: &[LabelledSlice], stems: &[&str], seed: u64) -> Result<()> {
    let eight_bit: Vec<GrayU8> = slices.iter().map(|s| s.image.to_u8()).collect();
    for shift in SHIFTS.iter().filter(|s| **s != Shift::None) {
        let folder = dir.join(shift.name());
        let (images, masks) = (folder.join("images"), folder.join("masks"));
        for sub in [&images, &masks] {
            std::fs::create_dir_all(sub).map_err(|e| Error::file(sub, format!("cannot create the folder: {e}")))?;
        }
        for (k, ((slice, image), stem)) in slices.iter().zip(&eight_bit).zip(stems).enumerate() {
            let (shifted, mask) = robustness::shifted_slice(image, &slice.mask, shift, seed, k)
                .map_err(|e| Error::file(&slice.name, format!("{}: {e}", shift.name())))?;
            write_png_u8(&images.join(format!("{stem}.png")), &shifted)?;
            write_png_u8(&masks.join(format!("{stem}.png")), &mask)?;
        }
        eprintln!("{}: {} slices in {}", shift.description(), slices.len(), folder.display());
    }
    Ok(())
}

/// One shift's row as JSON, its stack report under the metrics module's keys.
fn row_json(score: &ShiftScore, unshifted: f64) -> Value {
    let stack: Map<String, Value> =
        score.stack.entries().iter().map(|&(k, v)| (k.to_string(), Value::from(v))).collect();
    json!({
        "shift": score.shift.name(),
        "description": score.shift.description(),
        "v_rand": score.stack.v_rand,
        "v_rand_change": score.stack.v_rand - unshifted,
        "stack": stack,
    })
}
