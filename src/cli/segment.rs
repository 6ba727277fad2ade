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
//! - `<stem>.labels.png`: the cells of that mask, numbered 1.., 16-bit;
//! - `<stem>.cells.csv`: one line per cell (area, centroid, bounding box).
//!
//! Everything after the network is [`crate::pipeline`], which the page runs too, so
//! these files are byte for byte the page's downloads (for the same probability).
//! `--threshold otsu` (the default) cuts at 0.5 and post-processes at Otsu's level;
//! `--threshold 0.4` uses that probability for both.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::device::DeviceChoice;
use crate::imageio::{read_pages, GrayImage};
use crate::inference::{predict_probability, Edges, Network, TileOptions};
use crate::model;
use crate::pipeline::{self, Analysis, CellThreshold, PipelineOptions};
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

/// Runs the subcommand: every input is tried; failures are reported as they
/// happen and make the exit status non-zero at the end.
pub fn run(args: SegmentArgs) -> Result<()> {
    let options = PipelineOptions { threshold: args.threshold, fg_fraction: args.fg_fraction };
    options.validate()?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::file(&args.out, format!("cannot create the output folder: {e}")))?;
    let network = load_network(args.weights.as_deref(), args.device)?;
    let tiles = TileOptions { edges: args.edges, ..TileOptions::default() };
    let mut failed = 0;
    for input in &args.inputs {
        if let Err(e) = segment_file(&network, input, &args.out, &tiles, &options) {
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
    network: &Network,
    input: &Path,
    out: &Path,
    tiles: &TileOptions,
    options: &PipelineOptions,
) -> Result<()> {
    let pages = read_pages(input)?;
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    for (index, page) in pages.iter().enumerate() {
        let name = if pages.len() > 1 { format!("{stem}_p{index:03}") } else { stem.clone() };
        let start = Instant::now();
        let (probability, analysis) = predict_page(network, page, tiles, &name)
            .and_then(|p| pipeline::analyse(&p, options).map(|a| (p, a)))
            .map_err(|e| Error::file(input, e))?;
        write_outputs(&probability, &analysis, out, &name)?;
        println!(
            "{name}: {}x{}, {:.2} s, {} cells",
            page.width(),
            page.height(),
            start.elapsed().as_secs_f64(),
            analysis.cells.count()
        );
    }
    Ok(())
}

/// Writes the five result files of one image.
fn write_outputs(probability: &GrayF32, analysis: &Analysis, out: &Path, name: &str) -> Result<()> {
    let mut files = vec![pipeline::probability_file(probability)?];
    files.extend(analysis.files().map_err(|e| Error::file(out.join(name), e))?);
    for file in files {
        let path = out.join(format!("{name}.{}", file.suffix));
        std::fs::write(&path, &file.bytes).map_err(|e| Error::file(&path, format!("cannot write: {e}")))?;
    }
    Ok(())
}
