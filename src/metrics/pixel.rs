//! Pixel-wise scores of a binary segmentation: accuracy, IoU and Dice per class.

use crate::raster::Raster;

/// Pixel-wise agreement between a predicted and a ground-truth cell mask
/// (`true` = cell interior, `false` = membrane).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelScores {
    /// Fraction of pixels whose class equals the ground truth's, as the
    /// original project computes its validation accuracy.
    pub accuracy: f64,
    /// Intersection over union of the membrane pixels.
    pub iou_membrane: f64,
    /// Intersection over union of the cell pixels.
    pub iou_cell: f64,
    /// Dice coefficient `2|P∩T| / (|P|+|T|)` of the membrane pixels.
    pub dice_membrane: f64,
    /// Dice coefficient of the cell pixels.
    pub dice_cell: f64,
}

/// Scores `predicted` against `truth` (same size, checked by the caller).
///
/// A class absent from both masks has IoU and Dice 1 (the prediction agrees
/// that it is absent); absent from only one of them it has 0. An empty image
/// has accuracy 1.
pub fn pixel_scores(predicted: &Raster<bool>, truth: &Raster<bool>) -> PixelScores {
    // counts[truth][predicted], index 0 = membrane, 1 = cell.
    let mut counts = [[0u64; 2]; 2];
    for (&t, &p) in truth.data().iter().zip(predicted.data()) {
        counts[t as usize][p as usize] += 1;
    }
    let total = truth.data().len() as u64;
    let agree = counts[0][0] + counts[1][1];
    let overlap = |class: usize| {
        let both = counts[class][class];
        let in_truth = counts[class][0] + counts[class][1];
        let in_prediction = counts[0][class] + counts[1][class];
        let union = in_truth + in_prediction - both;
        if union == 0 {
            (1.0, 1.0)
        } else {
            (both as f64 / union as f64, 2.0 * both as f64 / (in_truth + in_prediction) as f64)
        }
    };
    let (iou_membrane, dice_membrane) = overlap(0);
    let (iou_cell, dice_cell) = overlap(1);
    PixelScores {
        accuracy: if total == 0 { 1.0 } else { agree as f64 / total as f64 },
        iou_membrane,
        iou_cell,
        dice_membrane,
        dice_cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(bits: &[u8]) -> Raster<bool> {
        Raster::from_fn(bits.len(), 1, |x, _| bits[x] == 1)
    }

    #[test]
    fn hand_counted_example() {
        // truth   1 1 1 0 0
        // predict 1 1 0 0 1
        let s = pixel_scores(&mask(&[1, 1, 0, 0, 1]), &mask(&[1, 1, 1, 0, 0]));
        assert_eq!(s.accuracy, 3.0 / 5.0);
        assert_eq!(s.iou_cell, 2.0 / 4.0);
        assert_eq!(s.dice_cell, 4.0 / 6.0);
        assert_eq!(s.iou_membrane, 1.0 / 3.0);
        assert_eq!(s.dice_membrane, 2.0 / 4.0);
    }

    #[test]
    fn class_absent_from_both_scores_one_and_from_one_scores_zero() {
        let all_cell = mask(&[1, 1, 1]);
        let s = pixel_scores(&all_cell, &all_cell);
        assert_eq!((s.iou_membrane, s.dice_membrane, s.accuracy), (1.0, 1.0, 1.0));
        let s = pixel_scores(&mask(&[1, 0, 1]), &all_cell);
        assert_eq!((s.iou_membrane, s.dice_membrane), (0.0, 0.0));
    }
}
