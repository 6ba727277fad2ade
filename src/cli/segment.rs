//! `unetseg segment`: overlap-tile inference, thresholding, the watershed
//! post-processing and the cell table for each input image (each page of a
//! multi-page TIFF).
//!
//! Per image `<stem>` (`<stem>_p000`, `<stem>_p001`, ... for the pages of a
//! multi-page TIFF) it writes:
//! - `<stem>.prob.png`: the foreground (cell) probability, 16-bit (65535 = 1);
//! - `<stem>.cut.png`: the probability cut, before any post-processing: 255 where the
//!   probability is above the threshold (cell), else 0 (membrane);
//! - `<stem>.mask.png`: the post-processed mask, the post-processing's final image
//!   (255 = cell interior): the one the cells come from;
//! - `<stem>.labels.png`: the cells of that mask, numbered 1.., 16-bit; for a page of
//!   more than 65535 cells `<stem>.labels.tif` instead, 32-bit;
//! - `<stem>.cells.csv`: one line per cell (area, centroid, bounding box; with the
//!   area in physical units too, `area_physical` and `area_unit`, when the input gives
//!   its pixel size);
//! - `<stem>.RoiSet.zip`: the cells' outlines as an ImageJ ROI set, one `0001.roi`...
//!   per cell, traced on the pixel corners (a polygon, or a composite ROI for a cell
//!   with holes; see [`crate::export::roi`]): drop it onto Fiji to open the ROI
//!   Manager over the image.
//!
//! A multi-page input also gets `<stem>.labels.tif`, the labels of all its pages as
//! one multi-page TIFF (16-bit, or 32-bit when a page has more than 65535 cells).
//!
//! Inputs are PNG, JPEG or TIFF: classic or BigTIFF, in strips or tiles, 8/16-bit or
//! float, uncompressed, LZW, Deflate, PackBits or JPEG; the full-resolution pages of
//! a pyramid; and OME-TIFF, whose first image's planes are segmented with the pixel
//! size of its OME-XML, which is printed (see [`crate::imageio::decode_image_file`]).
//! Each result file is written on its own: one that cannot be made or written is
//! reported by name and the others are still written; the exit status is then
//! non-zero.
//!
//! Pages of more than 2048x2048 pixels (`--tiled auto`, the default) are
//! post-processed tile by tile ([`crate::pipeline::analyse_tiled`]), holding only
//! the 8-bit probability, the cut and the final image whole; `--tiled always` and
//! `--tiled never` choose for every page. The module [`crate::postprocess::tiled`]
//! says where the two may differ (nowhere on the shipped slices).
//!
//! Everything after the network is [`crate::pipeline`], which the page runs too, so
//! these files are byte for byte the page's downloads (for the same probability).
//! `--threshold otsu` (the default) cuts at 0.5 and post-processes at Otsu's level;
//! `--threshold 0.4` uses that probability for both.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::device::DeviceChoice;
use crate::export::label_tiff::{write_label_tiff, LabelPlane};
use crate::imageio::{read_image_file, GrayImage};
use crate::inference::{predict_probability, Edges, Network, TileOptions};
use crate::model;
use crate::pipeline::{self, CellThreshold, PipelineOptions, ResultFile, LABELS_TIFF_SUFFIX};
use crate::postprocess::tiled::TileLayout;
use crate::{Error, GrayF32, Result};

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
    /// Cut between membrane and cell, a probability: `otsu` (`cut.png` at 0.5, the
    /// post-processing at Otsu's level) or a probability strictly between 0 and 1 for both.
    #[arg(long, default_value = "otsu", value_parser = parse_threshold)]
    pub threshold: CellThreshold,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// What a same-padded network sees past the image border: `zero` (its own zero
    /// padding, as in training) or `mirror` (the original's mirrored margins).
    #[arg(long, value_enum, default_value_t = Edges::ZeroPadding)]
    pub edges: Edges,
    /// When the post-processing runs tile by tile (512-pixel cores, see
    /// `unetseg::postprocess::tiled`) instead of on the whole image: `auto` above
    /// 2048x2048 pixels, `always` or `never`.
    #[arg(long, value_enum, default_value_t = Tiling::Auto)]
    pub tiled: Tiling,
}

/// When `segment` post-processes tile by tile.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tiling {
    /// For pages of more than [`TILED_ABOVE_PIXELS`] pixels.
    Auto,
    /// For every page.
    Always,
    /// Never: every intermediate of the whole page is held at once.
    Never,
}

/// Pages of more pixels than this (2048 x 2048) are post-processed tile by tile under
/// [`Tiling::Auto`]: the whole-image intermediates take about 25 bytes a pixel, the
/// tiled path's whole-image buffers 6 (the 8-bit input, the cut, the final image).
pub const TILED_ABOVE_PIXELS: usize = 2048 * 2048;

impl Tiling {
    /// Whether a page of `pixels` pixels is post-processed tile by tile.
    fn applies_to(self, pixels: usize) -> bool {
        match self {
            Tiling::Auto => pixels > TILED_ABOVE_PIXELS,
            Tiling::Always => true,
            Tiling::Never => false,
        }
    }
}

/// Parses `--threshold` for clap.
fn parse_threshold(text: &str) -> std::result::Result<CellThreshold, String> {
    CellThreshold::parse(text).map_err(|e| e.to_string())
}

/// The network of `weights` (or the embedded default weights) on `device`, on the
/// engine that runs it there.
pub fn load_network(weights: Option<&Path>, device: DeviceChoice) -> Result<Network> {
    let burn_device = device.device()?;
    let model = match weights {
        Some(path) => model::load(path, &burn_device)?,
        None => model::load_from_bytes(model::default_weights_bytes(), "the built-in default weights", &burn_device)?,
    };
    let name = weights.map_or_else(|| "the built-in default weights".to_string(), |p| p.display().to_string());
    Network::new(model, device.compute()).map_err(|e| Error::file(name, e))
}

/// The cell probability of `page`, predicted tile by tile; images of more than one
/// tile show a progress bar labelled `name` on a terminal.
pub fn predict_page(network: &Network, page: &GrayImage, options: &TileOptions, name: &str) -> Result<GrayF32> {
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template("{msg}: tile {pos}/{len} [{bar:30}] eta {eta}")
            .map_err(Error::invalid)?
            .progress_chars("=> "),
    );
    let progress = |done: usize, total: usize| {
        if total > 1 && bar.is_hidden() && done < total {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_length(total as u64);
            bar.set_message(name.to_string());
        }
        bar.set_position(done as u64);
    };
    let probability = predict_probability(network, page.samples(), options, progress);
    bar.finish_and_clear();
    probability
}

/// Runs the subcommand: every input is tried; failures (of an input, or of one of
/// its result files) are reported as they happen and make the exit status non-zero
/// at the end.
pub fn run(args: SegmentArgs) -> Result<()> {
    let options = PipelineOptions { threshold: args.threshold, fg_fraction: args.fg_fraction, pixel_size: None };
    options.validate()?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::file(&args.out, format!("cannot create the output folder: {e}")))?;
    let network = load_network(args.weights.as_deref(), args.device)?;
    let tiles = TileOptions { edges: args.edges, ..TileOptions::default() };
    let (mut failed_inputs, mut failed_files) = (0, 0);
    for input in &args.inputs {
        match segment_file(&network, input, &args.out, &tiles, &options, args.tiled) {
            Ok(failed) => failed_files += failed,
            Err(e) => {
                eprintln!("error: {e}");
                failed_inputs += 1;
            }
        }
    }
    let mut problems = Vec::new();
    if failed_inputs > 0 {
        problems.push(format!("{failed_inputs} of {} inputs could not be segmented", args.inputs.len()));
    }
    if failed_files > 0 {
        problems.push(format!("{failed_files} result file(s) could not be written"));
    }
    if !problems.is_empty() {
        return Err(Error::invalid(problems.join("; ")));
    }
    Ok(())
}

/// Segments every page of `input` and writes the results into `out`, with the label
/// stack of a multi-page input; returns how many result files could not be written
/// (each reported as it happens).
fn segment_file(
    network: &Network,
    input: &Path,
    out: &Path,
    tiles: &TileOptions,
    options: &PipelineOptions,
    tiling: Tiling,
) -> Result<usize> {
    let pages = read_image_file(input)?;
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    let mut failed = 0;
    let mut stack = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        let name = if pages.len() > 1 { format!("{stem}_p{index:03}") } else { stem.clone() };
        let start = Instant::now();
        let options = PipelineOptions { pixel_size: page.pixel_size, ..*options };
        let probability = predict_page(network, &page.image, tiles, &name).map_err(|e| Error::file(input, e))?;
        let mut files = vec![pipeline::probability_file(&probability).map_err(|error| (pipeline::PROB_SUFFIX, error))];
        let cells = if tiling.applies_to(page.image.width() * page.image.height()) {
            let analysis = pipeline::analyse_tiled(&probability, &options, &TileLayout::default());
            drop(probability);
            let analysis = analysis.map_err(|e| Error::file(input, e))?;
            files.extend(analysis.files().into_iter().map(|file| file.map_err(|f| (f.suffix, f.error))));
            analysis.cells
        } else {
            let analysis = pipeline::analyse(&probability, &options).map_err(|e| Error::file(input, e))?;
            drop(probability);
            files.extend(analysis.files().into_iter().map(|file| file.map_err(|f| (f.suffix, f.error))));
            analysis.cells
        };
        failed += write_outputs(files, out, &name);
        if pages.len() > 1 {
            stack.push(LabelPlane::of(&cells));
        }
        let pixel = page.pixel_size.map(|size| format!(", pixel {size}")).unwrap_or_default();
        println!(
            "{name}: {}x{}{pixel}, {:.2} s, {} cells",
            page.image.width(),
            page.image.height(),
            start.elapsed().as_secs_f64(),
            cells.count()
        );
    }
    if !stack.is_empty() {
        let path = out.join(format!("{stem}.{LABELS_TIFF_SUFFIX}"));
        if let Err(e) = write_stack(&path, &stack) {
            eprintln!("error: {e}");
            failed += 1;
        }
    }
    Ok(failed)
}

/// Writes the result files of one image (each made, or the suffix it would have had
/// and why not), each on its own; returns how many could not be made or written
/// (each reported on stderr, naming the file).
fn write_outputs(files: Vec<std::result::Result<ResultFile, (&str, Error)>>, out: &Path, name: &str) -> usize {
    let mut failed = 0;
    for file in files {
        let written =
            file.map_err(|(suffix, error)| Error::file(out.join(format!("{name}.{suffix}")), error)).and_then(|file| {
                let path = out.join(format!("{name}.{}", file.suffix));
                std::fs::write(&path, &file.bytes).map_err(|e| Error::file(&path, format!("cannot write: {e}")))
            });
        if let Err(e) = written {
            eprintln!("error: {e}");
            failed += 1;
        }
    }
    failed
}

/// Writes the label planes of a multi-page input as one TIFF at `path`.
fn write_stack(path: &Path, stack: &[LabelPlane]) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::file(path, format!("cannot write: {e}"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| fail(&e))?);
    write_label_tiff(&mut file, stack).map_err(|e| fail(&e))?;
    std::io::Write::flush(&mut file).map_err(|e| fail(&e))
}
