//! `unetseg eval`: segments a folder of images exactly as `segment` does and
//! scores the result (`--scored`: the probability map, as the challenge scores it, by
//! default; or the 0.5 cut, or the post-processed mask) against the ground-truth mask of
//! the same name (`crate::metrics`), printing a table with the mean and the stack value
//! (the images scored as one stack by the challenge's rule: one threshold for all of them,
//! see `metrics::stack_report`), or JSON.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::segment::{load_network, predict_page};
use crate::device::DeviceChoice;
use crate::imageio::{pair_images_with_masks, read_mask, read_pages, ImageMaskPair};
use crate::inference::{Edges, TileOptions};
use crate::metrics::{self, MetricsReport};
use crate::pipeline::{self, PipelineOptions};
use crate::train::data::parse_slice_range;
use crate::{Error, Result};

/// Arguments of `unetseg eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Weights file; without it, the default weights built into unetseg.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Folder of images (PNG, JPEG, TIFF; the first page of each).
    #[arg(long)]
    pub images: PathBuf,
    /// Folder of ground-truth masks (0 = membrane, 255 = cell), paired with the images by file stem.
    #[arg(long)]
    pub masks: PathBuf,
    /// Print JSON: {"images": [{"name": ..., metrics...}], "mean": {metrics...}, "stack": {metrics...}}
    /// ("mean": the per-image means; "stack": the challenge's score of the images as one stack).
    #[arg(long)]
    pub json: bool,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// What a same-padded network sees past the image border: `zero` (its own zero
    /// padding, as in training) or `mirror` (the original's mirrored margins).
    #[arg(long, value_enum, default_value_t = Edges::ZeroPadding)]
    pub edges: Edges,
    /// What is scored: the cell probability map (the challenge's way: its scores are
    /// the best over thresholds), its cut at 0.5, or the post-processed mask (Otsu and
    /// watershed, what the cells come from).
    #[arg(long, value_enum, default_value_t = Scored::Probability)]
    pub scored: Scored,
    /// Only the images at positions A..B (0-based, inclusive, in name order), e.g.
    /// `24..26` for the slices the default weights were not trained on.
    #[arg(long, value_parser = parse_slices)]
    pub slices: Option<(usize, usize)>,
}

/// Parses `--slices` (of `eval` and `robustness`).
pub(super) fn parse_slices(text: &str) -> std::result::Result<(usize, usize), String> {
    parse_slice_range(text).map_err(|e| e.to_string())
}

/// The image/mask pairs of the folders `images` and `masks`, only the block
/// `slices` (first..=last, in name order) when given; fails naming `images` when
/// the block runs past the folder's end.
pub(super) fn paired_slices(images: &Path, masks: &Path, slices: Option<(usize, usize)>) -> Result<Vec<ImageMaskPair>> {
    let mut pairs = pair_images_with_masks(images, masks)?;
    if let Some((first, last)) = slices {
        if last >= pairs.len() {
            return Err(Error::file(
                images,
                format!("--slices {first}..{last}: the folder holds only {} images", pairs.len()),
            ));
        }
        pairs = pairs.drain(first..=last).collect();
    }
    Ok(pairs)
}

/// The output of `segment` that `eval` scores.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scored {
    /// `<stem>.prob.png`: the cell probability.
    Probability,
    /// `<stem>.cut.png`: the probability cut at 0.5, before post-processing.
    Cut,
    /// `<stem>.mask.png`: the post-processed mask, the one the cells come from
    /// (`post` is accepted too, its name before `segment`'s files were renamed).
    #[value(alias = "post")]
    Mask,
}

/// Runs the subcommand.
pub fn run(args: EvalArgs) -> Result<()> {
    let pairs = paired_slices(&args.images, &args.masks, args.slices)?;
    let network = load_network(args.weights.as_deref(), args.device)?;
    let tiles = TileOptions { edges: args.edges, ..TileOptions::default() };
    let mut scored = Vec::with_capacity(pairs.len());
    let mut slices = Vec::with_capacity(pairs.len());
    for pair in &pairs {
        let (name, image_path) = (&pair.stem, &pair.image);
        let truth = read_mask(&pair.mask)?;
        let page = read_pages(image_path)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::file(image_path, "the file holds no image"))?;
        let probability = predict_page(&network, &page, &tiles, name).map_err(|e| Error::file(image_path, e))?;
        let slice = match args.scored {
            Scored::Probability => metrics::score_slice(&probability, &truth),
            Scored::Cut | Scored::Mask => {
                let analysis = pipeline::analyse(&probability, &PipelineOptions::default())
                    .map_err(|e| Error::file(image_path, e))?;
                let image = if args.scored == Scored::Cut { &analysis.cut } else { &analysis.steps.final_mask };
                metrics::score_slice(image, &truth)
            }
        }
        .map_err(|e| Error::file(image_path, e))?;
        let report = slice.report();
        slices.push(slice);
        if !args.json {
            print_row(name, &report, scored.is_empty());
        }
        scored.push((name.clone(), report));
    }
    let reports: Vec<MetricsReport> = scored.iter().map(|(_, r)| *r).collect();
    let mean = metrics::mean(&reports).ok_or_else(|| Error::invalid("no images to evaluate"))?;
    // The challenge's score of the images as one stack: one threshold for all of them.
    let stack = metrics::stack_report(&slices).ok_or_else(|| Error::invalid("no images to evaluate"))?;
    if args.json {
        let images: Vec<Value> = scored.iter().map(|(name, r)| report_json(Some(name), r)).collect();
        let doc = json!({ "images": images, "mean": report_json(None, &mean), "stack": report_json(None, &stack) });
        println!("{}", serde_json::to_string_pretty(&doc).map_err(|e| Error::invalid(e.to_string()))?);
    } else {
        print_row("mean", &mean, false);
        print_row("stack", &stack, false);
    }
    Ok(())
}

/// One table row (with the header before the first).
fn print_row(name: &str, r: &MetricsReport, header: bool) {
    if header {
        println!(
            "{:<16} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "image", "pixel_acc", "v_rand", "v_info", "iou_cell", "dice_cell"
        );
    }
    println!(
        "{:<16} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4}",
        name, r.pixel_accuracy, r.v_rand, r.v_info, r.iou_cell, r.dice_cell
    );
}

/// The report as a JSON object with the metrics module's keys, `name` first when given.
fn report_json(name: Option<&str>, report: &MetricsReport) -> Value {
    let mut object = Map::new();
    if let Some(name) = name {
        object.insert("name".into(), Value::from(name));
    }
    for (key, value) in report.entries() {
        object.insert(key.into(), Value::from(value));
    }
    Value::Object(object)
}
