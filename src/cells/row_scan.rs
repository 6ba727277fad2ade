//! The cells of a segmentation found row by row, without a label image: for images
//! too large to hold one (a 16384 x 16384 page's 32-bit labels take 1 GiB).
//!
//! [`scan`] goes down the rows once, splitting each into runs of cell pixels. A run
//! that touches no run of the row above (4-connectivity: they share a column) starts
//! a provisional id; one that does takes the id of the first it touches, and the
//! ids of the others it touches are united with it (union-find, the smaller id
//! the root). Provisional ids start in raster order at their run's first pixel, and
//! a cell's first pixel always starts one, so the cell with the smallest root comes
//! first in raster order: numbering the roots in order gives exactly the labels of
//! [`Cells::from_segmentation`](super::Cells::from_segmentation). Each provisional
//! id keeps the sums of its pixels; a root's cell adds up those of its ids.
//!
//! The labels themselves are made again row by row when they are written
//! ([`CellScan::label_rows`]): the same runs get the same provisional ids, and a
//! table maps each id to its cell's label. Memory: the statistics of every cell and
//! provisional id, and two rows of runs.

use super::Cell;
use crate::raster::GrayU8;

/// Cell pixels `start..end` of one row, with their provisional id.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: usize,
    end: usize,
    id: u32,
}

/// Sums over the pixels of one provisional id (or, once merged, of one cell).
#[derive(Clone, Copy, Debug)]
struct Sums {
    area: usize,
    sum_x: u64,
    sum_y: u64,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    /// The first pixel in raster order.
    first: (usize, usize),
}

impl Sums {
    /// The sums of run `start..end` of row `y`.
    fn of_run(start: usize, end: usize, y: usize) -> Self {
        let n = (end - start) as u64;
        Self {
            area: end - start,
            sum_x: n * (start as u64 + end as u64 - 1) / 2,
            sum_y: n * y as u64,
            x0: start,
            y0: y,
            x1: end - 1,
            y1: y,
            first: (start, y),
        }
    }

    /// Adds `other`'s pixels (`self`'s first pixel comes first in raster order).
    fn add(&mut self, other: &Sums) {
        self.area += other.area;
        self.sum_x += other.sum_x;
        self.sum_y += other.sum_y;
        self.x0 = self.x0.min(other.x0);
        self.y0 = self.y0.min(other.y0);
        self.x1 = self.x1.max(other.x1);
        self.y1 = self.y1.max(other.y1);
    }
}

/// The cells of a segmentation, found by [`scan`].
#[derive(Clone, Debug, PartialEq)]
pub struct CellScan {
    /// One entry per cell, in label order: those of [`Cells::cells`](super::Cells::cells).
    pub cells: Vec<Cell>,
    /// Each cell's first pixel in raster order, `(x, y)`, in label order.
    pub first_pixels: Vec<(usize, usize)>,
    /// The label of the cell of each provisional id.
    label_of_id: Vec<u32>,
}

/// The runs of cell (non-zero) pixels of `row`, each given an id by `id_for`,
/// which sees the run and the runs of the row above that it touches.
fn runs_of(row: &[u8], above: &[Run], out: &mut Vec<Run>, mut id_for: impl FnMut(usize, usize, &[Run]) -> u32) {
    out.clear();
    let mut x = 0;
    // Runs of the row above that end at or before `start` touch no later run either.
    let mut first_above = 0;
    while x < row.len() {
        if row[x] == 0 {
            x += 1;
            continue;
        }
        let start = x;
        while x < row.len() && row[x] != 0 {
            x += 1;
        }
        while first_above < above.len() && above[first_above].end <= start {
            first_above += 1;
        }
        let touching = above[first_above..].iter().take_while(|run| run.start < x).count();
        let id = id_for(start, x, &above[first_above..first_above + touching]);
        out.push(Run { start, end: x, id });
    }
}

/// The root of `id`, shortening the path on the way.
fn root(parent: &mut [u32], mut id: u32) -> u32 {
    while parent[id as usize] != id {
        let up = parent[parent[id as usize] as usize];
        parent[id as usize] = up;
        id = up;
    }
    id
}

/// Finds the cells (4-connected non-zero regions) of `segmentation` row by row:
/// the same cells, in the same order, as
/// [`Cells::from_segmentation`](super::Cells::from_segmentation), without a label image.
pub fn scan(segmentation: &GrayU8) -> CellScan {
    let (mut parent, mut sums): (Vec<u32>, Vec<Sums>) = (Vec::new(), Vec::new());
    let (mut above, mut current) = (Vec::new(), Vec::new());
    for y in 0..segmentation.height() {
        runs_of(segmentation.row(y), &above, &mut current, |start, end, touching| {
            let run = Sums::of_run(start, end, y);
            let Some(first) = touching.first() else {
                parent.push(parent.len() as u32);
                sums.push(run);
                return (parent.len() - 1) as u32;
            };
            sums[first.id as usize].add(&run);
            let mut keep = root(&mut parent, first.id);
            for other in &touching[1..] {
                let other = root(&mut parent, other.id);
                if other != keep {
                    let (low, high) = (keep.min(other), keep.max(other));
                    parent[high as usize] = low;
                    keep = low;
                }
            }
            first.id
        });
        std::mem::swap(&mut above, &mut current);
    }
    // Ids in increasing order: a root comes before every id it roots.
    let mut label_of_id = vec![0u32; parent.len()];
    let mut cell_sums: Vec<Sums> = Vec::new();
    for id in 0..parent.len() {
        let top = root(&mut parent, id as u32) as usize;
        if top == id {
            cell_sums.push(sums[id]);
            label_of_id[id] = cell_sums.len() as u32;
        } else {
            label_of_id[id] = label_of_id[top];
            cell_sums[label_of_id[top] as usize - 1].add(&sums[id]);
        }
    }
    let cells = cell_sums
        .iter()
        .enumerate()
        .map(|(k, s)| Cell {
            label: k as u32 + 1,
            area: s.area,
            centroid_x: s.sum_x as f64 / s.area as f64,
            centroid_y: s.sum_y as f64 / s.area as f64,
            x0: s.x0,
            y0: s.y0,
            x1: s.x1,
            y1: s.y1,
        })
        .collect();
    CellScan { cells, first_pixels: cell_sums.iter().map(|s| s.first).collect(), label_of_id }
}

impl CellScan {
    /// Number of cells.
    pub fn count(&self) -> usize {
        self.cells.len()
    }

    /// The labels of `segmentation` (the image it scanned) row by row: the rows of
    /// [`Cells::labels`](super::Cells::labels), made one at a time.
    pub fn label_rows<'a>(&'a self, segmentation: &'a GrayU8) -> LabelRows<'a> {
        LabelRows {
            scan: self,
            segmentation,
            y: 0,
            ids: 0,
            above: Vec::new(),
            current: Vec::new(),
            labels: vec![0; segmentation.width()],
        }
    }
}

/// The label rows of a [`CellScan`], top to bottom ([`LabelRows::next_row`]).
pub struct LabelRows<'a> {
    scan: &'a CellScan,
    segmentation: &'a GrayU8,
    y: usize,
    ids: u32,
    above: Vec<Run>,
    current: Vec<Run>,
    labels: Vec<u32>,
}

impl LabelRows<'_> {
    /// The labels of the next row (0 off cells), or `None` after the last.
    pub fn next_row(&mut self) -> Option<&[u32]> {
        if self.y >= self.segmentation.height() {
            return None;
        }
        std::mem::swap(&mut self.above, &mut self.current);
        let ids = &mut self.ids;
        runs_of(self.segmentation.row(self.y), &self.above, &mut self.current, |_, _, touching| {
            touching.first().map_or_else(
                || {
                    *ids += 1;
                    *ids - 1
                },
                |first| first.id,
            )
        });
        self.labels.fill(0);
        for run in &self.current {
            self.labels[run.start..run.end].fill(self.scan.label_of_id[run.id as usize]);
        }
        self.y += 1;
        Some(&self.labels)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::cells::Cells;

    /// The scan of `mask` against the whole-image labelling: cells and label rows.
    fn check(mask: &GrayU8) {
        let whole = Cells::from_segmentation(mask);
        let scanned = scan(mask);
        assert_eq!(scanned.cells, whole.cells);
        let mut rows = scanned.label_rows(mask);
        for y in 0..mask.height() {
            let expected: Vec<u32> = whole.labels.row(y).iter().map(|&l| l as u32).collect();
            assert_eq!(rows.next_row(), Some(&expected[..]), "row {y}");
        }
        assert_eq!(rows.next_row(), None);
        for (cell, &(x, y)) in whole.cells.iter().zip(&scanned.first_pixels) {
            let first = whole.labels.data().iter().position(|&l| l == cell.label as i32).unwrap();
            assert_eq!((x, y), (first % mask.width(), first / mask.width()), "cell {}", cell.label);
        }
    }

    #[test]
    fn a_u_joined_below_is_one_cell_numbered_from_its_first_pixel() {
        // Two arms that meet in the last row, a cell between them, a diagonal neighbour apart.
        let rows = ["#.#.#", "#.#..", "#.#.#", "###.."];
        let data = rows.iter().flat_map(|r| r.bytes().map(|b| if b == b'#' { 255 } else { 0 })).collect();
        let mask = GrayU8::new(5, 4, data).unwrap();
        check(&mask);
        assert_eq!(scan(&mask).count(), 3);
    }

    #[test]
    fn spirals_merge_many_provisional_ids() {
        // Combs whose teeth join at the bottom, nested in each other's gaps.
        let mask =
            GrayU8::from_fn(40, 30, |x, y| if x % 2 == 0 && (y < 29 || x < 20) || y == 29 && x < 20 { 255 } else { 0 });
        check(&mask);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn random_masks_give_the_whole_image_cells_and_labels(
            width in 1usize..24,
            height in 1usize..24,
            density in 0.2f64..0.9,
            seed in any::<u64>(),
        ) {
            let mut state = seed | 1;
            let mask = GrayU8::from_fn(width, height, |_, _| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if (state % 1000) as f64 / 1000.0 < density { 255 } else { 0 }
            });
            check(&mask);
        }
    }
}
