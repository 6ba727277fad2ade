//! `unetseg eval`: segments a folder of images exactly as `segment` does and
//! scores each 0.5-threshold mask against the ground-truth mask of the same name
//! (`crate::metrics`), printing a table with the mean, or JSON.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::segment::{load_predictor, segment_page, DeviceChoice};
use crate::imageio::{read_mask, read_pages};
use crate::inference::{Edges, TileOptions};
use crate::metrics::{self, MetricsReport};
use crate::postprocess::PostprocessParams;
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
    /// Print JSON: {"images": [{"name": ..., metrics...}], "mean": {metrics...}}.
    #[arg(long)]
    pub json: bool,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// What a same-padded network sees past the image border: `zero` (its own zero
    /// padding, as in training) or `mirror` (the original's mirrored margins).
    #[arg(long, value_enum, default_value_t = Edges::ZeroPadding)]
    pub edges: Edges,
}

/// File extensions read as images.
const IMAGE_EXTENSIONS: [&str; 5] = ["png", "tif", "tiff", "jpg", "jpeg"];

/// Runs the subcommand.
pub fn run(args: EvalArgs) -> Result<()> {
    let pairs = pair_images_with_masks(&args.images, &args.masks)?;
    let model = load_predictor(args.weights.as_deref(), args.device)?;
    let params = PostprocessParams::default();
    let options = TileOptions { edges: args.edges, ..TileOptions::default() };
    let mut scored = Vec::with_capacity(pairs.len());
    for (name, image_path, mask_path) in &pairs {
        let truth = read_mask(mask_path)?;
        let page = read_pages(image_path)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::file(image_path, "the file holds no image"))?;
        let result =
            segment_page(model.as_ref(), &page, &options, &params, name).map_err(|e| Error::file(image_path, e))?;
        let report = metrics::evaluate(&result.mask, &truth).map_err(|e| Error::file(image_path, e))?;
        if !args.json {
            print_row(name, &report, scored.is_empty());
        }
        scored.push((name.clone(), report));
    }
    let reports: Vec<MetricsReport> = scored.iter().map(|(_, r)| *r).collect();
    let mean = metrics::mean(&reports).ok_or_else(|| Error::invalid("no images to evaluate"))?;
    if args.json {
        let images: Vec<Value> = scored.iter().map(|(name, r)| report_json(Some(name), r)).collect();
        let doc = json!({ "images": images, "mean": report_json(None, &mean) });
        println!("{}", serde_json::to_string_pretty(&doc).map_err(|e| Error::invalid(e.to_string()))?);
    } else {
        print_row("mean", &mean, false);
    }
    Ok(())
}

/// `(stem, image, mask)` for every image in `images`, sorted by name; fails naming
/// the first image without a mask.
fn pair_images_with_masks(images: &Path, masks: &Path) -> Result<Vec<(String, PathBuf, PathBuf)>> {
    let image_files = image_files(images)?;
    if image_files.is_empty() {
        return Err(Error::file(images, "the folder holds no images (png, tif, tiff, jpg, jpeg)"));
    }
    let mask_files = image_files_by_stem(masks)?;
    image_files
        .into_iter()
        .map(|path| {
            let stem = file_stem(&path);
            let mask = mask_files
                .iter()
                .find(|(s, _)| *s == stem)
                .map(|(_, m)| m.clone())
                .ok_or_else(|| Error::file(&path, format!("no mask named {stem}.* in {}", masks.display())))?;
            Ok((stem, path, mask))
        })
        .collect()
}

/// The image files of `dir`, sorted.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot list the folder: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The image files of `dir` with their stems.
fn image_files_by_stem(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    Ok(image_files(dir)?.into_iter().map(|p| (file_stem(&p), p)).collect())
}

/// The file name without its extension.
fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
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
