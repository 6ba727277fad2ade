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
//! Pages of more than 2048x2048 pixels (`--tiled auto`, the default) go through the
//! streamed pipeline ([`crate::pipeline::streamed`]): the probability's rows written
//! as the network finishes them, the post-processing tile by tile, the cells found
//! and their labels written row by row, so that only the page, the 8-bit
//! probability and the final image are ever whole (a byte each a pixel, besides the
//! page); `--tiled always` and `--tiled never` choose for every page. The module
//! [`crate::postprocess::tiled`] says where the two may differ (nowhere on the
//! shipped slices); the files are otherwise byte for byte the same.
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
use crate::imageio::{read_image_file, GrayImage, Page};
use crate::inference::{predict_probability, predict_probability_rows, Edges, Network, TileOptions};
use crate::model;
use crate::pipeline::streamed::{analyse_streamed, OpenResult, ProbabilityStream};
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
    /// When a page goes through the streamed pipeline (the post-processing tile by
    /// tile with 512-pixel cores, see `unetseg::postprocess::tiled`; results written
    /// row by row) instead of holding every step whole: `auto` above 2048x2048
    /// pixels, `always` or `never`.
    #[arg(long, value_enum, default_value_t = Tiling::Auto)]
    pub tiled: Tiling,
}

/// When `segment` runs a page through the streamed pipeline.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tiling {
    /// For pages of more than [`TILED_ABOVE_PIXELS`] pixels.
    Auto,
    /// For every page.
    Always,
    /// Never: every intermediate of the whole page is held at once.
    Never,
}

/// Pages of more pixels than this (2048 x 2048) go through the streamed pipeline
/// under [`Tiling::Auto`]: the whole-image path takes about 29 bytes a pixel, the
/// streamed one 2 (the 8-bit probability and the final image) besides the page.
pub const TILED_ABOVE_PIXELS: usize = 2048 * 2048;

impl Tiling {
    /// Whether a page of `pixels` pixels goes through the streamed pipeline.
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
    with_tile_progress(name, |progress| predict_probability(network, page.samples(), options, progress))
}

/// Runs `predict(progress)` with a progress bar labelled `name`, drawn on a terminal
/// once `progress(done, total)` reports more than one tile.
fn with_tile_progress<T>(name: &str, predict: impl FnOnce(&mut dyn FnMut(usize, usize)) -> Result<T>) -> Result<T> {
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template("{msg}: tile {pos}/{len} [{bar:30}] eta {eta}")
            .map_err(Error::invalid)?
            .progress_chars("=> "),
    );
    let mut progress = |done: usize, total: usize| {
        if total > 1 && bar.is_hidden() && done < total {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_length(total as u64);
            bar.set_message(name.to_string());
        }
        bar.set_position(done as u64);
    };
    let result = predict(&mut progress);
    bar.finish_and_clear();
    result
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
    let (page_count, mut failed, mut stack) = (pages.len(), 0, Vec::new());
    for (index, page) in pages.into_iter().enumerate() {
        let name = if page_count > 1 { format!("{stem}_p{index:03}") } else { stem.clone() };
        let start = Instant::now();
        let options = PipelineOptions { pixel_size: page.pixel_size, ..*options };
        let (width, height, pixel) = (page.image.width(), page.image.height(), page.pixel_size);
        let segmented = if tiling.applies_to(width * height) {
            segment_streamed(network, page, tiles, &options, &OutputFolder { out, name: &name }, page_count > 1)
        } else {
            segment_whole(network, &page, tiles, &options, out, &name, page_count > 1)
        };
        let Segmented { cells, failed: failed_files, plane } = segmented.map_err(|e| Error::file(input, e))?;
        failed += failed_files;
        stack.extend(plane);
        let pixel = pixel.map(|size| format!(", pixel {size}")).unwrap_or_default();
        println!("{name}: {width}x{height}{pixel}, {:.2} s, {cells} cells", start.elapsed().as_secs_f64());
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

/// What segmenting one page gave.
struct Segmented {
    /// How many cells it has.
    cells: usize,
    /// How many of its result files could not be written (each reported).
    failed: usize,
    /// Its labels, when wanted for a stack.
    plane: Option<LabelPlane>,
}

/// Segments `page` holding every intermediate whole ([`pipeline::analyse`]) and
/// writes its files as `out/<name>.<suffix>`; with `stacked`, keeps its label plane.
fn segment_whole(
    network: &Network,
    page: &Page,
    tiles: &TileOptions,
    options: &PipelineOptions,
    out: &Path,
    name: &str,
    stacked: bool,
) -> Result<Segmented> {
    let probability = predict_page(network, &page.image, tiles, name)?;
    let mut files = vec![pipeline::probability_file(&probability).map_err(|error| (pipeline::PROB_SUFFIX, error))];
    let analysis = pipeline::analyse(&probability, options)?;
    drop(probability);
    files.extend(analysis.files().into_iter().map(|file| file.map_err(|f| (f.suffix, f.error))));
    let failed = write_outputs(files, out, name);
    let plane = stacked.then(|| LabelPlane::of(&analysis.cells));
    Ok(Segmented { cells: analysis.cells.count(), failed, plane })
}

/// Segments `page` (freed once the network has run) with the streamed pipeline
/// ([`pipeline::streamed`]: rows of the probability written as they come, the
/// post-processing tile by tile, cells found row by row) and writes its files
/// through `folder`; with `stacked`, keeps its label plane. Each file is written
/// under a temporary name and renamed when complete, so that a failure (of the
/// network, or of one file) leaves no partial file and keeps an earlier one.
fn segment_streamed(
    network: &Network,
    page: Page,
    tiles: &TileOptions,
    options: &PipelineOptions,
    folder: &OutputFolder<'_>,
    stacked: bool,
) -> Result<Segmented> {
    let (width, height) = (page.image.width(), page.image.height());
    let mut open = folder.clone();
    let mut stream = ProbabilityStream::new(width, height, options, &mut open);
    let predicted = with_tile_progress(folder.name, |progress| {
        predict_probability_rows(network, page.image.samples(), tiles, progress, |rows| stream.add(&rows))
    });
    drop(page);
    if let Err(e) = predicted {
        stream.abandon(&mut open);
        return Err(e);
    }
    let (gray, mut failures) = stream.finish(&mut open)?;
    let analysis = analyse_streamed(gray, options, &TileLayout::default())?;
    failures.extend(analysis.write_files(&mut open));
    for failure in &failures {
        eprintln!("error: {}", Error::file(folder.path(failure.suffix), &failure.error));
    }
    let plane = if stacked { Some(analysis.label_plane()?) } else { None };
    Ok(Segmented { cells: analysis.cells.count(), failed: failures.len(), plane })
}

/// The output folder and a page's name: result files `<out>/<name>.<suffix>`,
/// written as `<out>/<name>.<suffix>.partial` until complete.
#[derive(Clone, Copy)]
struct OutputFolder<'a> {
    out: &'a Path,
    name: &'a str,
}

impl OutputFolder<'_> {
    /// The path of the result file of `suffix`.
    fn path(&self, suffix: &str) -> PathBuf {
        self.out.join(format!("{}.{suffix}", self.name))
    }

    /// Where the file of `suffix` is written until it is complete.
    fn partial_path(&self, suffix: &str) -> PathBuf {
        self.out.join(format!("{}.{suffix}.partial", self.name))
    }
}

impl OpenResult for OutputFolder<'_> {
    type File = std::fs::File;

    fn open(&mut self, suffix: &'static str) -> Result<std::fs::File> {
        std::fs::File::create(self.partial_path(suffix)).map_err(|e| Error::invalid(format!("cannot create: {e}")))
    }

    fn close(&mut self, suffix: &'static str, complete: bool) -> Result<()> {
        let partial = self.partial_path(suffix);
        let renamed = if complete {
            std::fs::rename(&partial, self.path(suffix)).map_err(|e| Error::invalid(format!("cannot write: {e}")))
        } else {
            Ok(())
        };
        if renamed.is_err() || !complete {
            let _ = std::fs::remove_file(&partial);
        }
        renamed
    }
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
