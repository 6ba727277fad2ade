//! Instance labels and per-cell statistics derived from a post-processed segmentation.
//!
//! A cell is a 4-connected region of non-zero pixels (255 = cell interior in
//! the post-processing's final image); cells are numbered 1..=n in the raster
//! order of their first pixel, and every other pixel is 0. 4-connectivity
//! keeps two interiors apart when only a diagonal step joins them through a
//! membrane, as the ISBI 2012 scores define regions.

pub mod row_scan;

use crate::error::{Error, Result};
use crate::imageio::PixelSize;
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
        cells_csv(&self.cells, None)
    }

    /// [`Cells::to_csv`] with two more columns, for pixels of `pixel_size` (see [`cells_csv`]).
    pub fn to_csv_with_pixel_size(&self, pixel_size: &PixelSize) -> String {
        cells_csv(&self.cells, Some(pixel_size))
    }

    /// The labels as 16-bit values (for a 16-bit PNG); fails above 65535 cells.
    pub fn labels_u16(&self) -> Result<Raster<u16>> {
        if !crate::export::label_tiff::LabelPlane::fits_u16(self.count()) {
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

/// The statistics of `cells` as CSV: a header line, then one line per cell;
/// centroids have three decimals, bounding boxes are inclusive. With a
/// `pixel_size`, two more columns: `area_physical`, the area in square units of the
/// pixel size (six significant digits), and `area_unit`, that unit in ASCII
/// (`nm^2`, `um^2`).
pub fn cells_csv(cells: &[Cell], pixel_size: Option<&PixelSize>) -> String {
    let mut csv = String::from("label,area,centroid_x,centroid_y,bbox_x0,bbox_y0,bbox_x1,bbox_y1");
    csv.push_str(if pixel_size.is_some() { ",area_physical,area_unit\n" } else { "\n" });
    for c in cells {
        csv.push_str(&format!(
            "{},{},{:.3},{:.3},{},{},{},{}",
            c.label, c.area, c.centroid_x, c.centroid_y, c.x0, c.y0, c.x1, c.y1
        ));
        if let Some(size) = pixel_size {
            csv.push_str(&format!(",{},{}^2", significant(size.area_of(c.area)), size.unit().ascii_symbol()));
        }
        csv.push('\n');
    }
    csv
}

/// `value` to six significant digits (a number of more whole digits keeps them all),
/// without trailing zeros: `96`, `0.0264069`, `1234567`.
fn significant(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (5 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imageio::LengthUnit;

    #[test]
    fn the_csv_gains_the_physical_area_when_the_pixel_size_is_known() {
        let mask = GrayU8::new(4, 2, vec![255, 255, 0, 255, 255, 0, 0, 0]).unwrap();
        let cells = Cells::from_segmentation(&mask);
        let size = PixelSize::new(4.0, 5.0, LengthUnit::Nanometre).unwrap();
        assert_eq!(
            cells.to_csv_with_pixel_size(&size),
            "label,area,centroid_x,centroid_y,bbox_x0,bbox_y0,bbox_x1,bbox_y1,area_physical,area_unit\n\
             1,3,0.333,0.333,0,0,1,1,60,nm^2\n\
             2,1,3.000,0.000,3,0,3,0,20,nm^2\n"
        );
        let microns = PixelSize::new(0.5, 0.5, LengthUnit::Micrometre).unwrap();
        assert!(cells.to_csv_with_pixel_size(&microns).contains(",0.75,um^2\n"));
    }

    #[test]
    fn six_significant_digits() {
        assert_eq!(significant(96.0), "96");
        assert_eq!(significant(0.026_406_9), "0.0264069");
        assert_eq!(significant(0.000_012_345_67), "0.0000123457");
        assert_eq!(significant(1_234_567.0), "1234567");
        assert_eq!(significant(9.999_999_9), "10");
        assert_eq!(significant(0.0), "0");
    }
}
