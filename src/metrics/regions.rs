//! Regions of a segmentation: 4-connected components of its cell pixels.

use crate::raster::{Labels, Raster};

/// Labels the 4-connected components of the `true` pixels of `cell`.
///
/// Returns the label image (0 for `false` pixels, regions numbered 1, 2, ...
/// in the order their first pixel appears in raster order, as
/// `skimage.measure.label(cell, connectivity=1)` numbers them) and the number
/// of regions.
pub fn label_regions(cell: &Raster<bool>) -> (Labels, usize) {
    let (width, height) = cell.dims();
    let inside = cell.data();
    let mut labels = vec![0i32; inside.len()];
    let mut stack = Vec::new();
    let mut count = 0usize;
    for start in 0..inside.len() {
        if !inside[start] || labels[start] != 0 {
            continue;
        }
        count += 1;
        let label = count as i32;
        labels[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % width, i / width);
            let mut visit = |j: usize| {
                if inside[j] && labels[j] == 0 {
                    labels[j] = label;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < width {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - width);
            }
            if y + 1 < height {
                visit(i + width);
            }
        }
    }
    let mut image = Labels::filled(width, height, 0);
    image.data_mut().copy_from_slice(&labels);
    (image, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagonal_neighbours_are_separate_regions() {
        let cell = Raster::from_fn(3, 3, |x, y| (x + y) % 2 == 0);
        // Pattern:  # . #
        //           . # .
        //           # . #
        let (labels, count) = label_regions(&cell);
        assert_eq!(count, 5);
        assert_eq!(labels.data(), &[1, 0, 2, 0, 3, 0, 4, 0, 5]);
    }

    #[test]
    fn u_shape_is_one_region_numbered_by_first_pixel() {
        let rows = ["#.#", "#.#", "###"];
        let cell = Raster::from_fn(3, 3, |x, y| rows[y].as_bytes()[x] == b'#');
        let (labels, count) = label_regions(&cell);
        assert_eq!(count, 1);
        assert_eq!(labels.data(), &[1, 0, 1, 1, 0, 1, 1, 1, 1]);
    }
}
