//! `unetseg metrics`: scores a predicted segmentation or probability map
//! against a ground-truth mask (pixel scores and the ISBI 2012 scores).
//!
//! How the prediction image is read (first page, colour converted to gray
//! by [`crate::imageio`]):
//! * only the values 0 and the format's maximum (255 for 8-bit, 65535 for
//!   16-bit) -> a segmentation in the masks' polarity (maximum = cell),
//!   scored as it is;
//! * any other value -> a probability map, probability of cell =
//!   value / maximum; its pixel scores use 0.5 and its ISBI scores the best
//!   threshold of 0.0, 0.1, ..., 1.0.
//!
//! The ground truth is read as 8-bit gray ([`imageio::read_gray8`]); above
//! 127 is cell.

use crate::error::{Error, Result};
use crate::imageio::{self, GrayImage};
use crate::metrics::{self, MetricsReport, Prediction};
use crate::raster::{GrayF32, GrayU8};
use std::path::{Path, PathBuf};

/// Arguments of `unetseg metrics`.
#[derive(clap::Args, Debug)]
pub struct MetricsArgs {
    /// Predicted segmentation (0 = membrane, 255 = cell) or probability-of-cell
    /// map (any other values; 8- or 16-bit PNG, JPEG or TIFF).
    #[arg(long, value_name = "IMAGE")]
    pub pred: PathBuf,
    /// Ground-truth mask (0 = membrane, 255 = cell interior).
    #[arg(long, value_name = "MASK")]
    pub truth: PathBuf,
    /// Print one JSON object with every metric instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A prediction image as read from disk, with what it was taken for.
enum PredictionImage {
    Mask(GrayU8),
    Probability(GrayF32),
}

/// Reads the first page of the prediction: a mask when it holds only 0 and
/// the format's maximum, a probability map (value / maximum) otherwise.
fn read_prediction(path: &Path) -> Result<PredictionImage> {
    let pages = imageio::read_pages(path)?;
    let first = pages.first().ok_or_else(|| Error::file(path, "the file holds no image"))?;
    let mask = match first {
        GrayImage::U8(r) if r.data().iter().all(|&v| v == 0 || v == u8::MAX) => Some(r.clone()),
        GrayImage::U16(r) if r.data().iter().all(|&v| v == 0 || v == u16::MAX) => {
            Some(r.map(|v| if v == 0 { 0 } else { u8::MAX }))
        }
        _ => None,
    };
    Ok(match mask {
        Some(mask) => PredictionImage::Mask(mask),
        None => PredictionImage::Probability(first.to_unit_f32()),
    })
}

fn print_table(report: &MetricsReport, args: &MetricsArgs, kind: &str) {
    println!("prediction: {} ({kind})", args.pred.display());
    println!("truth:      {}", args.truth.display());
    for (key, value) in report.entries() {
        println!("  {key:<18} {value:.6}");
    }
}

/// Runs the subcommand.
pub fn run(args: MetricsArgs) -> Result<()> {
    let prediction = read_prediction(&args.pred)?;
    let truth = imageio::read_gray8(&args.truth)?;
    let (prediction, kind) = match &prediction {
        PredictionImage::Mask(m) => (Prediction::Mask(m), "segmentation"),
        PredictionImage::Probability(p) => {
            (Prediction::Probability(p), "probability map; ISBI scores at the best of thresholds 0.0..1.0")
        }
    };
    if prediction.dims() != truth.dims() {
        let (pw, ph) = prediction.dims();
        let (tw, th) = truth.dims();
        return Err(Error::invalid(format!(
            "size mismatch: prediction {} is {pw}x{ph} but truth {} is {tw}x{th}",
            args.pred.display(),
            args.truth.display()
        )));
    }
    let report = metrics::evaluate(prediction, &truth)?;
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(Error::invalid)?;
        println!("{json}");
    } else {
        print_table(&report, &args, kind);
    }
    Ok(())
}
