//! `unetseg postprocess`: the original's watershed post-processing of one image,
//! with its intermediate steps, cell labels and per-cell statistics.

use std::path::{Path, PathBuf};

use crate::cells::Cells;
use crate::error::{Error, Result};
use crate::imageio::{read_gray8, write_png_rgb, write_png_u16, write_png_u8};
use crate::postprocess::render::{rgb_bytes, Step, StepImage};
use crate::postprocess::{self, DistanceKind, PostprocessParams, Threshold};

/// Arguments of `unetseg postprocess`.
#[derive(clap::Args, Debug)]
pub struct PostprocessArgs {
    /// Mask or prediction to post-process (PNG, JPEG or TIFF; read as 8-bit gray).
    pub input: PathBuf,
    /// Where to write the final image (PNG; 255 = cell interior, 0 = membrane).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write one PNG per step (1_grayscale.png ... 9_final.png) into this folder.
    #[arg(long)]
    pub steps_dir: Option<PathBuf>,
    /// Sure foreground = distance > this fraction of the largest distance.
    #[arg(long, default_value_t = 0.2)]
    pub fg_fraction: f32,
    /// Level of step 2: `otsu` or a gray level 0-255.
    #[arg(long, default_value = "otsu", value_parser = parse_threshold)]
    pub threshold: Threshold,
    /// Use the exact Euclidean distance transform instead of OpenCV's 5x5 chamfer.
    #[arg(long)]
    pub exact_distance: bool,
    /// Side of the closing kernel (1 = no closing, as in the original).
    #[arg(long, default_value_t = 1)]
    pub closing_size: usize,
    /// Side of the dilation kernel that grows the sure background.
    #[arg(long, default_value_t = 3)]
    pub dilate_size: usize,
    /// Keep pixels above the level white at step 2 (the original inverts them).
    #[arg(long)]
    pub no_invert: bool,
    /// Write the cell instance labels here as a 16-bit PNG (0 = no cell).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Write per-cell area, centroid and bounding box here as CSV.
    #[arg(long)]
    pub cells: Option<PathBuf>,
    /// Write the cells in random colours here (PNG).
    #[arg(long)]
    pub cells_image: Option<PathBuf>,
}

/// Parses `otsu` or a level 0-255.
fn parse_threshold(text: &str) -> std::result::Result<Threshold, String> {
    if text.eq_ignore_ascii_case("otsu") {
        return Ok(Threshold::Otsu);
    }
    text.parse::<u8>()
        .map(Threshold::Fixed)
        .map_err(|_| format!("expected `otsu` or a level from 0 to 255, got `{text}`"))
}

/// Runs the subcommand: post-processes the input, writes the requested
/// files and prints the number of cells.
pub fn run(args: PostprocessArgs) -> Result<()> {
    let params = PostprocessParams {
        threshold: args.threshold,
        invert: !args.no_invert,
        closing_size: args.closing_size,
        dilate_size: args.dilate_size,
        fg_fraction: args.fg_fraction,
        distance: if args.exact_distance { DistanceKind::Exact } else { DistanceKind::OpenCvChamfer5 },
    };
    params.validate()?;
    let gray = read_gray8(&args.input)?;
    let steps = postprocess::run(&gray, &params).map_err(|e| Error::file(&args.input, e))?;

    write_png_u8(&args.out, &steps.final_mask)?;
    if let Some(dir) = &args.steps_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create folder: {e}")))?;
        for step in Step::ALL {
            let path = dir.join(format!("{}.png", step.file_stem()));
            write_step(&path, &steps.render(step))?;
        }
    }

    let cells = Cells::from_segmentation(&steps.final_mask);
    if let Some(path) = &args.labels {
        write_png_u16(path, &cells.labels_u16().map_err(|e| Error::file(path, e))?)?;
    }
    if let Some(path) = &args.cells {
        std::fs::write(path, cells.to_csv()).map_err(|e| Error::file(path, format!("cannot write: {e}")))?;
    }
    if let Some(path) = &args.cells_image {
        write_step(path, &StepImage::Rgb(cells.render()))?;
    }
    println!("{} cells", cells.count());
    Ok(())
}

/// Writes a rendered image as an 8-bit gray or RGB PNG.
fn write_step(path: &Path, image: &StepImage) -> Result<()> {
    match image {
        StepImage::Gray(gray) => write_png_u8(path, gray),
        StepImage::Rgb(rgb) => write_png_rgb(path, rgb.width(), rgb.height(), &rgb_bytes(rgb)),
    }
}
