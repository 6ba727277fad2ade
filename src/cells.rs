//! Instance labels and per-cell statistics derived from a post-processed segmentation.
//!
//! A cell is a 4-connected region of non-zero pixels (255 = cell interior in
//! the post-processing's final image); cells are numbered 1..=n in the raster
//! order of their first pixel, and every other pixel is 0. 4-connectivity
//! keeps two interiors apart when only a diagonal step joins them through a
//! membrane, as the ISBI 2012 scores define regions.

use crate::error::{Error, Result};
use crate::postprocess::components::{connected_components, Connectivity};
use crate::postprocess::render::{label_color, RgbU8};
use crate::raster::{GrayU8, Labels, Raster};

/// Geometry of one cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The cell's label in [`Cells::labels`] (1-based).
    pub label: u32,
    /// Number of pixels.
    pub area: usize,
    /// Mean column of its pixels.
    pub centroid_x: f64,
    /// Mean row of its pixels.
    pub centroid_y: f64,
    /// Leftmost column (inclusive).
    pub x0: usize,
    /// Topmost row (inclusive).
    pub y0: usize,
    /// Rightmost column (inclusive).
    pub x1: usize,
    /// Bottom row (inclusive).
    pub y1: usize,
}

/// The cells of a segmentation: their label image and statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Cells {
    /// 0 off cells, the cell's label on it.
    pub labels: Labels,
    /// One entry per label, in label order.
    pub cells: Vec<Cell>,
}

impl Cells {
    /// Finds the cells (4-connected non-zero regions) of `segmentation`.
    pub fn from_segmentation(segmentation: &GrayU8) -> Self {
        let labels = connected_components(segmentation, Connectivity::Four).labels;
        Self::from_labels(labels)
    }

    /// Measures the cells of an instance label image (labels 1..=n, 0 elsewhere,
    /// every label in between present).
    fn from_labels(labels: Labels) -> Self {
        let count = labels.data().iter().copied().max().unwrap_or(0).max(0) as usize;
        let mut sums = vec![(0usize, 0u64, 0u64); count];
        let mut cells: Vec<Cell> = (1..=count)
            .map(|label| Cell {
                label: label as u32,
                area: 0,
                centroid_x: 0.0,
                centroid_y: 0.0,
                x0: usize::MAX,
                y0: usize::MAX,
                x1: 0,
                y1: 0,
            })
            .collect();
        for (y, row) in labels.data().chunks_exact(labels.width().max(1)).enumerate() {
            for (x, &label) in row.iter().enumerate() {
                if label <= 0 {
                    continue;
                }
                let i = label as usize - 1;
                let (area, sx, sy) = &mut sums[i];
                *area += 1;
                *sx += x as u64;
                *sy += y as u64;
                let c = &mut cells[i];
                c.x0 = c.x0.min(x);
                c.y0 = c.y0.min(y);
                c.x1 = c.x1.max(x);
                c.y1 = c.y1.max(y);
            }
        }
        for (c, &(area, sx, sy)) in cells.iter_mut().zip(&sums) {
            c.area = area;
            c.centroid_x = sx as f64 / area as f64;
            c.centroid_y = sy as f64 / area as f64;
        }
        Self { labels, cells }
    }

    /// Number of cells.
    pub fn count(&self) -> usize {
        self.cells.len()
    }

    /// The statistics as CSV: a header line, then one line per cell.
    /// Centroids have three decimals; bounding boxes are inclusive.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("label,area,centroid_x,centroid_y,bbox_x0,bbox_y0,bbox_x1,bbox_y1\n");
        for c in &self.cells {
            csv.push_str(&format!(
                "{},{},{:.3},{:.3},{},{},{},{}\n",
                c.label, c.area, c.centroid_x, c.centroid_y, c.x0, c.y0, c.x1, c.y1
            ));
        }
        csv
    }

    /// The labels as 16-bit values (for a 16-bit PNG); fails above 65535 cells.
    pub fn labels_u16(&self) -> Result<Raster<u16>> {
        if self.count() > usize::from(u16::MAX) {
            return Err(Error::invalid(format!(
                "{} cells do not fit a 16-bit label image (at most {})",
                self.count(),
                u16::MAX
            )));
        }
        Ok(self.labels.map(|l| l as u16))
    }

    /// The labels with one colour per cell and black between cells.
    pub fn render(&self) -> RgbU8 {
        self.labels.map(label_color)
    }
}
