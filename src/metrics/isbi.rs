//! The ISBI 2012 challenge's scores of a segmentation, `V_Rand` and `V_Info`, computed as the
//! challenge's own code computes them, plus the same scores without the border flood.
//!
//! The challenge scores with Fiji's Trainable Weka Segmentation (`fiji/Trainable_Segmentation`,
//! package `trainableSegmentation.metrics`): `RandError.getMaximalVRandAfterThinning(0.0, 1.0,
//! 0.1, true)` and `VariationOfInformation.getMaximalVInfoAfterThinning(0.0, 1.0, 0.1)`. This
//! module follows that code; per slice and threshold `th` ([`SWEEP_THRESHOLDS`]):
//! 1. both images are binarised with `value > th` (cell above); the ground truth's regions are
//!    its 4-connected components of cell pixels, and it is never thinned;
//! 2. the proposal's membrane is flooded from its cells ([`flood_borders`], Fiji's
//!    `WatershedTransform2D` with 4-connectivity): borders between cells become dams about one
//!    pixel wide, membrane touching one cell only is absorbed by it;
//! 3. only the pixels inside ground-truth regions count; a counted pixel on a proposal dam is a
//!    region of its own (a singleton) ([`ForegroundTable`]);
//! 4. [`fiji_rand_scores`] and [`fiji_info_scores`] give `V_Rand` and `V_Info` with their split
//!    and merge parts.
//!
//! The score of a slice is the best over the thresholds, `V_Rand` and `V_Info` each on their
//! own: the first threshold with the highest score (Fiji keeps a threshold only when it beats
//! the best so far, starting from 0). A stack of slices gets one threshold for all of them:
//! at each threshold the mean of the slices' scores, then the best threshold
//! ([`IsbiScores::stack`], [`best_over_sweep`]).
//!
//! The unthinned scores (`rand_unthinned`, `info_unthinned`) skip step 2 and use this crate's
//! conventions ([`rand_scores`], [`info_scores`]: a ratio 0/0 is 1); they are swept the same way.
//!
//! The arithmetic is exact where Fiji's is not: `V_Rand` is a ratio of integer pair counts
//! (Fiji divides every count by `n` first and sums squares in floating point), and the
//! entropies come from `sum c ln c` over sorted counts; the results differ from Fiji's by a
//! few units in the last place (Fiji's `V_Rand` of two identical masks can be
//! `1.0000000000000002`, here it is exactly 1).

use super::border_flood::flood_borders;
use super::contingency::ForegroundTable;
use super::info::{fiji_info_scores, info_scores};
use super::rand_index::{fiji_rand_scores, rand_scores, RandPairs};
use super::SplitMergeScores;
use crate::error::{Error, Result};
use crate::postprocess::components::{connected_components, Connectivity};
use crate::raster::{GrayF32, Labels, Raster};

/// The thresholds of the challenge's sweep, as Fiji's loop
/// `for (double th = 0.0; th <= 1.0; th += 0.1)` produces them (11 doubles, the last just below
/// 1). A pixel is cell where its value, widened to `f64`, is strictly above the threshold, so a
/// probability of exactly 1 is cell at every threshold.
pub const SWEEP_THRESHOLDS: [f64; 11] = [
    0.0,
    0.1,
    0.2,
    0.30000000000000004,
    0.4,
    0.5,
    0.6,
    0.7,
    0.7999999999999999,
    0.8999999999999999,
    0.9999999999999999,
];

/// The score families of one binary proposal (or of a stack at one threshold).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IsbiScores {
    /// The challenge's `V_Rand` (after the border flood).
    pub rand: SplitMergeScores,
    /// The challenge's `V_Info` (after the border flood).
    pub info: SplitMergeScores,
    /// `V_Rand` of the borders as given.
    pub rand_unthinned: SplitMergeScores,
    /// `V_Info` of the borders as given.
    pub info_unthinned: SplitMergeScores,
    /// The pair counts behind `rand`, which a stack pools for its split and merge parts.
    pub rand_pairs: RandPairs,
}

impl IsbiScores {
    /// The scores of a stack at one threshold from its slices' scores at that threshold, as
    /// Fiji combines them: each main score is the mean over the slices (summed in slice order);
    /// `V_Rand`'s split and merge come from the slices' pooled pair counts (Fiji's
    /// `ClassificationStatistics` of the summed true and false positives); `V_Info`'s split and
    /// merge, which Fiji does not give for a stack, are the slices' means, and so are the
    /// unthinned parts. `None` for no slice.
    pub fn stack(slices: &[IsbiScores]) -> Option<IsbiScores> {
        if slices.is_empty() {
            return None;
        }
        let count = slices.len() as f64;
        let mean = |part: &dyn Fn(&IsbiScores) -> f64| slices.iter().map(part).sum::<f64>() / count;
        let mean_parts = |family: fn(&IsbiScores) -> SplitMergeScores| SplitMergeScores {
            score: mean(&|s| family(s).score),
            split: mean(&|s| family(s).split),
            merge: mean(&|s| family(s).merge),
        };
        let pairs = slices.iter().fold(RandPairs::default(), |sum, s| sum.plus(&s.rand_pairs));
        let (split, merge) = pairs.split_merge();
        Some(IsbiScores {
            rand: SplitMergeScores { score: mean(&|s| s.rand.score), split, merge },
            info: mean_parts(|s| s.info),
            rand_unthinned: mean_parts(|s| s.rand_unthinned),
            info_unthinned: mean_parts(|s| s.info_unthinned),
            rand_pairs: pairs,
        })
    }
}

/// A family's best over the sweep: its scores at the chosen threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chosen {
    /// The score and its split and merge parts at `threshold`.
    pub scores: SplitMergeScores,
    /// The chosen threshold, one of [`SWEEP_THRESHOLDS`].
    pub threshold: f64,
}

/// The best of each family over the sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepBest {
    /// The challenge's `V_Rand`.
    pub rand: Chosen,
    /// The challenge's `V_Info`.
    pub info: Chosen,
    /// The best unthinned `V_Rand`.
    pub rand_unthinned: Chosen,
    /// The best unthinned `V_Info`.
    pub info_unthinned: Chosen,
}

/// The best of each family over `per_threshold` (the scores at [`SWEEP_THRESHOLDS`], in order):
/// the first threshold with the highest main score, each family on its own. Every score is in
/// [0, 1], so this is Fiji's rule of keeping a threshold only when it beats the best so far,
/// starting from 0 (with all scores 0 the first threshold stays). Fails unless there is one
/// entry per threshold.
pub fn best_over_sweep(per_threshold: &[IsbiScores]) -> Result<SweepBest> {
    if per_threshold.len() != SWEEP_THRESHOLDS.len() {
        return Err(Error::invalid(format!(
            "{} scores for the {} thresholds of the sweep",
            per_threshold.len(),
            SWEEP_THRESHOLDS.len()
        )));
    }
    let best = |family: fn(&IsbiScores) -> SplitMergeScores| {
        let mut chosen = Chosen { scores: family(&per_threshold[0]), threshold: SWEEP_THRESHOLDS[0] };
        for (scores, &threshold) in per_threshold.iter().zip(&SWEEP_THRESHOLDS).skip(1) {
            if family(scores).score > chosen.scores.score {
                chosen = Chosen { scores: family(scores), threshold };
            }
        }
        chosen
    };
    Ok(SweepBest {
        rand: best(|s| s.rand),
        info: best(|s| s.info),
        rand_unthinned: best(|s| s.rand_unthinned),
        info_unthinned: best(|s| s.info_unthinned),
    })
}

/// The regions of a cell mask: its 4-connected components of `true` pixels.
fn regions(cell: &Raster<bool>) -> Labels {
    connected_components(&cell.map(u8::from), Connectivity::Four).labels
}

/// Scores proposals against one ground truth, labelling its regions once.
#[derive(Clone, Debug)]
pub struct IsbiScorer {
    truth: Labels,
}

impl IsbiScorer {
    /// Prepares the ground truth, a cell mask (`true` = cell interior). It is the same at every
    /// threshold: Fiji binarises a 0/255 mask with `value > th`, and 255 is above every
    /// threshold of the sweep.
    pub fn new(truth_cell: &Raster<bool>) -> Self {
        Self { truth: regions(truth_cell) }
    }

    /// Every score family of one binary proposal (a cell mask of the ground truth's size).
    pub fn score(&self, predicted_cell: &Raster<bool>) -> Result<IsbiScores> {
        if predicted_cell.dims() != self.truth.dims() {
            let (pw, ph) = predicted_cell.dims();
            let (tw, th) = self.truth.dims();
            return Err(Error::invalid(format!("prediction is {pw}x{ph} but ground truth is {tw}x{th}")));
        }
        let unthinned = ForegroundTable::new(&self.truth, &regions(predicted_cell))?;
        let flooded = ForegroundTable::new(&self.truth, &flood_borders(predicted_cell))?;
        Ok(IsbiScores {
            rand: fiji_rand_scores(&flooded),
            info: fiji_info_scores(&flooded),
            rand_unthinned: rand_scores(&unthinned),
            info_unthinned: info_scores(&unthinned),
            rand_pairs: RandPairs::of(&flooded),
        })
    }

    /// The scores of a probability-of-cell map at every threshold of [`SWEEP_THRESHOLDS`], in
    /// order (cell where `f64::from(p) > threshold`).
    pub fn sweep(&self, probability: &GrayF32) -> Result<Vec<IsbiScores>> {
        SWEEP_THRESHOLDS.iter().map(|&threshold| self.score(&probability.map(|p| f64::from(p) > threshold))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> Raster<bool> {
        Raster::from_fn(rows[0].len(), rows.len(), |x, y| rows[y].as_bytes()[x] == b'#')
    }

    #[test]
    fn the_thresholds_are_those_of_fijis_loop() {
        let mut th = 0.0f64;
        let mut fiji = Vec::new();
        while th <= 1.0 {
            fiji.push(th);
            th += 0.1;
        }
        assert_eq!(fiji, SWEEP_THRESHOLDS);
    }

    #[test]
    fn the_flood_forgives_a_thick_predicted_border() {
        // '#' = cell. Two 4x4 cells split by a 1-pixel membrane in the truth and by a 3-pixel
        // membrane in the prediction.
        let truth = mask(&["####.####"; 4]);
        let predicted = mask(&["###...###"; 4]);
        let scores = IsbiScorer::new(&truth).score(&predicted).unwrap();
        // As given: 8 predicted membrane pixels are singletons in the truth's cells.
        // sum n_ij^2 = 12^2 + 12^2 + 8 = 296, sum t^2 = 2 * 16^2 = 512.
        assert_eq!(scores.rand_unthinned.split, 296.0 / 512.0);
        assert_eq!(scores.rand_unthinned.merge, 1.0);
        // Flooded, the predicted membrane is the middle column, exactly the truth's membrane.
        assert_eq!(scores.rand, SplitMergeScores::PERFECT);
        assert_eq!(scores.info, SplitMergeScores::PERFECT);
        assert_eq!(scores.rand_pairs, RandPairs { joint: 512, truth: 512, predicted: 512 });
    }

    #[test]
    fn the_first_best_threshold_wins_per_family() {
        let s = |score, split, merge| SplitMergeScores { score, split, merge };
        let at = |rand: f64, info: f64| IsbiScores {
            rand: s(rand, rand, 1.0),
            info: s(info, 1.0, info),
            rand_unthinned: s(info, info, info),
            info_unthinned: s(rand, rand, rand),
            rand_pairs: RandPairs::default(),
        };
        let mut per_threshold = vec![at(0.5, 0.0); 11];
        per_threshold[3] = at(0.7, 0.0);
        per_threshold[4] = at(0.7, 0.0);
        per_threshold[8] = at(0.2, 0.0);
        let best = best_over_sweep(&per_threshold).unwrap();
        assert_eq!(best.rand, Chosen { scores: s(0.7, 0.7, 1.0), threshold: 0.30000000000000004 });
        assert_eq!(best.info, Chosen { scores: s(0.0, 1.0, 0.0), threshold: 0.0 }, "all 0: the first");
        assert_eq!(best.info_unthinned.threshold, 0.30000000000000004);
        assert!(best_over_sweep(&per_threshold[1..]).is_err());
    }

    #[test]
    fn a_stack_averages_scores_and_pools_rand_pairs() {
        let truth = mask(&["###.###"; 3]);
        let scorer = IsbiScorer::new(&truth);
        let perfect = scorer.score(&truth).unwrap();
        let merged = scorer.score(&mask(&["#######"; 3])).unwrap();
        let stack = IsbiScores::stack(&[perfect, merged]).unwrap();
        assert_eq!(stack.rand.score, (1.0 + 2.0 / 3.0) / 2.0);
        // Pairs: 162 + 162 joint, 162 + 162 truth, 162 + 324 predicted.
        assert_eq!((stack.rand.split, stack.rand.merge), (1.0, 324.0 / 486.0));
        assert_eq!(stack.info.score, 0.5);
        assert_eq!(IsbiScores::stack(&[]), None);
    }

    #[test]
    fn a_probability_is_compared_in_double_precision() {
        // 0.3f32 is above 0.30000000000000004 and 0.7f32 below 0.7.
        let truth = mask(&["#.#.#"]);
        let probability = GrayF32::new(5, 1, vec![0.3, 0.0, 0.7, 0.0, 0.7]).unwrap();
        let sweep = IsbiScorer::new(&truth).sweep(&probability).unwrap();
        // All three cells at thresholds 0.0..0.3, two of them (merged) at 0.4..0.6, none from 0.7 on.
        assert!((0..=3).all(|k| sweep[k].rand == SplitMergeScores::PERFECT));
        assert!((4..=6).all(|k| sweep[k] == sweep[4] && sweep[k].rand.merge < 1.0));
        assert!((7..11).all(|k| sweep[k] == sweep[7] && sweep[k].rand != sweep[4].rand));
    }
}
