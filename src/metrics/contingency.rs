//! The foreground-restricted contingency table of two region labellings.
//!
//! Following Arganda-Carreras et al. 2015 (Front. Neuroanat. 9:142) and the
//! ISBI 2012 evaluation code, only pixels inside a ground-truth region (label
//! > 0) are counted. A counted pixel that the prediction labels 0 (membrane)
//! is its own predicted region of one pixel (a singleton), so a prediction
//! cannot gain by marking doubtful pixels as membrane.

use crate::error::{Error, Result};
use crate::raster::Labels;

/// Pixel counts of the overlaps between ground-truth regions and predicted
/// regions, over the pixels inside ground-truth regions.
#[derive(Clone, Debug, PartialEq)]
pub struct ForegroundTable {
    /// Number of counted pixels `n`: pixels inside a ground-truth region.
    pub counted: u64,
    /// Non-zero overlap counts `n_ij` between ground-truth region `j` and
    /// predicted region `i`, singletons excluded, sorted ascending.
    pub overlaps: Vec<u64>,
    /// Counted pixels per ground-truth region (`n t_j`), sorted ascending.
    pub truth_sizes: Vec<u64>,
    /// Counted pixels per predicted region that has any (`n s_i`),
    /// singletons excluded, sorted ascending.
    pub predicted_sizes: Vec<u64>,
    /// Counted pixels that the prediction labels as membrane; each one is a
    /// predicted region (and an overlap) of size 1.
    pub singletons: u64,
}

impl ForegroundTable {
    /// Builds the table from a ground-truth and a predicted label image of
    /// the same size (label 0 = membrane, other labels = regions).
    pub fn new(truth: &Labels, predicted: &Labels) -> Result<Self> {
        if truth.dims() != predicted.dims() {
            let (tw, th) = truth.dims();
            let (pw, ph) = predicted.dims();
            return Err(Error::invalid(format!(
                "predicted labels are {pw}x{ph} but ground-truth labels are {tw}x{th}"
            )));
        }
        let max_label = |labels: &Labels| labels.data().iter().copied().max().unwrap_or(0).max(0) as usize;
        let mut truth_sizes = vec![0u64; max_label(truth) + 1];
        let mut predicted_sizes = vec![0u64; max_label(predicted) + 1];
        let mut pairs = Vec::new();
        let mut singletons = 0u64;
        for (&t, &p) in truth.data().iter().zip(predicted.data()) {
            if t <= 0 {
                continue;
            }
            truth_sizes[t as usize] += 1;
            if p <= 0 {
                singletons += 1;
            } else {
                predicted_sizes[p as usize] += 1;
                pairs.push(((t as u64) << 32) | p as u64);
            }
        }
        pairs.sort_unstable();
        let mut overlaps = Vec::new();
        let mut run_start = 0;
        for i in 1..=pairs.len() {
            if i == pairs.len() || pairs[i] != pairs[run_start] {
                overlaps.push((i - run_start) as u64);
                run_start = i;
            }
        }
        let nonzero_sorted = |mut sizes: Vec<u64>| {
            sizes.retain(|&s| s > 0);
            sizes.sort_unstable();
            sizes
        };
        overlaps.sort_unstable();
        Ok(Self {
            counted: truth_sizes.iter().sum(),
            overlaps,
            truth_sizes: nonzero_sorted(truth_sizes),
            predicted_sizes: nonzero_sorted(predicted_sizes),
            singletons,
        })
    }

    /// Number of parts the prediction splits the counted pixels into:
    /// predicted regions plus singletons.
    pub fn predicted_parts(&self) -> u64 {
        self.predicted_sizes.len() as u64 + self.singletons
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A table from sorted counts, for the score modules' unit tests; `counted` is the truth total.
    pub(crate) fn table(overlaps: &[u64], truth: &[u64], predicted: &[u64], singletons: u64) -> ForegroundTable {
        ForegroundTable {
            counted: truth.iter().sum(),
            overlaps: overlaps.to_vec(),
            truth_sizes: truth.to_vec(),
            predicted_sizes: predicted.to_vec(),
            singletons,
        }
    }

    fn labels(width: usize, values: &[i32]) -> Labels {
        Labels::new(width, values.len() / width, values.to_vec()).unwrap()
    }

    #[test]
    fn counts_only_truth_regions_and_makes_predicted_membrane_singletons() {
        let truth = labels(4, &[1, 1, 0, 2, 1, 1, 0, 2]);
        let pred = labels(4, &[1, 0, 1, 1, 1, 1, 3, 0]);
        let table = ForegroundTable::new(&truth, &pred).unwrap();
        assert_eq!(table.counted, 6);
        // (t1, p1) = 3, (t2, p1) = 1; singletons at (1, 0) and (3, 1).
        assert_eq!(table.overlaps, vec![1, 3]);
        assert_eq!(table.truth_sizes, vec![2, 4]);
        // Predicted region 3 lies on ground-truth membrane only: not counted.
        assert_eq!(table.predicted_sizes, vec![4]);
        assert_eq!(table.singletons, 2);
        assert_eq!(table.predicted_parts(), 3);
    }

    #[test]
    fn size_mismatch_names_both_sizes() {
        let err = ForegroundTable::new(&labels(2, &[1, 1]), &labels(1, &[1, 1])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("1x2") && msg.contains("2x1"), "{msg}");
    }
}
