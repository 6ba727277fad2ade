//! Foreground-restricted information-theoretic scoring, `V_Info`.
//!
//! With `S` the prediction and `T` the ground truth over the counted pixels
//! (singletons included as regions of `S`), Arganda-Carreras et al. 2015
//! (Front. Neuroanat. 9:142, eqs. 7–9) define, from the mutual information
//! `I(S;T) = H(S) + H(T) - H(S,T)` and the entropies:
//!
//! * `V_Info_split = I(S;T) / H(S)`: falls when the prediction splits regions
//!   (oversegmentation raises `H(S)`);
//! * `V_Info_merge = I(S;T) / H(T)`: falls when the prediction merges regions;
//! * `V_Info = 2 I(S;T) / (H(S) + H(T))`, their harmonic mean (alpha = 0.5).
//!
//! This is the same convention as the challenge code, where the "recall"
//! `I/H(S)` is the split score and the "precision" `I/H(T)` the merge score.
//!
//! Degenerate cases follow one rule: a ratio 0/0 is 1. A partition with a
//! single part has zero entropy and shares no information, so one
//! ground-truth region predicted as several gives split 0, merge 1 and
//! `V_Info` 0 (and symmetrically), while a single region predicted as a
//! single region scores 1 everywhere. With no counted pixel all scores are 1.

use super::contingency::ForegroundTable;
use super::SplitMergeScores;

/// `sum c ln c` over counts given in ascending order. Summing in a fixed
/// order makes equal multisets of counts give bit-identical sums, which keeps
/// the scores of identical partitions exactly 1.
fn sum_c_ln_c(sorted_counts: &[u64]) -> f64 {
    sorted_counts.iter().map(|&c| c as f64 * (c as f64).ln()).sum()
}

/// Quotient with the 0/0 = 1 convention, clamped to [0, 1] against rounding.
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        1.0
    } else {
        (numerator / denominator).clamp(0.0, 1.0)
    }
}

/// `V_Info` and its split and merge parts for one table (natural logarithms;
/// the scores do not depend on the base).
pub fn info_scores(table: &ForegroundTable) -> SplitMergeScores {
    if table.counted == 0 {
        return SplitMergeScores::PERFECT;
    }
    let n = table.counted as f64;
    let ln_n = n.ln();
    // With p = c / n: -sum p ln p = ln n - (sum c ln c) / n. Singletons have
    // c ln c = 0 and only enter through n.
    let joint = sum_c_ln_c(&table.overlaps);
    let truth = sum_c_ln_c(&table.truth_sizes);
    let predicted = sum_c_ln_c(&table.predicted_sizes);
    let entropy_truth = if table.truth_sizes.len() == 1 { 0.0 } else { ln_n - truth / n };
    let entropy_predicted = if table.predicted_parts() == 1 { 0.0 } else { ln_n - predicted / n };
    let mutual =
        if entropy_truth == 0.0 || entropy_predicted == 0.0 { 0.0 } else { ln_n - (predicted + truth - joint) / n };
    SplitMergeScores {
        score: ratio(2.0 * mutual, entropy_predicted + entropy_truth),
        split: ratio(mutual, entropy_predicted),
        merge: ratio(mutual, entropy_truth),
    }
}

/// `V_Info` as the challenge's code computes it (Fiji's
/// `VariationOfInformation.foregroundRestrictedFscore`, T = ground truth, S = proposal):
/// `merge = I/H(T)` (Fiji's precision), `split = I/H(S)` (its recall), `score` their harmonic
/// mean, with Fiji's rules for zero entropies, which differ from [`info_scores`]:
///
/// * one ground-truth region (`H(T) = 0`): merge 0, split 1, score 0;
/// * one proposal part (`H(S) = 0`, a single region or singleton): merge 1, split 0, score 0;
///   this rule is applied last, so it wins when both hold (one region predicted as one
///   region scores 0, not 1);
/// * no counted pixel: merge 0, split 1, score 0 (Fiji: `H(T) = 0`, `H(S)` NaN).
///
/// The ratios are clamped to [0, 1] against rounding, and a score whose parts are both 0
/// is 0 (Fiji's 0/0 there is NaN, which never wins its sweep either).
pub fn fiji_info_scores(table: &ForegroundTable) -> SplitMergeScores {
    let degenerate = |split, merge| SplitMergeScores { score: 0.0, split, merge };
    if table.counted == 0 {
        return degenerate(1.0, 0.0);
    }
    if table.predicted_parts() == 1 {
        return degenerate(0.0, 1.0);
    }
    if table.truth_sizes.len() == 1 {
        return degenerate(1.0, 0.0);
    }
    let n = table.counted as f64;
    let ln_n = n.ln();
    let joint = sum_c_ln_c(&table.overlaps);
    let truth = sum_c_ln_c(&table.truth_sizes);
    let predicted = sum_c_ln_c(&table.predicted_sizes);
    let entropy_truth = ln_n - truth / n;
    let entropy_predicted = ln_n - predicted / n;
    let mutual = ln_n - (predicted + truth - joint) / n;
    let merge = (mutual / entropy_truth).clamp(0.0, 1.0);
    let split = (mutual / entropy_predicted).clamp(0.0, 1.0);
    let score = if split + merge > 0.0 { 2.0 * split * merge / (split + merge) } else { 0.0 };
    SplitMergeScores { score, split, merge }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::metrics::contingency::tests::table;

    #[test]
    fn identical_partitions_score_exactly_one() {
        let s = info_scores(&table(&[3, 5, 7, 120], &[3, 5, 7, 120], &[3, 5, 7, 120], 0));
        assert_eq!(s, SplitMergeScores::PERFECT);
    }

    #[test]
    fn merges_lower_the_merge_score_only() {
        // H(T) = ln 2, H(S) = 0 -> I = 0, merge = 0, split = 0/0 = 1.
        let s = info_scores(&table(&[2, 2], &[2, 2], &[4], 0));
        assert_eq!((s.score, s.split, s.merge), (0.0, 1.0, 0.0));
        // Four regions of 2 predicted as two regions of 4: H(T) = ln 4,
        // H(S) = ln 2, I = ln 2 -> split 1, merge 1/2, V_Info 2/3.
        let s = info_scores(&table(&[2, 2, 2, 2], &[2, 2, 2, 2], &[4, 4], 0));
        assert!((s.split - 1.0).abs() < 1e-15);
        assert!((s.merge - 0.5).abs() < 1e-15);
        assert!((s.score - 2.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn fiji_scores_degenerate_partitions_zero() {
        let s = |score, split, merge| SplitMergeScores { score, split, merge };
        // One ground-truth region, predicted exactly.
        assert_eq!(info_scores(&table(&[6], &[6], &[6], 0)), SplitMergeScores::PERFECT);
        assert_eq!(fiji_info_scores(&table(&[6], &[6], &[6], 0)), s(0.0, 0.0, 1.0));
        // One ground-truth region, predicted as two.
        assert_eq!(fiji_info_scores(&table(&[2, 4], &[6], &[2, 4], 0)), s(0.0, 1.0, 0.0));
        // Two regions merged into one part.
        assert_eq!(info_scores(&table(&[2, 2], &[2, 2], &[4], 0)), s(0.0, 1.0, 0.0));
        assert_eq!(fiji_info_scores(&table(&[2, 2], &[2, 2], &[4], 0)), s(0.0, 0.0, 1.0));
        assert_eq!(fiji_info_scores(&table(&[], &[], &[], 0)), s(0.0, 1.0, 0.0));
    }

    #[test]
    fn fiji_scores_agree_elsewhere() {
        for t in [table(&[2, 2, 2, 2], &[2, 2, 2, 2], &[4, 4], 0), table(&[1, 2], &[2, 2], &[1, 2], 1)] {
            let (ours, fiji) = (info_scores(&t), fiji_info_scores(&t));
            for (a, b) in [(ours.score, fiji.score), (ours.split, fiji.split), (ours.merge, fiji.merge)] {
                assert!((a - b).abs() < 1e-15, "{ours:?} {fiji:?}");
            }
        }
    }

    #[test]
    fn singletons_count_as_predicted_regions() {
        // Two regions of 2; in the second one pixel is predicted membrane.
        // H(T) = ln 2; S = {2, 1, 1}: H(S) = 1.5 ln 2; I = H(T) = ln 2.
        let s = info_scores(&table(&[1, 2], &[2, 2], &[1, 2], 1));
        assert!((s.merge - 1.0).abs() < 1e-15);
        assert!((s.split - 1.0 / 1.5).abs() < 1e-15);
        assert!((s.score - 2.0 / 2.5).abs() < 1e-15);
    }
}
