//! The segmentation pipeline after the network, one for the CLI and the page: from a
//! page's cell probability to the cut, the nine post-processing steps, the cells, and
//! the files a user downloads (byte for byte the same in both).
//!
//! The network half is [`crate::inference::predict_probability`] (or its `async`
//! twin in the page) on a [`crate::inference::Network`]; [`analyse`] does the rest, and
//! the page re-runs it alone when a slider moves. For pages too large to hold every
//! intermediate, [`streamed`] gives the same files written as they are made.
//!
//! The post-processing runs on the probability map as 8-bit gray (`round(255 p)`):
//! its threshold separates membranes from cells, and its watershed floods the graded
//! probability rather than a flat binary mask. With [`CellThreshold::Otsu`] (the
//! original's choice) the cut is `p > 0.5` and the post-processing takes Otsu's
//! level of the gray; a fixed [`CellThreshold::Probability`] `t` gives the cut
//! `p > t` and the post-processing the level `floor(255 t)`, the same cut on the gray
//! up to pixels exactly at `t`.

pub mod streamed;

use crate::cells::{cells_csv, Cells};
use crate::export::label_tiff::{encode_label_tiff, LabelPlane};
use crate::export::outline::outlines;
use crate::export::roi::roi_set;
use crate::imageio::{encode_png_u16, encode_png_u8, PixelSize};
use crate::postprocess::{self, PostprocessParams, PostprocessSteps, Threshold};
use crate::raster::{GrayF32, GrayU8, Raster};
use crate::{Error, Result};

/// Where membrane ends and cell begins on the probability map.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum CellThreshold {
    /// Otsu's level of the 8-bit probability for the post-processing, 0.5 for the cut.
    #[default]
    Otsu,
    /// A probability strictly between 0 and 1, for both.
    Probability(f32),
}

impl CellThreshold {
    /// Parses `otsu` or a probability strictly between 0 and 1 (`0.5`).
    pub fn parse(text: &str) -> Result<Self> {
        if text.eq_ignore_ascii_case("otsu") {
            return Ok(CellThreshold::Otsu);
        }
        let threshold = text
            .parse::<f32>()
            .map(CellThreshold::Probability)
            .map_err(|_| Error::invalid(format!("'{text}' is neither 'otsu' nor a probability such as 0.5")))?;
        threshold.validate()?;
        Ok(threshold)
    }

    /// Checks that a fixed threshold lies strictly between 0 and 1.
    pub fn validate(&self) -> Result<()> {
        match *self {
            CellThreshold::Probability(t) if !(t > 0.0 && t < 1.0) => {
                Err(Error::invalid(format!("the threshold must lie strictly between 0 and 1, got {t}")))
            }
            _ => Ok(()),
        }
    }
}

/// The settings a user tunes (the page's sliders, `segment`'s options), and the
/// page's pixel size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PipelineOptions {
    /// The cut between membrane and cell.
    pub threshold: CellThreshold,
    /// Post-processing: sure foreground = distance > this fraction of the largest distance.
    pub fg_fraction: f32,
    /// The physical size of a pixel, when known (an OME-TIFF's): `cells.csv` then
    /// gives each cell's area in its unit too.
    pub pixel_size: Option<PixelSize>,
}

impl Default for PipelineOptions {
    /// The original's: Otsu, seed fraction 0.2; no pixel size.
    fn default() -> Self {
        Self { threshold: CellThreshold::Otsu, fg_fraction: PostprocessParams::default().fg_fraction, pixel_size: None }
    }
}

impl PipelineOptions {
    /// Checks the threshold and the seed fraction.
    pub fn validate(&self) -> Result<()> {
        self.threshold.validate()?;
        self.postprocess_params().validate()
    }

    /// The threshold as a probability: the fixed one, or Otsu's 8-bit `level` / 255.
    fn threshold_of(&self, level: u8) -> f32 {
        match self.threshold {
            CellThreshold::Otsu => f32::from(level) / 255.0,
            CellThreshold::Probability(t) => t,
        }
    }

    /// The post-processing's parameters: the original's, with this level and fraction.
    fn postprocess_params(&self) -> PostprocessParams {
        let threshold = match self.threshold {
            CellThreshold::Otsu => Threshold::Otsu,
            CellThreshold::Probability(t) => Threshold::Fixed((255.0 * t).floor() as u8),
        };
        PostprocessParams { threshold, fg_fraction: self.fg_fraction, ..PostprocessParams::default() }
    }
}

/// Everything computed from one probability map for one set of options.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// The probability cut: 255 where the probability is above the threshold (0.5 with
    /// Otsu), else 0.
    pub cut: GrayU8,
    /// The threshold used, as a probability: the fixed one, or Otsu's 8-bit level / 255.
    pub threshold: f32,
    /// The nine post-processing steps; its final image is what the cells come from.
    pub steps: PostprocessSteps,
    /// The cells of the post-processing's final image.
    pub cells: Cells,
    /// The pixel size of the options.
    pub pixel_size: Option<PixelSize>,
}

/// The cut, the post-processing and the cells of `probability` (cell probability per
/// pixel, in `[0, 1]`). Fails on invalid options or an empty map.
pub fn analyse(probability: &GrayF32, options: &PipelineOptions) -> Result<Analysis> {
    options.validate()?;
    let (cut, gray) = cut_and_gray(probability, options);
    let steps = postprocess::run(&gray, &options.postprocess_params())?;
    let threshold = options.threshold_of(steps.threshold_level);
    let cells = Cells::from_segmentation(&steps.final_mask);
    Ok(Analysis { cut, threshold, steps, cells, pixel_size: options.pixel_size })
}

/// The cut of `probability` and the post-processing's 8-bit input.
fn cut_and_gray(probability: &GrayF32, options: &PipelineOptions) -> (GrayU8, GrayU8) {
    let cut_at = options.cut_at();
    (probability.map(|p| cut_level(p, cut_at)), probability.map(gray_level))
}

impl PipelineOptions {
    /// The probability above which the cut says cell: 0.5 with Otsu, else the threshold.
    fn cut_at(&self) -> f32 {
        match self.threshold {
            CellThreshold::Otsu => 0.5,
            CellThreshold::Probability(t) => t,
        }
    }
}

/// The cut's value for probability `p`: 255 (cell) above `cut_at`, else 0.
fn cut_level(p: f32, cut_at: f32) -> u8 {
    if p > cut_at {
        255
    } else {
        0
    }
}

/// The post-processing's 8-bit input for probability `p`: `round(255 p)`.
fn gray_level(p: f32) -> u8 {
    (p * 255.0).round().clamp(0.0, 255.0) as u8
}

/// `prob.png`'s 16-bit level for probability `p`: `round(65535 p)`.
fn probability_level(p: f32) -> u16 {
    (p.clamp(0.0, 1.0) * 65535.0).round() as u16
}

/// One file of a result: `<stem>.<suffix>` on disk, in the page's downloads and ZIP.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultFile {
    /// What follows the image's stem, e.g. `mask.png`.
    pub suffix: &'static str,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// `prob.png`: the cell probability as a 16-bit PNG (`round(65535 p)`).
pub fn probability_file(probability: &GrayF32) -> Result<ResultFile> {
    let levels: Raster<u16> = probability.map(probability_level);
    Ok(ResultFile { suffix: PROB_SUFFIX, bytes: encode_png_u16(&levels)? })
}

/// A result file that could not be made: which, and why.
#[derive(Debug)]
pub struct FileFailure {
    /// The suffix the file would have had.
    pub suffix: &'static str,
    /// Why it could not be made.
    pub error: Error,
}

impl Analysis {
    /// The files that depend on the options, in this order: `cut.png` (the probability
    /// cut: 255 where the probability is above the threshold, before any
    /// post-processing), `mask.png` (the post-processing's final image, 255 = cell
    /// interior: the mask the cells come from), `labels.png` (those cells numbered
    /// 1.., 16-bit; `labels.tif`, 32-bit, when there are more than 65535 cells),
    /// `cells.csv` (one line per cell, with the physical area when the pixel size is
    /// known) and `RoiSet.zip` (the cells' outlines as ImageJ ROIs, see
    /// [`crate::export::roi`]). Each is made on its own: one that fails is a
    /// [`FileFailure`] in its place, and the others are still made.
    pub fn files(&self) -> Vec<std::result::Result<ResultFile, FileFailure>> {
        result_files(&self.cut, &self.steps.final_mask, &self.cells, self.pixel_size.as_ref())
    }
}

/// The files of [`Analysis::files`] from the cut, the final image and its cells.
fn result_files(
    cut: &GrayU8,
    final_mask: &GrayU8,
    cells: &Cells,
    pixel_size: Option<&PixelSize>,
) -> Vec<std::result::Result<ResultFile, FileFailure>> {
    let made = |suffix: &'static str, bytes: Result<Vec<u8>>| {
        bytes.map(|bytes| ResultFile { suffix, bytes }).map_err(|error| FileFailure { suffix, error })
    };
    let csv = cells_csv(&cells.cells, pixel_size);
    vec![
        made(CUT_SUFFIX, encode_png_u8(cut)),
        made(MASK_SUFFIX, encode_png_u8(final_mask)),
        match LabelPlane::of(cells) {
            LabelPlane::U16(labels) => made(LABELS_PNG_SUFFIX, encode_png_u16(&labels)),
            wide => made(LABELS_TIFF_SUFFIX, encode_label_tiff(&[wide])),
        },
        made(CELLS_SUFFIX, Ok(csv.into_bytes())),
        made(ROI_SET_SUFFIX, roi_set(&outlines(&cells.labels))),
    ]
}

/// Suffix of the cell probability (`<stem>.prob.png`).
pub const PROB_SUFFIX: &str = "prob.png";

/// Suffix of the post-processed mask, the one the cells come from (`<stem>.mask.png`).
pub const MASK_SUFFIX: &str = "mask.png";

/// Suffix of the probability cut before post-processing (`<stem>.cut.png`).
pub const CUT_SUFFIX: &str = "cut.png";

/// Suffix of the cell labels of a page with at most 65535 cells (16-bit PNG).
pub const LABELS_PNG_SUFFIX: &str = "labels.png";

/// Suffix of the cell labels as TIFF: a page's with more than 65535 cells (32-bit),
/// and the CLI's stack of a multi-page input (`<stem>.labels.tif`, one page per page).
pub const LABELS_TIFF_SUFFIX: &str = "labels.tif";

/// Suffix of the per-cell table (`<stem>.cells.csv`).
pub const CELLS_SUFFIX: &str = "cells.csv";

/// Suffix of the cells' outlines as an ImageJ ROI set (`<stem>.RoiSet.zip`).
pub const ROI_SET_SUFFIX: &str = "RoiSet.zip";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_file_is_the_post_processed_image_and_the_cut_is_named_cut() {
        let probability = Raster::from_fn(32, 24, |x, y| if (x / 8 + y / 8) % 2 == 0 { 0.9 } else { 0.1 });
        let analysis = analyse(&probability, &PipelineOptions::default()).unwrap();
        let files: Vec<ResultFile> = analysis.files().into_iter().map(|f| f.unwrap()).collect();
        let suffixes: Vec<&str> = files.iter().map(|f| f.suffix).collect();
        assert_eq!(suffixes, ["cut.png", "mask.png", "labels.png", "cells.csv", "RoiSet.zip"]);
        assert_eq!(files[0].bytes, encode_png_u8(&analysis.cut).unwrap());
        assert_eq!(files[1].bytes, encode_png_u8(&analysis.steps.final_mask).unwrap());
    }

    #[test]
    fn more_than_65535_cells_give_a_32_bit_label_tiff_and_every_other_file() {
        let probability = Raster::from_fn(32, 24, |x, y| if (x / 8 + y / 8) % 2 == 0 { 0.9 } else { 0.1 });
        let mut analysis = analyse(&probability, &PipelineOptions::default()).unwrap();
        // A 512 x 512 checkerboard: 131072 cells of one pixel each.
        analysis.cells = Cells::from_segmentation(&Raster::from_fn(512, 512, |x, y| ((x + y) % 2 * 255) as u8));
        let files: Vec<ResultFile> = analysis.files().into_iter().map(|f| f.unwrap()).collect();
        let suffixes: Vec<&str> = files.iter().map(|f| f.suffix).collect();
        assert_eq!(suffixes, ["cut.png", "mask.png", "labels.tif", "cells.csv", "RoiSet.zip"]);
        assert_eq!(files[2].bytes, encode_label_tiff(&[LabelPlane::of(&analysis.cells)]).unwrap());
        assert_eq!(String::from_utf8_lossy(&files[3].bytes).lines().count(), 131_073);
    }

    #[test]
    fn a_known_pixel_size_gives_the_csv_its_physical_area() {
        let probability = Raster::from_fn(32, 24, |x, y| if (x / 8 + y / 8) % 2 == 0 { 0.9 } else { 0.1 });
        let size = PixelSize::new(4.0, 4.0, crate::imageio::LengthUnit::Nanometre).unwrap();
        let options = PipelineOptions { pixel_size: Some(size), ..PipelineOptions::default() };
        let analysis = analyse(&probability, &options).unwrap();
        assert_eq!(analysis.pixel_size, Some(size));
        let csv = analysis.files().remove(3).unwrap();
        assert_eq!(csv.suffix, CELLS_SUFFIX);
        assert_eq!(csv.bytes, analysis.cells.to_csv_with_pixel_size(&size).into_bytes());
    }

    #[test]
    fn thresholds_parse_and_validate() {
        assert_eq!(CellThreshold::parse("OTSU").unwrap(), CellThreshold::Otsu);
        assert_eq!(CellThreshold::parse("0.25").unwrap(), CellThreshold::Probability(0.25));
        for bad in ["0", "1", "127", "-0.1", "half", "NaN"] {
            assert!(CellThreshold::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_fixed_threshold_cuts_the_map_and_sets_the_post_processing_level() {
        let probability = Raster::new(4, 1, vec![0.1, 0.3, 0.5, 0.9]).unwrap();
        let options = PipelineOptions { threshold: CellThreshold::Probability(0.3), ..PipelineOptions::default() };
        let analysis = analyse(&probability, &options).unwrap();
        assert_eq!(analysis.cut.data(), &[0, 0, 255, 255]);
        assert_eq!(analysis.steps.threshold_level, 76);
        assert_eq!(analysis.threshold, 0.3);
    }

    #[test]
    fn otsu_cuts_at_one_half_and_reports_its_level_as_a_probability() {
        let probability = Raster::from_fn(8, 8, |x, _| if x < 4 { 0.2 } else { 0.8 });
        let analysis = analyse(&probability, &PipelineOptions::default()).unwrap();
        assert_eq!(analysis.cut.data().iter().filter(|&&v| v == 255).count(), 32);
        assert_eq!(analysis.threshold, f32::from(analysis.steps.threshold_level) / 255.0);
    }
}
