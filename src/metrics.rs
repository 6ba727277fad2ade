//! Segmentation quality metrics: the original project's pixel accuracy, IoU
//! and Dice per class, and the ISBI 2012 challenge scores `V_Rand` and
//! `V_Info` (Arganda-Carreras et al. 2015, Front. Neuroanat. 9:142).
//!
//! Conventions, shared with the masks of the data set:
//! * a ground-truth mask is 8-bit, membrane 0 and cell interior 255; a pixel
//!   is cell where its value is above 127 (threshold 127.5);
//! * a prediction is either an 8-bit mask in the same polarity
//!   ([`Prediction::Mask`], thresholded the same way) or a map of the
//!   probability of cell in [0, 1] ([`Prediction::Probability`]).
//!
//! The pixel scores of a probability map use threshold 0.5 (cell where the
//! probability is above 0.5, as the original's validation does). Its ISBI
//! scores are the best over the thresholds of [`isbi::SWEEP_THRESHOLDS`]
//! (0.0, 0.1, ..., 1.0, compared in `f32`), as the challenge's Fiji script
//! does for probability maps; a mask is scored as it is. See [`isbi`] for
//! the pipeline (thinning, regions, foreground restriction).

pub mod contingency;
pub mod info;
pub mod isbi;
pub mod pixel;
pub mod rand_index;
pub mod regions;
pub mod thinning;

use crate::error::{Error, Result};
use crate::raster::{GrayF32, GrayU8, Raster};
use serde::Serialize;

/// Highest 8-bit value that still counts as membrane: masks are cut at 127.5.
pub const MEMBRANE_MAX_U8: u8 = 127;

/// Probability above which a pixel counts as cell for the pixel scores.
pub const PIXEL_THRESHOLD: f32 = 0.5;

/// A main score with its split and merge parts, each in [0, 1], 1 = perfect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitMergeScores {
    /// The harmonic mean of `split` and `merge` (the F-score, alpha = 0.5).
    pub score: f64,
    /// Falls when the prediction splits ground-truth regions.
    pub split: f64,
    /// Falls when the prediction merges ground-truth regions.
    pub merge: f64,
}

impl SplitMergeScores {
    /// All three parts 1: identical segmentations.
    pub const PERFECT: Self = Self { score: 1.0, split: 1.0, merge: 1.0 };
}

/// A prediction to score against a ground-truth mask.
#[derive(Clone, Copy, Debug)]
pub enum Prediction<'a> {
    /// A segmentation in the masks' polarity (above 127 = cell).
    Mask(&'a GrayU8),
    /// The probability of cell per pixel, in [0, 1].
    Probability(&'a GrayF32),
}

impl<'a> From<&'a GrayU8> for Prediction<'a> {
    fn from(mask: &'a GrayU8) -> Self {
        Prediction::Mask(mask)
    }
}

impl<'a> From<&'a GrayF32> for Prediction<'a> {
    fn from(probability: &'a GrayF32) -> Self {
        Prediction::Probability(probability)
    }
}

impl Prediction<'_> {
    /// `(width, height)` of the prediction.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            Prediction::Mask(m) => m.dims(),
            Prediction::Probability(p) => p.dims(),
        }
    }
}

/// Every metric of one prediction. Serialises to a JSON object with exactly
/// these keys (the output of `unetseg metrics --json`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MetricsReport {
    /// Foreground-restricted Rand score after border thinning (ISBI ranking).
    pub v_rand: f64,
    /// Its split part `sum p_ij^2 / sum t_j^2`.
    pub v_rand_split: f64,
    /// Its merge part `sum p_ij^2 / sum s_i^2`.
    pub v_rand_merge: f64,
    /// Foreground-restricted information-theoretic score after thinning.
    pub v_info: f64,
    /// Its split part `I(S;T) / H(S)`.
    pub v_info_split: f64,
    /// Its merge part `I(S;T) / H(T)`.
    pub v_info_merge: f64,
    /// `V_Rand` without thinning.
    pub v_rand_unthinned: f64,
    /// `V_Info` without thinning.
    pub v_info_unthinned: f64,
    /// Fraction of pixels whose class matches the ground truth.
    pub pixel_accuracy: f64,
    /// IoU of the membrane class.
    pub iou_membrane: f64,
    /// IoU of the cell class.
    pub iou_cell: f64,
    /// Dice coefficient of the membrane class.
    pub dice_membrane: f64,
    /// Dice coefficient of the cell class.
    pub dice_cell: f64,
}

impl MetricsReport {
    /// The values in key order, paired with their JSON keys.
    pub fn entries(&self) -> [(&'static str, f64); 13] {
        [
            ("v_rand", self.v_rand),
            ("v_rand_split", self.v_rand_split),
            ("v_rand_merge", self.v_rand_merge),
            ("v_info", self.v_info),
            ("v_info_split", self.v_info_split),
            ("v_info_merge", self.v_info_merge),
            ("v_rand_unthinned", self.v_rand_unthinned),
            ("v_info_unthinned", self.v_info_unthinned),
            ("pixel_accuracy", self.pixel_accuracy),
            ("iou_membrane", self.iou_membrane),
            ("iou_cell", self.iou_cell),
            ("dice_membrane", self.dice_membrane),
            ("dice_cell", self.dice_cell),
        ]
    }

    fn from_values(v: [f64; 13]) -> Self {
        Self {
            v_rand: v[0],
            v_rand_split: v[1],
            v_rand_merge: v[2],
            v_info: v[3],
            v_info_split: v[4],
            v_info_merge: v[5],
            v_rand_unthinned: v[6],
            v_info_unthinned: v[7],
            pixel_accuracy: v[8],
            iou_membrane: v[9],
            iou_cell: v[10],
            dice_membrane: v[11],
            dice_cell: v[12],
        }
    }

    fn from_parts(isbi: &isbi::IsbiScores, pixels: &pixel::PixelScores) -> Self {
        Self {
            v_rand: isbi.rand.score,
            v_rand_split: isbi.rand.split,
            v_rand_merge: isbi.rand.merge,
            v_info: isbi.info.score,
            v_info_split: isbi.info.split,
            v_info_merge: isbi.info.merge,
            v_rand_unthinned: isbi.rand_unthinned.score,
            v_info_unthinned: isbi.info_unthinned.score,
            pixel_accuracy: pixels.accuracy,
            iou_membrane: pixels.iou_membrane,
            iou_cell: pixels.iou_cell,
            dice_membrane: pixels.dice_membrane,
            dice_cell: pixels.dice_cell,
        }
    }
}

/// The cell mask of an 8-bit mask: `true` where the value is above 127.
pub fn cell_mask(mask: &GrayU8) -> Raster<bool> {
    mask.map(|v| v > MEMBRANE_MAX_U8)
}

/// The cell mask of a probability map at `threshold`: `true` where the
/// probability is strictly above it.
pub fn cell_mask_at(probability: &GrayF32, threshold: f32) -> Raster<bool> {
    probability.map(|p| p > threshold)
}

/// Scores `prediction` (an 8-bit mask or a probability map, see
/// [`Prediction`]) against the 8-bit ground-truth mask `truth`.
///
/// Fails when the two differ in size.
pub fn evaluate<'a>(prediction: impl Into<Prediction<'a>>, truth: &GrayU8) -> Result<MetricsReport> {
    let prediction = prediction.into();
    if prediction.dims() != truth.dims() {
        let (pw, ph) = prediction.dims();
        let (tw, th) = truth.dims();
        return Err(Error::invalid(format!("prediction is {pw}x{ph} but ground truth is {tw}x{th}")));
    }
    let truth_cell = cell_mask(truth);
    let scorer = isbi::IsbiScorer::new(&truth_cell);
    let (isbi_scores, pixel_cell) = match prediction {
        Prediction::Mask(mask) => {
            let cell = cell_mask(mask);
            (scorer.score(&cell)?, cell)
        }
        Prediction::Probability(probability) => {
            let [first, rest @ ..] = isbi::SWEEP_THRESHOLDS;
            let mut best = scorer.score(&cell_mask_at(probability, first as f32))?;
            for threshold in rest {
                best.keep_best(&scorer.score(&cell_mask_at(probability, threshold as f32))?);
            }
            (best, cell_mask_at(probability, PIXEL_THRESHOLD))
        }
    };
    let pixels = pixel::pixel_scores(&pixel_cell, &truth_cell);
    Ok(MetricsReport::from_parts(&isbi_scores, &pixels))
}

/// The per-metric arithmetic mean of several reports (each image weighs the
/// same; the challenge instead pools the pixel pairs of a whole stack per
/// threshold). `None` for an empty slice.
pub fn mean(reports: &[MetricsReport]) -> Option<MetricsReport> {
    if reports.is_empty() {
        return None;
    }
    let mut sums = [0.0; 13];
    for report in reports {
        for (sum, (_, value)) in sums.iter_mut().zip(report.entries()) {
            *sum += value;
        }
    }
    Some(MetricsReport::from_values(sums.map(|sum| sum / reports.len() as f64)))
}
