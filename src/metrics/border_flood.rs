//! The "border thinning" of the ISBI 2012 challenge's scores: the watershed flood that Fiji
//! applies to a binary proposal.
//!
//! The challenge's evaluation code (Fiji's Trainable Weka Segmentation, package
//! `trainableSegmentation.metrics`, `RandError` and `VariationOfInformation`) does not
//! skeletonise the proposal's membranes. It inverts the binarised proposal (cell 0, membrane
//! 255) and floods it with `trainableSegmentation.utils.WatershedTransform2D(image, 4)`, the
//! Vincent–Soille flooding algorithm with 4-connectivity. On a two-level image that flood is:
//!
//! 1. every 4-connected component of cell pixels is a basin with a label of its own;
//! 2. the membrane pixels that have a basin among their 4 neighbours are queued, visited column
//!    by column (`x` outer, `y` inner), as Fiji lists the pixels of a level;
//! 3. the queue is worked off first in, first out; each pixel looks at its neighbours in Fiji's
//!    order, left `(x-1, y)`, up `(x, y-1)`, right `(x+1, y)`, down `(x, y+1)`, queues those not
//!    reached yet, and with Fiji's rules ends up with the label of its settled neighbours (cells
//!    and pixels taken from the queue before it) when they carry exactly one label, or as a dam
//!    (label 0) when they carry two or more, or only dams.
//!
//! The order of the neighbours within a pixel changes no result; the order of the queue does:
//! where two floods reach adjacent pixels in the same step, the pixel queued first keeps its
//! flood and the other becomes the dam. A straight border of even width between two cells thus
//! gets its dam on the right (or lower) one of its two middle columns (rows), as in Fiji.
//!
//! The membrane between two cells shrinks to a dam about one pixel wide, and membrane that
//! touches a single cell (spurs, dangling ends, isolated specks inside a cell, bands along the
//! image edge) is absorbed into that cell. Cells are never merged or split: each basin keeps
//! its own label, and every other labelled pixel is joined to its basin by pixels of the same
//! label. There is no frame: pixels outside the image are not neighbours.
//!
//! Fiji's flood can leave a dam pixel that touches only dams and one region (or none), where
//! a dam ends against a membrane pocket (its source notes "this algorithm may have plateaus in
//! the dams"); every dam pixel touches two regions or another dam, and every 4-connected group
//! of dam pixels touches at least two regions. [`flood_borders`] reproduces the Java's labels
//! pixel for pixel (up to the numbering of the basins), including the tie order between
//! equally distant basins and the Java's single `flag` variable.

use std::collections::VecDeque;

use crate::postprocess::components::{connected_components, Connectivity};
use crate::raster::{Labels, Raster};

/// Label of a dam pixel (Fiji's `WSHED`).
pub const DAM: i32 = 0;
/// A membrane pixel not reached yet (Fiji's `MASK`).
const UNREACHED: i32 = -2;
/// A membrane pixel in the queue (Fiji's `INQUEUE`).
const QUEUED: i32 = -3;

/// Floods the membrane of a binary proposal (`true` = cell) from its cells, as Fiji's
/// `WatershedTransform2D(inverted proposal, 4).apply()` does (see the module documentation).
///
/// Returns a label image of the proposal's size: [`DAM`] (0) on the dams; every cell keeps
/// the label of its 4-connected component, numbered `1, 2, ...` as
/// [`connected_components`] numbers them (raster order of the first pixel; Fiji numbers them
/// column by column, which changes no partition), and every other membrane pixel takes the
/// label of the cell it was flooded from. A proposal without any cell pixel becomes a single
/// region labelled 1, as in Fiji (its flood then starts the whole membrane plateau as one new
/// basin). An empty image gives an empty label image.
pub fn flood_borders(cell: &Raster<bool>) -> Labels {
    let (width, height) = cell.dims();
    if width == 0 || height == 0 {
        return Labels::filled(width, height, 0);
    }
    let basins = connected_components(&cell.map(u8::from), Connectivity::Four);
    if basins.count == 0 {
        return Labels::filled(width, height, 1);
    }
    let mut labels = basins.labels.into_data();
    for (label, &is_cell) in labels.iter_mut().zip(cell.data()) {
        if !is_cell {
            *label = UNREACHED;
        }
    }
    // The 4 neighbours of pixel `i` in Fiji's order (left, up, right, down), `None` outside.
    let neighbours = |i: usize| -> [Option<usize>; 4] {
        let (x, y) = (i % width, i / width);
        [
            (x > 0).then(|| i - 1),
            (y > 0).then(|| i - width),
            (x + 1 < width).then(|| i + 1),
            (y + 1 < height).then(|| i + width),
        ]
    };
    // The first level of the flood: membrane pixels next to a basin, column by column.
    let mut queue = VecDeque::new();
    for x in 0..width {
        for y in 0..height {
            let i = y * width + x;
            if labels[i] == UNREACHED && neighbours(i).into_iter().flatten().any(|j| labels[j] > 0) {
                labels[i] = QUEUED;
                queue.push_back(i);
            }
        }
    }
    // Fiji keeps one `flag` for the whole flood: "this pixel became a dam by touching a dam".
    let mut flag = false;
    while let Some(i) = queue.pop_front() {
        for j in neighbours(i).into_iter().flatten() {
            let (own, other) = (labels[i], labels[j]);
            if other > 0 {
                if own == QUEUED || (own == DAM && flag) {
                    labels[i] = other;
                } else if own > 0 && own != other {
                    labels[i] = DAM;
                    flag = false;
                }
            } else if other == DAM {
                if own == QUEUED {
                    labels[i] = DAM;
                    flag = true;
                }
            } else if other == UNREACHED {
                labels[j] = QUEUED;
                queue.push_back(j);
            }
        }
    }
    // Every membrane pixel is 4-connected to a cell and so has been reached and settled.
    debug_assert!(labels.iter().all(|&l| l >= DAM));
    Labels::new(width, height, labels).expect("labels sized like the proposal")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(rows: &[&str]) -> Raster<bool> {
        Raster::from_fn(rows[0].len(), rows.len(), |x, y| rows[y].as_bytes()[x] == b'#')
    }

    /// The flood as text: '+' = dam, letters = labels in order of first appearance.
    fn picture(labels: &Labels) -> Vec<String> {
        let mut names: Vec<i32> = Vec::new();
        (0..labels.height())
            .map(|y| {
                (0..labels.width())
                    .map(|x| match labels.get(x, y) {
                        DAM => '+',
                        l => {
                            let k = names.iter().position(|&n| n == l).unwrap_or_else(|| {
                                names.push(l);
                                names.len() - 1
                            });
                            (b'a' + k as u8) as char
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_thick_border_becomes_a_dam_where_the_floods_meet() {
        // Odd width: the middle column; even width: Fiji's tie order puts the dam right of the middle.
        assert_eq!(picture(&flood_borders(&cells(&["##...##"; 2]))), ["aaa+bbb"; 2]);
        assert_eq!(picture(&flood_borders(&cells(&["##....##"; 2]))), ["aaaa+bbb"; 2]);
        // Across rows: the dam is below the middle.
        let rows = ["###", "...", "...", "...", "...", "###"];
        assert_eq!(picture(&flood_borders(&cells(&rows))), ["aaa", "aaa", "aaa", "+++", "bbb", "bbb"]);
    }

    #[test]
    fn spurs_specks_and_edge_bands_are_absorbed() {
        // The top row, an edge band, goes to the cells below it; the membrane between two cells
        // becomes a dam.
        let rows = ["....", ".#.#", "....", "##.#"];
        assert_eq!(picture(&flood_borders(&cells(&rows))), ["aa+b", "aa+b", "++++", "cc+d"]);
        let speck = ["#####", "##.##", "#####"];
        assert_eq!(picture(&flood_borders(&cells(&speck))), ["aaaaa"; 3]);
        // A spur of two pixels off a border: the cell it points into takes its tip.
        let spur = ["##.####", "##.####", "##...##", "##.####", "##.####"];
        let flood = ["aa+bbbb", "aa+bbbb", "aaa+bbb", "aa+bbbb", "aa+bbbb"];
        assert_eq!(picture(&flood_borders(&cells(&spur))), flood);
    }

    #[test]
    fn a_dam_can_end_in_a_plateau() {
        // The corners (0, 0) and (2, 2) are reached only from the dams next to them.
        let rows = ["..#", ".#.", "#.."];
        assert_eq!(picture(&flood_borders(&cells(&rows))), ["++a", "+b+", "c++"]);
    }

    #[test]
    fn no_cell_is_one_region_and_no_membrane_keeps_the_cells() {
        assert_eq!(flood_borders(&cells(&["...", "..."])).data(), &[1; 6]);
        let all = flood_borders(&cells(&["###", "###"]));
        assert_eq!(all.data(), &[1; 6]);
        assert_eq!(flood_borders(&Raster::filled(0, 3, false)).dims(), (0, 3));
    }
}
