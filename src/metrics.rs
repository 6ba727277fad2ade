//! Segmentation quality metrics: the original project's pixel accuracy, IoU
//! and Dice per class, and the ISBI 2012 challenge's scores `V_Rand` and
//! `V_Info` (Arganda-Carreras et al. 2015, Front. Neuroanat. 9:142), computed
//! as the challenge's own code computes them.
//!
//! Conventions, shared with the masks of the data set:
//! * a ground-truth mask is 8-bit, membrane 0 and cell interior 255; a pixel
//!   is cell where its value is above 127 (threshold 127.5);
//! * a prediction is either an 8-bit mask in the same polarity
//!   ([`Prediction::Mask`], thresholded the same way) or a map of the
//!   probability of cell in [0, 1] ([`Prediction::Probability`]).
//!
//! The challenge scores with Fiji's Trainable Weka Segmentation
//! (`RandError.getMaximalVRandAfterThinning(0.0, 1.0, 0.1, true)` and
//! `VariationOfInformation.getMaximalVInfoAfterThinning(0.0, 1.0, 0.1)`); [`isbi`] follows
//! that code: at each of 11 thresholds ([`isbi::SWEEP_THRESHOLDS`], 0.0 to just below 1
//! in steps of 0.1, compared in `f64`) both images are binarised, the ground truth's
//! 4-connected cell regions are kept as they are, the proposal's membrane is flooded from its
//! cells by Fiji's watershed ([`border_flood`]), and only pixels inside ground-truth regions
//! count. `V_Rand` and `V_Info` are each the best over the thresholds; [`MetricsReport`]
//! says which threshold won. A mask is swept too, like Fiji sweeps `mask / 255`: it gives the
//! same binarisation at every threshold, so the first threshold, 0.0, is reported.
//!
//! A stack of slices ([`evaluate_stack`], [`stack_report`]) gets one threshold for all its
//! slices, as the challenge scores its 30-slice test stack: at each threshold the mean of the
//! slices' scores, then the best threshold. Its pixel scores are the means over the slices.
//!
//! The pixel scores of a probability map use threshold 0.5 (cell where the probability is
//! above 0.5, as the original's validation does). The unthinned scores
//! (`v_rand_unthinned`, `v_info_unthinned`) are this crate's own: the same sweep without the
//! border flood.

pub mod border_flood;
pub mod contingency;
pub mod info;
pub mod isbi;
pub mod pixel;
pub mod rand_index;

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

/// Every metric of one prediction (or of a stack). Serialises to a JSON object with exactly
/// these keys (the output of `unetseg metrics --json`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MetricsReport {
    /// The challenge's `V_Rand`: foreground-restricted Rand score after Fiji's border flood,
    /// best over the thresholds (the ISBI ranking score).
    pub v_rand: f64,
    /// Its split part `sum p_ij^2 / sum t_j^2` (Fiji's recall) at `v_rand_threshold`.
    pub v_rand_split: f64,
    /// Its merge part `sum p_ij^2 / sum s_i^2` (Fiji's precision) at `v_rand_threshold`.
    pub v_rand_merge: f64,
    /// The threshold of the sweep that gave `v_rand` (0.0 for a mask).
    pub v_rand_threshold: f64,
    /// The challenge's `V_Info`: foreground-restricted information-theoretic score after the
    /// border flood, best over the thresholds.
    pub v_info: f64,
    /// Its split part `I(S;T) / H(S)` (Fiji's recall) at `v_info_threshold`.
    pub v_info_split: f64,
    /// Its merge part `I(S;T) / H(T)` (Fiji's precision) at `v_info_threshold`.
    pub v_info_merge: f64,
    /// The threshold of the sweep that gave `v_info` (0.0 for a mask).
    pub v_info_threshold: f64,
    /// `V_Rand` without the border flood, best over the same thresholds.
    pub v_rand_unthinned: f64,
    /// `V_Info` without the border flood, best over the same thresholds.
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

/// Number of values in a [`MetricsReport`].
pub const REPORT_LEN: usize = 15;

impl MetricsReport {
    /// The values in key order, paired with their JSON keys.
    pub fn entries(&self) -> [(&'static str, f64); REPORT_LEN] {
        [
            ("v_rand", self.v_rand),
            ("v_rand_split", self.v_rand_split),
            ("v_rand_merge", self.v_rand_merge),
            ("v_rand_threshold", self.v_rand_threshold),
            ("v_info", self.v_info),
            ("v_info_split", self.v_info_split),
            ("v_info_merge", self.v_info_merge),
            ("v_info_threshold", self.v_info_threshold),
            ("v_rand_unthinned", self.v_rand_unthinned),
            ("v_info_unthinned", self.v_info_unthinned),
            ("pixel_accuracy", self.pixel_accuracy),
            ("iou_membrane", self.iou_membrane),
            ("iou_cell", self.iou_cell),
            ("dice_membrane", self.dice_membrane),
            ("dice_cell", self.dice_cell),
        ]
    }

    fn from_values(v: [f64; REPORT_LEN]) -> Self {
        Self {
            v_rand: v[0],
            v_rand_split: v[1],
            v_rand_merge: v[2],
            v_rand_threshold: v[3],
            v_info: v[4],
            v_info_split: v[5],
            v_info_merge: v[6],
            v_info_threshold: v[7],
            v_rand_unthinned: v[8],
            v_info_unthinned: v[9],
            pixel_accuracy: v[10],
            iou_membrane: v[11],
            iou_cell: v[12],
            dice_membrane: v[13],
            dice_cell: v[14],
        }
    }

    fn from_parts(best: &isbi::SweepBest, pixels: &pixel::PixelScores) -> Self {
        Self {
            v_rand: best.rand.scores.score,
            v_rand_split: best.rand.scores.split,
            v_rand_merge: best.rand.scores.merge,
            v_rand_threshold: best.rand.threshold,
            v_info: best.info.scores.score,
            v_info_split: best.info.scores.split,
            v_info_merge: best.info.scores.merge,
            v_info_threshold: best.info.threshold,
            v_rand_unthinned: best.rand_unthinned.scores.score,
            v_info_unthinned: best.info_unthinned.scores.score,
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
/// probability, widened to `f64`, is strictly above it.
pub fn cell_mask_at(probability: &GrayF32, threshold: f64) -> Raster<bool> {
    probability.map(|p| f64::from(p) > threshold)
}

/// One slice scored at every threshold of the sweep: its report, and what a stack's scores
/// are made of ([`stack_report`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SliceScores {
    per_threshold: Vec<isbi::IsbiScores>,
    pixels: pixel::PixelScores,
}

impl SliceScores {
    /// The ISBI scores at each of [`isbi::SWEEP_THRESHOLDS`], in order.
    pub fn per_threshold(&self) -> &[isbi::IsbiScores] {
        &self.per_threshold
    }

    /// The slice's report: each family's best over the sweep, and the pixel scores.
    pub fn report(&self) -> MetricsReport {
        let best = isbi::best_over_sweep(&self.per_threshold).expect("one score per threshold");
        MetricsReport::from_parts(&best, &self.pixels)
    }
}

/// Scores `prediction` (an 8-bit mask or a probability map, see [`Prediction`]) against the
/// 8-bit ground-truth mask `truth` at every threshold of the sweep.
///
/// Fails when the two differ in size.
pub fn score_slice<'a>(prediction: impl Into<Prediction<'a>>, truth: &GrayU8) -> Result<SliceScores> {
    let prediction = prediction.into();
    if prediction.dims() != truth.dims() {
        let (pw, ph) = prediction.dims();
        let (tw, th) = truth.dims();
        return Err(Error::invalid(format!("prediction is {pw}x{ph} but ground truth is {tw}x{th}")));
    }
    let truth_cell = cell_mask(truth);
    let scorer = isbi::IsbiScorer::new(&truth_cell);
    let (per_threshold, pixel_cell) = match prediction {
        Prediction::Mask(mask) => {
            // Fiji would sweep mask / 255: the same cells at every threshold.
            let cell = cell_mask(mask);
            (vec![scorer.score(&cell)?; isbi::SWEEP_THRESHOLDS.len()], cell)
        }
        Prediction::Probability(probability) => {
            (scorer.sweep(probability)?, cell_mask_at(probability, f64::from(PIXEL_THRESHOLD)))
        }
    };
    Ok(SliceScores { per_threshold, pixels: pixel::pixel_scores(&pixel_cell, &truth_cell) })
}

/// Scores `prediction` (an 8-bit mask or a probability map, see [`Prediction`]) against the
/// 8-bit ground-truth mask `truth`.
///
/// Fails when the two differ in size.
pub fn evaluate<'a>(prediction: impl Into<Prediction<'a>>, truth: &GrayU8) -> Result<MetricsReport> {
    Ok(score_slice(prediction, truth)?.report())
}

/// The report of a stack of scored slices, by the challenge's rule: one threshold for the
/// whole stack, the best of the per-threshold combinations of [`isbi::IsbiScores::stack`]
/// (mean `V_Rand` and `V_Info` over the slices, `V_Rand`'s split and merge from the pooled pair
/// counts, `V_Info`'s as slice means); the pixel scores are the slices' means. `None` for no
/// slice.
pub fn stack_report(slices: &[SliceScores]) -> Option<MetricsReport> {
    let first = slices.first()?;
    let per_threshold: Vec<isbi::IsbiScores> = (0..first.per_threshold.len())
        .map(|k| {
            let at_k: Vec<isbi::IsbiScores> = slices.iter().map(|s| s.per_threshold[k]).collect();
            isbi::IsbiScores::stack(&at_k).expect("at least one slice")
        })
        .collect();
    let best = isbi::best_over_sweep(&per_threshold).expect("one score per threshold");
    let count = slices.len() as f64;
    let mean = |part: fn(&pixel::PixelScores) -> f64| slices.iter().map(|s| part(&s.pixels)).sum::<f64>() / count;
    let pixels = pixel::PixelScores {
        accuracy: mean(|p| p.accuracy),
        iou_membrane: mean(|p| p.iou_membrane),
        iou_cell: mean(|p| p.iou_cell),
        dice_membrane: mean(|p| p.dice_membrane),
        dice_cell: mean(|p| p.dice_cell),
    };
    Some(MetricsReport::from_parts(&best, &pixels))
}

/// The reports of a stack: each slice's own, and the stack's.
#[derive(Clone, Debug, PartialEq)]
pub struct StackReport {
    /// Each slice scored on its own (its own best thresholds), in stack order.
    pub slices: Vec<MetricsReport>,
    /// The stack by the challenge's rule ([`stack_report`]).
    pub stack: MetricsReport,
}

/// Scores a stack: `predictions[k]` against `truths[k]` for every slice `k`, each on its own
/// and together ([`stack_report`]).
///
/// Fails when the stack is empty, the two lists differ in length, or a slice's prediction and
/// truth differ in size (the error names the slice, counting from 1).
pub fn evaluate_stack(predictions: &[Prediction<'_>], truths: &[GrayU8]) -> Result<StackReport> {
    if predictions.len() != truths.len() {
        return Err(Error::invalid(format!(
            "{} predicted slices but {} ground-truth slices",
            predictions.len(),
            truths.len()
        )));
    }
    if predictions.is_empty() {
        return Err(Error::invalid("a stack needs at least one slice"));
    }
    let scored = predictions
        .iter()
        .zip(truths)
        .enumerate()
        .map(|(k, (&prediction, truth))| {
            score_slice(prediction, truth).map_err(|e| Error::invalid(format!("slice {}: {e}", k + 1)))
        })
        .collect::<Result<Vec<SliceScores>>>()?;
    Ok(StackReport {
        slices: scored.iter().map(SliceScores::report).collect(),
        stack: stack_report(&scored).expect("at least one slice"),
    })
}

/// The per-metric arithmetic mean of several reports (each image weighs the
/// same; the thresholds are averaged too). This is not the challenge's score of a stack,
/// which picks one threshold for all slices: see [`stack_report`]. `None` for an empty slice.
pub fn mean(reports: &[MetricsReport]) -> Option<MetricsReport> {
    if reports.is_empty() {
        return None;
    }
    let mut sums = [0.0; REPORT_LEN];
    for report in reports {
        for (sum, (_, value)) in sums.iter_mut().zip(report.entries()) {
            *sum += value;
        }
    }
    Some(MetricsReport::from_values(sums.map(|sum| sum / reports.len() as f64)))
}
