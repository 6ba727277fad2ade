//! `unetseg metrics`: scores a predicted segmentation or probability map
//! against a ground-truth mask (pixel scores and the ISBI 2012 scores).
//!
//! How the prediction image is read (gray, or RGB/RGBA converted to gray):
//! * only the values 0 and the format's maximum (255 for 8-bit, 65535 for
//!   16-bit, 1.0 for float) -> a segmentation in the masks' polarity
//!   (maximum = cell), scored as it is;
//! * any other value -> a probability map, probability of cell =
//!   value / maximum; its pixel scores use 0.5 and its ISBI scores the best
//!   threshold of 0.0, 0.1, ..., 1.0.
//!
//! The ground truth is read as 8-bit gray; above 127 is cell.

use crate::error::{Error, Result};
use crate::metrics::{self, MetricsReport, Prediction};
use crate::raster::{GrayF32, GrayU8, Raster};
use image::{ColorType, DynamicImage};
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

fn open(path: &Path) -> Result<DynamicImage> {
    image::open(path).map_err(|e| Error::file(path, e))
}

fn raster<T: Copy>(path: &Path, width: u32, height: u32, data: Vec<T>) -> Result<Raster<T>> {
    Raster::new(width as usize, height as usize, data).map_err(|e| Error::file(path, e))
}

/// Reads the prediction: a mask when it holds only 0 and the format's
/// maximum, a probability map (value / maximum) otherwise.
fn read_prediction(path: &Path) -> Result<PredictionImage> {
    let image = open(path)?;
    let (width, height) = (image.width(), image.height());
    let probabilities: Vec<f32> = match image.color() {
        ColorType::L16 | ColorType::La16 | ColorType::Rgb16 | ColorType::Rgba16 => image
            .to_luma16()
            .into_raw()
            .into_iter()
            .map(|v| v as f32 / u16::MAX as f32)
            .collect(),
        ColorType::Rgb32F | ColorType::Rgba32F => image.to_luma32f().into_raw(),
        _ => {
            let gray = image.to_luma8().into_raw();
            if gray.iter().all(|&v| v == 0 || v == u8::MAX) {
                return Ok(PredictionImage::Mask(raster(path, width, height, gray)?));
            }
            gray.into_iter()
                .map(|v| v as f32 / u8::MAX as f32)
                .collect()
        }
    };
    if probabilities.iter().all(|&p| p == 0.0 || p == 1.0) {
        let mask = probabilities
            .iter()
            .map(|&p| if p == 1.0 { u8::MAX } else { 0 })
            .collect();
        return Ok(PredictionImage::Mask(raster(path, width, height, mask)?));
    }
    let clamped = probabilities
        .into_iter()
        .map(|p| p.clamp(0.0, 1.0))
        .collect();
    Ok(PredictionImage::Probability(raster(
        path, width, height, clamped,
    )?))
}

fn read_truth(path: &Path) -> Result<GrayU8> {
    let image = open(path)?;
    let (width, height) = (image.width(), image.height());
    raster(path, width, height, image.to_luma8().into_raw())
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
    let truth = read_truth(&args.truth)?;
    let (prediction, kind) = match &prediction {
        PredictionImage::Mask(m) => (Prediction::Mask(m), "segmentation"),
        PredictionImage::Probability(p) => (
            Prediction::Probability(p),
            "probability map; ISBI scores at the best of thresholds 0.0..1.0",
        ),
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
