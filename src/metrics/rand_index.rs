//! Foreground-restricted Rand scoring, `V_Rand`.
//!
//! With `p_ij` the probability that a counted pixel lies in predicted region
//! `i` and ground-truth region `j`, `s_i = sum_j p_ij` and `t_j = sum_i p_ij`,
//! Arganda-Carreras et al. 2015 (Front. Neuroanat. 9:142, eqs. 3–5) define
//!
//! * `V_Rand_split = sum_ij p_ij^2 / sum_j t_j^2`: the probability that two
//!   counted pixels of the same ground-truth region are in the same predicted
//!   region (falls when the prediction splits regions);
//! * `V_Rand_merge = sum_ij p_ij^2 / sum_i s_i^2`: the probability that two
//!   counted pixels of the same predicted region are in the same ground-truth
//!   region (falls when the prediction merges regions);
//! * `V_Rand = 2 sum_ij p_ij^2 / (sum_i s_i^2 + sum_j t_j^2)`, their harmonic
//!   mean (alpha = 0.5).
//!
//! Pairs are drawn with replacement (the "N^2 normalisation" of the challenge
//! code), and each singleton adds `1/n^2` to `sum p_ij^2` and to `sum s_i^2`.
//! The sums are exact integers of pixel counts; the `1/n^2` cancels.

use super::contingency::ForegroundTable;
use super::SplitMergeScores;

/// The three pair counts behind a `V_Rand` (each the `sum ... ^2` above times `n^2`): what
/// Fiji calls true positives (`joint`), true positives plus false negatives (`truth`) and true
/// positives plus false positives (`predicted`). A stack adds them up over its slices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandPairs {
    /// `sum_ij n_ij^2`, singletons included.
    pub joint: u64,
    /// `sum_j (n t_j)^2`.
    pub truth: u64,
    /// `sum_i (n s_i)^2`, singletons included.
    pub predicted: u64,
}

impl RandPairs {
    /// The pair counts of one table.
    pub fn of(table: &ForegroundTable) -> Self {
        let squares = |sizes: &[u64]| sizes.iter().map(|&c| c * c).sum::<u64>();
        Self {
            joint: squares(&table.overlaps) + table.singletons,
            truth: squares(&table.truth_sizes),
            predicted: squares(&table.predicted_sizes) + table.singletons,
        }
    }

    /// The sums of `self` and `other`.
    pub fn plus(&self, other: &Self) -> Self {
        Self {
            joint: self.joint + other.joint,
            truth: self.truth + other.truth,
            predicted: self.predicted + other.predicted,
        }
    }

    /// `(split, merge) = (joint / truth, joint / predicted)`; `(0, 0)` without any pair (Fiji's
    /// 0/0 there is NaN).
    pub fn split_merge(&self) -> (f64, f64) {
        if self.truth == 0 {
            return (0.0, 0.0);
        }
        let joint = self.joint as f64;
        (joint / self.truth as f64, joint / self.predicted as f64)
    }
}

/// `V_Rand` and its split and merge parts for one table. With no counted
/// pixel every score is 1 (there is no pair to disagree on).
pub fn rand_scores(table: &ForegroundTable) -> SplitMergeScores {
    if table.counted == 0 {
        return SplitMergeScores::PERFECT;
    }
    let pairs = RandPairs::of(table);
    let (joint, truth, predicted) = (pairs.joint as f64, pairs.truth as f64, pairs.predicted as f64);
    SplitMergeScores { score: 2.0 * joint / (predicted + truth), split: joint / truth, merge: joint / predicted }
}

/// `V_Rand` as the challenge's code computes it (Fiji's
/// `RandError.getForegroundRestrictedRandIndexStatsN2`): the same as [`rand_scores`], except
/// that with no counted pixel (no ground-truth cell) everything is 0 (Fiji's F-score is then
/// 0 and its precision and recall NaN).
pub fn fiji_rand_scores(table: &ForegroundTable) -> SplitMergeScores {
    if table.counted == 0 {
        return SplitMergeScores { score: 0.0, split: 0.0, merge: 0.0 };
    }
    rand_scores(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::metrics::contingency::tests::table;

    #[test]
    fn merging_two_regions_lowers_merge_only() {
        // Two ground-truth regions of 2 pixels, predicted as one region of 4:
        // sum n_ij^2 = 8, sum t^2 = 8, sum s^2 = 16.
        let s = rand_scores(&table(&[2, 2], &[2, 2], &[4], 0));
        assert_eq!(s.split, 1.0);
        assert_eq!(s.merge, 0.5);
        assert_eq!(s.score, 2.0 * 8.0 / 24.0);
    }

    #[test]
    fn singletons_lower_split_only() {
        // One region of 4 pixels, 2 of them predicted as membrane:
        // sum n_ij^2 = 4 + 2, sum t^2 = 16, sum s^2 = 4 + 2.
        let s = rand_scores(&table(&[2], &[4], &[2], 2));
        assert_eq!(s.split, 6.0 / 16.0);
        assert_eq!(s.merge, 1.0);
        assert_eq!(s.score, 12.0 / 22.0);
    }

    #[test]
    fn nothing_counted_is_perfect_here_and_zero_for_fiji() {
        assert_eq!(rand_scores(&table(&[], &[], &[], 0)), SplitMergeScores::PERFECT);
        assert_eq!(fiji_rand_scores(&table(&[], &[], &[], 0)), SplitMergeScores { score: 0.0, split: 0.0, merge: 0.0 });
        assert_eq!(RandPairs::of(&table(&[], &[], &[], 0)).split_merge(), (0.0, 0.0));
    }

    #[test]
    fn pairs_add_up() {
        let a = RandPairs::of(&table(&[2, 2], &[2, 2], &[4], 0));
        assert_eq!(a, RandPairs { joint: 8, truth: 8, predicted: 16 });
        let b = RandPairs::of(&table(&[2], &[4], &[2], 2));
        assert_eq!(a.plus(&b), RandPairs { joint: 14, truth: 24, predicted: 22 });
        assert_eq!(a.plus(&b).split_merge(), (14.0 / 24.0, 14.0 / 22.0));
    }
}
