//! The ISBI 2012 challenge scores of a segmentation: `V_Rand` and `V_Info`
//! on the foreground-restricted regions, with and without border thinning.
//!
//! Pipeline for one binary prediction (`true` = cell interior):
//! 1. optionally thin the membranes of the ground truth and of the prediction
//!    to 1-pixel-wide borders ([`thin_membranes`], Guo–Hall thinning);
//! 2. label the regions of both as 4-connected components of cell pixels;
//! 3. build the foreground-restricted contingency table (only ground-truth
//!    region pixels count; predicted membrane there becomes singletons);
//! 4. compute [`rand_scores`] and [`info_scores`].
//!
//! For a probability map the challenge binarises it at thresholds 0.0, 0.1,
//! ..., 1.0 and keeps the best score ([`SWEEP_THRESHOLDS`],
//! [`IsbiScores::keep_best`]).

use super::contingency::ForegroundTable;
use super::info::info_scores;
use super::rand_index::rand_scores;
use super::regions::label_regions;
use super::thinning::thin_membranes;
use super::SplitMergeScores;
use crate::error::{Error, Result};
use crate::raster::{Labels, Raster};

/// The binarisation thresholds of the challenge's Fiji script for
/// probability maps (`k / 10` for `k = 0..=10`); a pixel is cell where its
/// probability is strictly above the threshold.
pub const SWEEP_THRESHOLDS: [f64; 11] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// The four ISBI score families of one prediction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IsbiScores {
    /// `V_Rand` after thinning the borders (the challenge's ranking score).
    pub rand: SplitMergeScores,
    /// `V_Info` after thinning the borders.
    pub info: SplitMergeScores,
    /// `V_Rand` on the borders as given.
    pub rand_unthinned: SplitMergeScores,
    /// `V_Info` on the borders as given.
    pub info_unthinned: SplitMergeScores,
}

/// Scores predictions against one ground truth, labelling the ground-truth
/// regions (thinned and as given) only once.
#[derive(Clone, Debug)]
pub struct IsbiScorer {
    truth: Labels,
    truth_thinned: Labels,
}

impl IsbiScorer {
    /// Prepares the ground truth, a cell mask (`true` = cell interior).
    pub fn new(truth_cell: &Raster<bool>) -> Self {
        Self { truth: label_regions(truth_cell).0, truth_thinned: label_regions(&thin_membranes(truth_cell)).0 }
    }

    /// All four score families of one binary prediction (a cell mask of
    /// the ground truth's size).
    pub fn score(&self, predicted_cell: &Raster<bool>) -> Result<IsbiScores> {
        if predicted_cell.dims() != self.truth.dims() {
            let (pw, ph) = predicted_cell.dims();
            let (tw, th) = self.truth.dims();
            return Err(Error::invalid(format!("prediction is {pw}x{ph} but ground truth is {tw}x{th}")));
        }
        let unthinned = ForegroundTable::new(&self.truth, &label_regions(predicted_cell).0)?;
        let thinned = ForegroundTable::new(&self.truth_thinned, &label_regions(&thin_membranes(predicted_cell)).0)?;
        Ok(IsbiScores {
            rand: rand_scores(&thinned),
            info: info_scores(&thinned),
            rand_unthinned: rand_scores(&unthinned),
            info_unthinned: info_scores(&unthinned),
        })
    }
}

impl IsbiScores {
    /// Keeps, family by family, the better of `self` and `candidate`: the
    /// one with the higher main score, with its own split and merge parts.
    /// On ties `self` stays, so sweeping thresholds in ascending order keeps
    /// the first best one, like the challenge's script.
    pub fn keep_best(&mut self, candidate: &IsbiScores) {
        let keep = |best: &mut SplitMergeScores, new: SplitMergeScores| {
            if new.score > best.score {
                *best = new;
            }
        };
        keep(&mut self.rand, candidate.rand);
        keep(&mut self.info, candidate.info);
        keep(&mut self.rand_unthinned, candidate.rand_unthinned);
        keep(&mut self.info_unthinned, candidate.info_unthinned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> Raster<bool> {
        Raster::from_fn(rows[0].len(), rows.len(), |x, y| rows[y].as_bytes()[x] == b'#')
    }

    #[test]
    fn thinning_forgives_a_thick_predicted_border() {
        // '#' = cell. Two 4x4 cells split by a 1-pixel membrane in the truth
        // and by a 3-pixel membrane in the prediction.
        let truth = mask(&["####.####"; 4]);
        let predicted = mask(&["###...###"; 4]);
        let scores = IsbiScorer::new(&truth).score(&predicted).unwrap();
        // As given: 8 predicted membrane pixels are singletons in the truth's
        // cells. sum n_ij^2 = 12^2 + 12^2 + 8 = 296, sum t^2 = 2 * 16^2 = 512.
        assert_eq!(scores.rand_unthinned.split, 296.0 / 512.0);
        assert_eq!(scores.rand_unthinned.merge, 1.0);
        // Thinned, the predicted membrane is the middle column, exactly the
        // truth's membrane.
        assert_eq!(scores.rand, SplitMergeScores::PERFECT);
        assert_eq!(scores.info, SplitMergeScores::PERFECT);
    }

    #[test]
    fn keep_best_keeps_the_parts_of_the_best_candidate_per_family() {
        let s = |score, split, merge| SplitMergeScores { score, split, merge };
        let a = IsbiScores {
            rand: s(0.5, 0.4, 0.6),
            info: s(0.9, 0.9, 0.9),
            rand_unthinned: s(0.1, 0.1, 0.1),
            info_unthinned: s(0.2, 0.2, 0.2),
        };
        let b = IsbiScores {
            rand: s(0.7, 0.8, 0.6),
            info: s(0.9, 0.1, 0.1),
            rand_unthinned: s(0.3, 0.3, 0.3),
            info_unthinned: s(0.1, 0.1, 0.1),
        };
        let mut best = a;
        best.keep_best(&b);
        assert_eq!(best.rand, b.rand);
        assert_eq!(best.info, a.info, "ties keep the first");
        assert_eq!(best.rand_unthinned, b.rand_unthinned);
        assert_eq!(best.info_unthinned, a.info_unthinned);
    }
}
