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

/// `V_Rand` and its split and merge parts for one table. With no counted
/// pixel every score is 1 (there is no pair to disagree on).
pub fn rand_scores(table: &ForegroundTable) -> SplitMergeScores {
    let squares = |sizes: &[u64]| sizes.iter().map(|&c| c * c).sum::<u64>();
    let joint = squares(&table.overlaps) + table.singletons;
    let truth = squares(&table.truth_sizes);
    let predicted = squares(&table.predicted_sizes) + table.singletons;
    if table.counted == 0 {
        return SplitMergeScores::PERFECT;
    }
    let (joint, truth, predicted) = (joint as f64, truth as f64, predicted as f64);
    SplitMergeScores { score: 2.0 * joint / (predicted + truth), split: joint / truth, merge: joint / predicted }
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
    fn nothing_counted_is_perfect() {
        assert_eq!(rand_scores(&table(&[], &[], &[], 0)), SplitMergeScores::PERFECT);
    }
}
