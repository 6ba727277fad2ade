//! `unetseg segment`: overlap-tile inference, thresholding, the watershed
//! post-processing and the cell table for each input image (each page of a
//! multi-page TIFF).
//!
//! Per image `<stem>` (`<stem>_p000`, `<stem>_p001`, ... for the pages of a
//! multi-page TIFF) it writes:
//! - `<stem>.prob.png`: the foreground (cell) probability, 16-bit (65535 = 1);
//! - `<stem>.mask.png`: 255 where the probability is above 0.5 (cell), else 0 (membrane);
//! - `<stem>.post.png`: the post-processing's final image (255 = cell interior);
//! - `<stem>.labels.png`: the cells of the final image, numbered 1.., 16-bit;
//! - `<stem>.cells.csv`: one line per cell (area, centroid, bounding box).
//!
//! The post-processing runs on the probability map as 8-bit gray (`round(255 p)`):
//! its threshold (Otsu by default, as the original) separates membranes from cells,
//! and its watershed floods the graded probability rather than a flat binary mask.
//! `--threshold 127` cuts where the mask does, at 0.5.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, DeviceKind};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cells::Cells;
use crate::imageio::{read_pages, write_png_u16, write_png_u8, GrayImage};
use crate::inference::{predict_probability, Edges, TileOptions, TilePredictor};
use crate::model::{self, CpuUNet, UNet};
use crate::postprocess::{self, PostprocessParams, Threshold};
use crate::{Error, GrayF32, GrayU8, Result};

/// Arguments of `unetseg segment`.
#[derive(clap::Args, Debug)]
pub struct SegmentArgs {
    /// Weights file; without it, the default weights built into unetseg.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Images to segment (PNG, JPEG, TIFF; multi-page TIFFs give one result per page).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder (created if missing); the current folder by default.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Post-processing: sure foreground = distance > F x the largest distance.
    #[arg(long, default_value_t = 0.2)]
    pub fg_fraction: f32,
    /// Post-processing threshold of the 8-bit probability: `otsu` or a level 0..=255.
    #[arg(long, default_value = "otsu", value_parser = parse_threshold)]
    pub threshold: Threshold,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// What a same-padded network sees past the image border: `zero` (its own zero
    /// padding, as in training) or `mirror` (the original's mirrored margins).
    #[arg(long, value_enum, default_value_t = Edges::ZeroPadding)]
    pub edges: Edges,
}

/// The compute device of `segment` and `eval`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU: the gemm engine (`CpuUNet`) for same-padded networks, burn's Flex
    /// backend for valid-padded ones.
    Cpu,
    /// The best GPU wgpu finds (Vulkan, Metal, DX12).
    Wgpu,
}

impl DeviceChoice {
    /// The burn device.
    pub fn device(self) -> Device {
        match self {
            DeviceChoice::Cpu => Device::flex(),
            DeviceChoice::Wgpu => Device::wgpu(DeviceKind::DefaultDevice),
        }
    }
}

/// Parses `otsu` or an 8-bit level.
fn parse_threshold(text: &str) -> std::result::Result<Threshold, String> {
    if text.eq_ignore_ascii_case("otsu") {
        return Ok(Threshold::Otsu);
    }
    text.parse::<u8>().map(Threshold::Fixed).map_err(|_| format!("'{text}' is neither 'otsu' nor a level 0..=255"))
}

/// Everything `segment` computes for one image.
pub struct Segmentation {
    /// Foreground (cell) probability per pixel.
    pub probability: GrayF32,
    /// 255 where the probability is above 0.5, else 0.
    pub mask: GrayU8,
    /// The post-processing's final image (255 = cell interior).
    pub post: GrayU8,
    /// The cells of `post`.
    pub cells: Cells,
}

/// Loads `weights`, or the embedded default weights when `None`, on `device`.
fn load_model(weights: Option<&Path>, device: &Device) -> Result<UNet> {
    match weights {
        Some(path) => model::load(path, device),
        None => model::load_from_bytes(model::default_weights_bytes(), "the built-in default weights", device),
    }
}

/// The network of `weights` (or the default weights) ready to predict tiles on
/// `device`: on the CPU, the gemm engine whenever it can run the architecture.
pub fn load_predictor(weights: Option<&Path>, device: DeviceChoice) -> Result<Box<dyn TilePredictor>> {
    let model = load_model(weights, &device.device())?;
    if device == DeviceChoice::Cpu && CpuUNet::supports(model.config()) {
        return Ok(Box::new(CpuUNet::new(&model)?));
    }
    Ok(Box::new(model))
}

/// Predicts (tiled by `options`), thresholds, post-processes and measures one image;
/// images of more than one tile show a progress bar labelled `name` on a terminal.
pub fn segment_page(
    model: &dyn TilePredictor,
    page: &GrayImage,
    options: &TileOptions,
    params: &PostprocessParams,
    name: &str,
) -> Result<Segmentation> {
    let bar = ProgressBar::hidden();
    let progress = |done: usize, total: usize| {
        if total > 1 && bar.is_hidden() && done < total {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_length(total as u64);
            bar.set_message(name.to_string());
        }
        bar.set_position(done as u64);
    };
    bar.set_style(
        ProgressStyle::with_template("{msg}: tile {pos}/{len} [{bar:30}] eta {eta}")
            .map_err(Error::invalid)?
            .progress_chars("=> "),
    );
    let probability = match page {
        GrayImage::U8(raster) => predict_probability(model, raster, options, progress),
        GrayImage::U16(raster) => predict_probability(model, raster, options, progress),
    };
    bar.finish_and_clear();
    let probability = probability?;
    let mask = probability.map(|p| if p > 0.5 { 255 } else { 0 });
    let gray = probability.map(|p| (p * 255.0).round().clamp(0.0, 255.0) as u8);
    let post = postprocess::run(&gray, params)?.final_mask;
    let cells = Cells::from_segmentation(&post);
    Ok(Segmentation { probability, mask, post, cells })
}

/// Runs the subcommand: every input is tried; failures are reported as they
/// happen and make the exit status non-zero at the end.
pub fn run(args: SegmentArgs) -> Result<()> {
    let params =
        PostprocessParams { threshold: args.threshold, fg_fraction: args.fg_fraction, ..PostprocessParams::default() };
    params.validate()?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::file(&args.out, format!("cannot create the output folder: {e}")))?;
    let model = load_predictor(args.weights.as_deref(), args.device)?;
    let options = TileOptions { edges: args.edges, ..TileOptions::default() };
    let mut failed = 0;
    for input in &args.inputs {
        if let Err(e) = segment_file(model.as_ref(), input, &args.out, &options, &params) {
            eprintln!("error: {e}");
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Error::invalid(format!("{failed} of {} inputs could not be segmented", args.inputs.len())));
    }
    Ok(())
}

/// Segments every page of `input` and writes the results into `out`.
fn segment_file(
    model: &dyn TilePredictor,
    input: &Path,
    out: &Path,
    options: &TileOptions,
    params: &PostprocessParams,
) -> Result<()> {
    let pages = read_pages(input)?;
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    for (index, page) in pages.iter().enumerate() {
        let name = if pages.len() > 1 { format!("{stem}_p{index:03}") } else { stem.clone() };
        let start = Instant::now();
        let result = segment_page(model, page, options, params, &name).map_err(|e| Error::file(input, e))?;
        write_outputs(&result, out, &name)?;
        println!(
            "{name}: {}x{}, {:.2} s, {} cells",
            page.width(),
            page.height(),
            start.elapsed().as_secs_f64(),
            result.cells.count()
        );
    }
    Ok(())
}

/// Writes the five result files of one image.
fn write_outputs(result: &Segmentation, out: &Path, name: &str) -> Result<()> {
    let probability = result.probability.map(|p| (p * 65535.0).round().clamp(0.0, 65535.0) as u16);
    write_png_u16(&out.join(format!("{name}.prob.png")), &probability)?;
    write_png_u8(&out.join(format!("{name}.mask.png")), &result.mask)?;
    write_png_u8(&out.join(format!("{name}.post.png")), &result.post)?;
    write_png_u16(&out.join(format!("{name}.labels.png")), &result.cells.labels_u16()?)?;
    let csv = out.join(format!("{name}.cells.csv"));
    std::fs::write(&csv, result.cells.to_csv()).map_err(|e| Error::file(&csv, format!("cannot write: {e}")))
}
