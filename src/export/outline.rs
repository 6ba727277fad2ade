//! The outlines of cells on the pixel grid: each cell's boundary traced along the
//! edges between its pixels and the others, so that the polygons enclose exactly
//! the cell's pixels (as ImageJ's traced ROIs and its wand tool do).
//!
//! A corner `(x, y)` is the top-left corner of pixel `(x, y)`; pixel `(x, y)` is the
//! square from corner `(x, y)` to corner `(x + 1, y + 1)`. The boundary of a cell is
//! the set of pixel edges with the cell on one side only. It is walked with the cell
//! on the right (on screen, x to the right and y down: clockwise around the cell,
//! counter-clockwise around a hole). Where two of the cell's pixels touch only at a
//! corner, the walk turns right and keeps them apart, as cells are 4-connected
//! regions: such a corner appears twice in one ring. Every boundary edge belongs to
//! exactly one ring, so filling the rings together by the even-odd rule (a point is
//! inside when a ray from it crosses the rings an odd number of times) gives back
//! exactly the cell's pixels.

use crate::raster::{GrayU8, Labels};

/// A corner of the pixel grid, `(x, y)`: the top-left corner of pixel `(x, y)`.
pub type Corner = (u32, u32);

/// The boundary of one cell, as closed rings of corners. A ring lists the corners
/// where the boundary turns, in walking order, and closes back to its first one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outline {
    /// The outer boundary, clockwise on screen, from the top-left corner of the
    /// cell's first pixel in raster order.
    pub outer: Vec<Corner>,
    /// The boundaries of the cell's holes (regions of other pixels that it
    /// encloses, 8-connected), counter-clockwise on screen, in the raster order of
    /// their first edge.
    pub holes: Vec<Vec<Corner>>,
}

impl Outline {
    /// The smallest and largest corner coordinates, `(x0, y0, x1, y1)`; all zero for
    /// an empty outline.
    pub fn bounds(&self) -> (u32, u32, u32, u32) {
        let mut corners = self.outer.iter();
        let Some(&(x, y)) = corners.next() else { return (0, 0, 0, 0) };
        corners.fold((x, y, x, y), |(x0, y0, x1, y1), &(x, y)| (x0.min(x), y0.min(y), x1.max(x), y1.max(y)))
    }
}

/// The outlines of the cells of `labels` (cells numbered 1..=n, 0 and negative
/// values off cells): entry `k` is label `k + 1`'s, empty for a label with no pixel.
pub fn outlines(labels: &Labels) -> Vec<Outline> {
    let count = labels.data().iter().copied().max().unwrap_or(0).max(0) as usize;
    let (width, height) = labels.dims();
    outlines_of(width, height, count, |x, y| {
        let label = labels.get(x, y);
        (label > 0).then(|| label as usize - 1)
    })
}

/// The outline of one cell of `segmentation` (a 4-connected region of non-zero
/// pixels) from its first pixel in raster order, `first`, and its bounding box
/// `(x0, y0, x1, y1)` (inclusive): the entry of [`outlines`] for that cell's label in
/// the segmentation's labels, without a label image. Memory: two bytes for each
/// pixel of the bounding box.
pub fn cell_outline(
    segmentation: &GrayU8,
    first: (usize, usize),
    (x0, y0, x1, y1): (usize, usize, usize, usize),
) -> Outline {
    let (width, height) = (x1 + 1 - x0, y1 + 1 - y0);
    let pixels = cell_pixels(segmentation, (first.0 - x0, first.1 - y0), (x0, y0, width, height));
    let mut outline = outlines_of(width, height, 1, |x, y| pixels[y * width + x].then_some(0)).remove(0);
    let shift = |ring: &mut Vec<Corner>| ring.iter_mut().for_each(|(x, y)| (*x, *y) = (*x + x0 as u32, *y + y0 as u32));
    shift(&mut outline.outer);
    outline.holes.iter_mut().for_each(shift);
    outline
}

/// The pixels of the box `(x0, y0, width, height)` of `segmentation` that are
/// 4-connected through non-zero pixels of the box to its pixel `seed` (in box
/// coordinates), row-major: a scanline flood fill, whose stack holds spans, not pixels.
fn cell_pixels(
    segmentation: &GrayU8,
    seed: (usize, usize),
    (x0, y0, width, height): (usize, usize, usize, usize),
) -> Vec<bool> {
    let mut filled = vec![false; width * height];
    let open = |filled: &[bool], x: usize, y: usize| !filled[y * width + x] && segmentation.get(x0 + x, y0 + y) != 0;
    let mut stack = vec![seed];
    while let Some((x, y)) = stack.pop() {
        if !open(&filled, x, y) {
            continue;
        }
        let (mut left, mut right) = (x, x);
        while left > 0 && open(&filled, left - 1, y) {
            left -= 1;
        }
        while right + 1 < width && open(&filled, right + 1, y) {
            right += 1;
        }
        filled[y * width + left..=y * width + right].fill(true);
        for next in [y.wrapping_sub(1), y + 1] {
            if next >= height {
                continue;
            }
            // One seed for each span of open pixels touching this one.
            let mut in_span = false;
            for nx in left..=right {
                let now = open(&filled, nx, next);
                if now && !in_span {
                    stack.push((nx, next));
                }
                in_span = now;
            }
        }
    }
    filled
}

/// The outlines of the `count` cells of a `width x height` grid whose pixel `(x, y)`
/// belongs to cell `cell_of(x, y)` (`None` off cells): entry `k` is cell `k`'s.
fn outlines_of(
    width: usize,
    height: usize,
    count: usize,
    cell_of: impl Fn(usize, usize) -> Option<usize>,
) -> Vec<Outline> {
    let mut outlines = vec![Outline::default(); count];
    // Whether the top edge of pixel (x, y) has been walked as a boundary edge of its cell.
    let mut walked = vec![false; width * height];
    for y in 0..height {
        for x in 0..width {
            let Some(cell) = cell_of(x, y) else { continue };
            let top_is_boundary = y == 0 || cell_of(x, y - 1) != Some(cell);
            if !top_is_boundary || walked[y * width + x] {
                continue;
            }
            let inside = |x: i64, y: i64| {
                x >= 0
                    && y >= 0
                    && (x as usize) < width
                    && (y as usize) < height
                    && cell_of(x as usize, y as usize) == Some(cell)
            };
            let ring = trace(width, inside, (x, y), &mut walked);
            // The first ring found is the one through the cell's first pixel: the outer one.
            let outline = &mut outlines[cell];
            if outline.outer.is_empty() {
                outline.outer = ring;
            } else {
                outline.holes.push(ring);
            }
        }
    }
    outlines
}

/// Steps along the grid: right, down, left, up (turning right is the next one).
const STEPS: [(i64, i64); 4] = [(1, 0), (0, 1), (-1, 0), (0, -1)];

/// The ring through the top edge of pixel `start` of the boundary of the cell whose
/// pixels are those where `inside` holds, on a grid `width` pixels wide, marking the
/// top edges it walks in `walked`.
fn trace(width: usize, inside: impl Fn(i64, i64) -> bool, start: (usize, usize), walked: &mut [bool]) -> Vec<Corner> {
    let width = width as i64;
    let start = (start.0 as i64, start.1 as i64);
    let (mut x, mut y) = start;
    // Along the top edge of the start pixel, rightwards: the cell is below, on the right.
    let mut direction = 0;
    let mut ring = Vec::new();
    loop {
        if direction == 0 {
            walked[(y * width + x) as usize] = true;
        }
        let (dx, dy) = STEPS[direction];
        (x, y) = (x + dx, y + dy);
        // The two pixels ahead of corner (x, y), to the right and to the left of the way.
        let (ahead_right, ahead_left) = match direction {
            0 => ((x, y), (x, y - 1)),
            1 => ((x - 1, y), (x, y)),
            2 => ((x - 1, y - 1), (x - 1, y)),
            _ => ((x, y - 1), (x - 1, y - 1)),
        };
        let turn = if !inside(ahead_right.0, ahead_right.1) {
            (direction + 1) % 4
        } else if !inside(ahead_left.0, ahead_left.1) {
            direction
        } else {
            (direction + 3) % 4
        };
        if turn != direction {
            ring.push((x as u32, y as u32));
        }
        direction = turn;
        if (x, y) == start && direction == 0 {
            break;
        }
    }
    // The start corner, where the walk turned last, goes first.
    ring.rotate_right(1);
    ring
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels from a drawing: a digit is that label, '.' is 0.
    fn drawn(rows: &[&str]) -> Labels {
        let data =
            rows.iter().flat_map(|r| r.bytes().map(|b| if b == b'.' { 0 } else { i32::from(b - b'0') })).collect();
        Labels::new(rows[0].len(), rows.len(), data).unwrap()
    }

    #[test]
    fn a_rectangle_is_its_four_corners_clockwise() {
        let outlines = outlines(&drawn(&["....", ".11.", ".11.", ".11."]));
        assert_eq!(outlines, vec![Outline { outer: vec![(1, 1), (3, 1), (3, 4), (1, 4)], holes: vec![] }]);
        assert_eq!(outlines[0].bounds(), (1, 1, 3, 4));
    }

    #[test]
    fn an_l_shape_turns_at_each_of_its_six_corners() {
        let outlines = outlines(&drawn(&["1.", "11"]));
        assert_eq!(outlines[0].outer, vec![(0, 0), (1, 0), (1, 1), (2, 1), (2, 2), (0, 2)]);
    }

    #[test]
    fn a_ring_has_its_hole_counter_clockwise() {
        let outlines = outlines(&drawn(&["111", "1.1", "111"]));
        assert_eq!(outlines[0].outer, vec![(0, 0), (3, 0), (3, 3), (0, 3)]);
        assert_eq!(outlines[0].holes, vec![vec![(1, 2), (2, 2), (2, 1), (1, 1)]]);
    }

    #[test]
    fn pixels_touching_at_a_corner_are_kept_apart_at_a_corner_visited_twice() {
        // One cell (4-connected through the bottom row) whose pixels (1, 0) and
        // (0, 1) touch diagonally at corner (1, 1).
        let outlines = outlines(&drawn(&[".11", "1.1", "111"]));
        let outer = &outlines[0].outer;
        assert_eq!(outer.iter().filter(|&&c| c == (1, 1)).count(), 2, "{outer:?}");
        assert!(outlines[0].holes.is_empty(), "the gap opens to the outside diagonally");
    }

    #[test]
    fn every_cell_of_a_label_image_gets_its_outline_and_others_are_holes() {
        let labels = drawn(&["11111", "12221", "12.21", "12221", "11111"]);
        let outlines = outlines(&labels);
        assert_eq!(outlines.len(), 2);
        assert_eq!(outlines[0].holes, vec![vec![(1, 4), (4, 4), (4, 1), (1, 1)]]);
        assert_eq!(outlines[1].outer, vec![(1, 1), (4, 1), (4, 4), (1, 4)]);
        assert_eq!(outlines[1].holes, vec![vec![(2, 3), (3, 3), (3, 2), (2, 2)]]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn each_cell_outlined_from_its_box_is_its_outline_among_all_labels(
            width in 1usize..20,
            height in 1usize..20,
            seed in proptest::prelude::any::<u64>(),
        ) {
            let mut state = seed | 1;
            let mask = GrayU8::from_fn(width, height, |_, _| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state % 3 == 0 { 0 } else { 255 }
            });
            let all = outlines(&crate::cells::Cells::from_segmentation(&mask).labels);
            let scan = crate::cells::row_scan::scan(&mask);
            for (k, cell) in scan.cells.iter().enumerate() {
                let outline = cell_outline(&mask, scan.first_pixels[k], (cell.x0, cell.y0, cell.x1, cell.y1));
                proptest::prop_assert_eq!(&outline, &all[k], "cell {}", k + 1);
            }
        }
    }
}
