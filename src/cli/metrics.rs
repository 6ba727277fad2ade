//! `unetseg metrics`: scores predicted segmentations or probability maps against
//! ground-truth masks (pixel scores and the ISBI 2012 challenge's scores, as Fiji computes
//! them; see [`crate::metrics`]).
//!
//! How a prediction image is read (every page of it, colour converted to gray by
//! [`crate::imageio`]):
//! * only the values 0 and the format's maximum (255 for 8-bit, 65535 for
//!   16-bit) -> a segmentation in the masks' polarity (maximum = cell); swept like Fiji
//!   sweeps `mask / 255`, it gives the same cells at every threshold, so threshold 0.0 is
//!   reported;
//! * any other value -> a probability map, probability of cell =
//!   value / maximum; its pixel scores use 0.5 and its ISBI scores the best
//!   threshold of the challenge's sweep 0.0, 0.1, ..., 0.9999999999999999 (printed).
//!
//! A ground truth is read as 8-bit gray ([`GrayImage::to_u8`]); above 127 is cell.
//!
//! One prediction page against one truth page is scored on its own. Several pages (multi-page
//! TIFFs, or several `--pred`/`--truth` pairs, page k of the k-th `--pred` against page k of
//! the k-th `--truth`) are a stack: each slice is reported, and the stack by the challenge's
//! rule (one threshold for all slices: the mean of the slices' scores at each threshold, then
//! the best; see [`metrics::stack_report`]).

use crate::error::{Error, Result};
use crate::imageio::{self, GrayImage};
use crate::metrics::{self, MetricsReport, Prediction};
use crate::raster::{GrayF32, GrayU8};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Arguments of `unetseg metrics`.
#[derive(clap::Args, Debug)]
pub struct MetricsArgs {
    /// Predicted segmentation (0 = membrane, 255 = cell) or probability-of-cell
    /// map (any other values; 8- or 16-bit PNG, JPEG or TIFF; every page of a multi-page
    /// TIFF is a slice). Repeat it with `--truth` for a stack: the k-th `--pred` is scored
    /// against the k-th `--truth`.
    #[arg(long, value_name = "IMAGE", required = true)]
    pub pred: Vec<PathBuf>,
    /// Ground-truth mask (0 = membrane, 255 = cell interior), with as many pages as its `--pred`.
    #[arg(long, value_name = "MASK", required = true)]
    pub truth: Vec<PathBuf>,
    /// Print JSON instead of a table: one object with every metric for a single slice;
    /// `{"slices": [{"pred", "truth", "page", metrics...}], "stack": {metrics...}}` for a stack.
    #[arg(long)]
    pub json: bool,
}

/// A prediction page as read from disk, with what it was taken for.
enum PredictionImage {
    Mask(GrayU8),
    Probability(GrayF32),
}

impl PredictionImage {
    fn as_prediction(&self) -> Prediction<'_> {
        match self {
            PredictionImage::Mask(m) => Prediction::Mask(m),
            PredictionImage::Probability(p) => Prediction::Probability(p),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            PredictionImage::Mask(_) => "segmentation",
            PredictionImage::Probability(_) => {
                "probability map; ISBI scores at the best threshold of the challenge's sweep"
            }
        }
    }
}

/// A page: a mask when it holds only 0 and the format's maximum, a probability map
/// (value / maximum) otherwise.
fn prediction_page(page: &GrayImage) -> PredictionImage {
    match page {
        GrayImage::U8(r) if r.data().iter().all(|&v| v == 0 || v == u8::MAX) => PredictionImage::Mask(r.clone()),
        GrayImage::U16(r) if r.data().iter().all(|&v| v == 0 || v == u16::MAX) => {
            PredictionImage::Mask(r.map(|v| if v == 0 { 0 } else { u8::MAX }))
        }
        _ => PredictionImage::Probability(page.to_unit_f32()),
    }
}

/// Every page of an image file; fails naming the file when it holds none.
fn pages(path: &Path) -> Result<Vec<GrayImage>> {
    let pages = imageio::read_pages(path)?;
    if pages.is_empty() {
        return Err(Error::file(path, "the file holds no image"));
    }
    Ok(pages)
}

/// One slice of the stack: where it comes from and what it holds.
struct Slice {
    pred: PathBuf,
    truth: PathBuf,
    /// Page number in both files, from 1.
    page: usize,
    /// Pages in the files (1 = a single-page file).
    pages: usize,
    prediction: PredictionImage,
    truth_mask: GrayU8,
}

impl Slice {
    /// The name of the slice in the table: the prediction file, with its page when it has several.
    fn name(&self) -> String {
        let file =
            self.pred.file_name().map_or_else(|| self.pred.display().to_string(), |f| f.to_string_lossy().into());
        if self.pages > 1 {
            format!("{file}:{}", self.page)
        } else {
            file
        }
    }
}

/// Reads every `--pred` / `--truth` pair into slices; fails naming the files when the
/// numbers of files or pages, or the sizes, differ.
fn read_slices(args: &MetricsArgs) -> Result<Vec<Slice>> {
    if args.pred.len() != args.truth.len() {
        return Err(Error::invalid(format!(
            "{} --pred files but {} --truth files: give one ground truth per prediction",
            args.pred.len(),
            args.truth.len()
        )));
    }
    let mut slices = Vec::new();
    for (pred, truth) in args.pred.iter().zip(&args.truth) {
        let (pred_pages, truth_pages) = (pages(pred)?, pages(truth)?);
        if pred_pages.len() != truth_pages.len() {
            return Err(Error::invalid(format!(
                "prediction {} has {} pages but truth {} has {}",
                pred.display(),
                pred_pages.len(),
                truth.display(),
                truth_pages.len()
            )));
        }
        let count = pred_pages.len();
        for (k, (p, t)) in pred_pages.iter().zip(&truth_pages).enumerate() {
            let (pw, ph) = (p.width(), p.height());
            let (tw, th) = (t.width(), t.height());
            if (pw, ph) != (tw, th) {
                let page = if count > 1 { format!(" (page {})", k + 1) } else { String::new() };
                return Err(Error::invalid(format!(
                    "size mismatch{page}: prediction {} is {pw}x{ph} but truth {} is {tw}x{th}",
                    pred.display(),
                    truth.display()
                )));
            }
            slices.push(Slice {
                pred: pred.clone(),
                truth: truth.clone(),
                page: k + 1,
                pages: count,
                prediction: prediction_page(p),
                truth_mask: t.to_u8(),
            });
        }
    }
    Ok(slices)
}

fn print_single(report: &MetricsReport, slice: &Slice) {
    println!("prediction: {} ({})", slice.pred.display(), slice.prediction.kind());
    println!("truth:      {}", slice.truth.display());
    for (key, value) in report.entries() {
        println!("  {key:<18} {value:.6}");
    }
}

/// The columns of the stack table: (header, key).
const STACK_COLUMNS: [(&str, &str); 9] = [
    ("v_rand", "v_rand"),
    ("split", "v_rand_split"),
    ("merge", "v_rand_merge"),
    ("thr", "v_rand_threshold"),
    ("v_info", "v_info"),
    ("split", "v_info_split"),
    ("merge", "v_info_merge"),
    ("thr", "v_info_threshold"),
    ("pixel_acc", "pixel_accuracy"),
];

fn print_stack_row(name: &str, report: &MetricsReport) {
    let values = report.entries();
    let mut line = format!("{name:<24}");
    for (header, key) in STACK_COLUMNS {
        let value = values.iter().find(|(k, _)| *k == key).map_or(f64::NAN, |(_, v)| *v);
        let width = header.len().max(9);
        if key.ends_with("_threshold") {
            line += &format!(" {value:>width$.1}");
        } else {
            line += &format!(" {value:>width$.6}");
        }
    }
    println!("{line}");
}

fn print_stack(stack: &metrics::StackReport, slices: &[Slice]) {
    let mut header = format!("{:<24}", "slice");
    for (name, _) in STACK_COLUMNS {
        header += &format!(" {name:>width$}", width = name.len().max(9));
    }
    println!("{header}");
    for (slice, report) in slices.iter().zip(&stack.slices) {
        print_stack_row(&slice.name(), report);
    }
    print_stack_row("stack", &stack.stack);
    println!(
        "stack: {} slices, one threshold for all (mean of the slices' scores at each threshold, then the best)",
        slices.len()
    );
    for (key, value) in stack.stack.entries() {
        println!("  {key:<18} {value:.6}");
    }
}

/// A report as a JSON object with the metrics module's keys, after `prefix`'s entries.
fn report_json(prefix: Vec<(&str, Value)>, report: &MetricsReport) -> Value {
    let mut object = Map::new();
    for (key, value) in prefix {
        object.insert(key.into(), value);
    }
    for (key, value) in report.entries() {
        object.insert(key.into(), Value::from(value));
    }
    Value::Object(object)
}

/// Runs the subcommand.
pub fn run(args: MetricsArgs) -> Result<()> {
    let slices = read_slices(&args)?;
    let predictions: Vec<Prediction> = slices.iter().map(|s| s.prediction.as_prediction()).collect();
    let truths: Vec<GrayU8> = slices.iter().map(|s| s.truth_mask.clone()).collect();
    let stack = metrics::evaluate_stack(&predictions, &truths)?;
    if let ([slice], [report]) = (slices.as_slice(), stack.slices.as_slice()) {
        if args.json {
            let json = serde_json::to_string_pretty(report).map_err(Error::invalid)?;
            println!("{json}");
        } else {
            print_single(report, slice);
        }
        return Ok(());
    }
    if args.json {
        let per_slice: Vec<Value> = slices
            .iter()
            .zip(&stack.slices)
            .map(|(s, r)| {
                let prefix = vec![
                    ("pred", Value::from(s.pred.display().to_string())),
                    ("truth", Value::from(s.truth.display().to_string())),
                    ("page", Value::from(s.page)),
                ];
                report_json(prefix, r)
            })
            .collect();
        let doc = serde_json::json!({ "slices": per_slice, "stack": report_json(Vec::new(), &stack.stack) });
        println!("{}", serde_json::to_string_pretty(&doc).map_err(Error::invalid)?);
    } else {
        print_stack(&stack, &slices);
    }
    Ok(())
}
