//! How an image's samples become network inputs in `[0, 1]`.
//!
//! The choice belongs to the network: it travels with the weights
//! ([`UNetConfig::normalization`](crate::model::UNetConfig::normalization), min-max
//! for every weights file that does not say otherwise), and training crops,
//! validation, `unetseg forward` and tiled inference (the CLI and the page, through
//! the same [`TileRunner`](crate::inference::TileRunner)) all scale through
//! [`Normalization::range_of`] and [`MinMax::apply`].
//!
//! - [`Normalization::MinMax`] (the original's): the image's smallest sample maps to
//!   0 and its largest to 1. A handful of outliers (a hot pixel, a dust speck, a
//!   saturated label) squeezes everything else into a narrow band.
//! - [`Normalization::Percentile`]: the samples at [`PERCENTILE_LOW`] and
//!   [`PERCENTILE_HIGH`] of the image's distribution (0.5 % and 99.5 %) map to 0 and
//!   1, and what lies beyond is clipped, so up to 0.5 % outliers at either end do
//!   not change the scale.

use serde::{Deserialize, Serialize};

use crate::raster::{GrayF32, Raster, SampleRows};

/// The fraction of samples below the value that [`Normalization::Percentile`] maps to 0.
pub const PERCENTILE_LOW: f64 = 0.005;
/// The fraction of samples below the value that [`Normalization::Percentile`] maps to 1.
pub const PERCENTILE_HIGH: f64 = 0.995;

/// Bins of each pass of the percentile search.
const BINS: usize = 4096;
/// Passes after which the percentile search stops (each narrows the range 4096-fold).
const MAX_PASSES: usize = 16;

/// How network inputs are scaled to `[0, 1]` (`train --normalization`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(not(target_family = "wasm"), derive(clap::ValueEnum))]
pub enum Normalization {
    /// The image's range: minimum to 0, maximum to 1 (the original's, and the default).
    #[default]
    #[cfg_attr(not(target_family = "wasm"), value(name = "minmax"))]
    MinMax,
    /// The 0.5 % and 99.5 % percentiles to 0 and 1, clipped beyond; the image's range
    /// when those two are equal (an image that is almost all one value).
    Percentile,
}

/// The linear map of `[min, max]` onto `[0, 1]` that every input pixel of one image
/// goes through, measured once over the whole image so that tiles agree (no seams):
/// the image's range, or its percentiles (see [`Normalization`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinMax {
    /// The value that maps to 0.
    pub min: f32,
    /// The value that maps to 1.
    pub max: f32,
}

impl MinMax {
    /// The range of the samples of `image` (`0..0` when empty).
    pub fn of(image: &dyn SampleRows) -> Self {
        let (min, max) = image.min_max();
        Self { min, max }
    }

    /// `value` mapped to `[0, 1]`: `(value - min) / (max - min)`, clipped (values of
    /// the range itself need no clipping); 0 when the range is empty.
    pub fn apply(&self, value: f32) -> f32 {
        if self.max > self.min {
            ((value - self.min) / (self.max - self.min)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

impl Normalization {
    /// The map this normalisation gives `image`.
    pub fn range_of(self, image: &dyn SampleRows) -> MinMax {
        let full = MinMax::of(image);
        match self {
            Normalization::MinMax => full,
            Normalization::Percentile => {
                let (min, max) = (percentile(image, PERCENTILE_LOW, full), percentile(image, PERCENTILE_HIGH, full));
                if max > min {
                    MinMax { min, max }
                } else {
                    full
                }
            }
        }
    }

    /// `raster` scaled to `[0, 1]` by [`range_of`](Self::range_of) and [`MinMax::apply`]
    /// (a constant raster becomes all zeros). Min-max gives exactly what
    /// [`normalize_minmax`](crate::augment::normalize_minmax) gives.
    pub fn normalize<T: Copy + Into<f32>>(self, raster: &Raster<T>) -> GrayF32 {
        let range = self.range_of(raster);
        raster.map(|v| range.apply(v.into()))
    }
}

/// The sample of rank `round(fraction (n - 1))` (counting from 0) among the `n`
/// samples of `image` in ascending order, `range` being their minimum and maximum.
///
/// Exact, with memory bounded by the bins rather than the image: each pass counts the
/// samples of the current range into [`BINS`] bins, keeping each bin's smallest and
/// largest sample, and narrows the range to the bin that holds the rank (at least
/// 4096-fold), until a single value is left. 8- and 16-bit images need two passes.
fn percentile(image: &dyn SampleRows, fraction: f64, range: MinMax) -> f32 {
    let (w, h) = image.dims();
    let n = (w * h) as u64;
    if n == 0 {
        return 0.0;
    }
    let rank = (fraction * (n - 1) as f64).round() as u64;
    let columns: Vec<usize> = (0..w).collect();
    let mut row = Vec::with_capacity(w);
    let (mut lo, mut hi, mut below) = (range.min, range.max, 0u64);
    for _ in 0..MAX_PASSES {
        if lo >= hi {
            break;
        }
        let mut counts = vec![0u64; BINS];
        let mut smallest = vec![f32::INFINITY; BINS];
        let mut largest = vec![f32::NEG_INFINITY; BINS];
        let (start, span) = (f64::from(lo), f64::from(hi) - f64::from(lo));
        for y in 0..h {
            row.clear();
            image.gather_row(y, &columns, &|v| v, &mut row);
            for &v in row.iter().filter(|&&v| v >= lo && v <= hi) {
                let bin = (((f64::from(v) - start) / span * BINS as f64) as usize).min(BINS - 1);
                counts[bin] += 1;
                smallest[bin] = smallest[bin].min(v);
                largest[bin] = largest[bin].max(v);
            }
        }
        let mut seen = below;
        for bin in 0..BINS {
            if seen + counts[bin] > rank {
                (lo, hi, below) = (smallest[bin], largest[bin], seen);
                break;
            }
            seen += counts[bin];
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::normalize_minmax;

    #[test]
    fn min_max_scales_to_unit_range() {
        let scale = MinMax::of(&Raster::new(3, 1, vec![10u8, 20, 30]).unwrap());
        assert_eq!((scale.apply(10.0), scale.apply(20.0), scale.apply(30.0)), (0.0, 0.5, 1.0));
        assert_eq!(MinMax::of(&Raster::filled(2, 1, 7u8)).apply(7.0), 0.0);
        assert_eq!(scale.apply(40.0), 1.0);
    }

    #[test]
    fn min_max_normalisation_is_the_augment_modules() {
        let image = Raster::from_fn(37, 23, |x, y| ((x * 13 + y * 29) % 200 + 17) as u8);
        assert_eq!(Normalization::MinMax.normalize(&image), normalize_minmax(&image));
    }

    #[test]
    fn percentiles_are_exact_ranks() {
        // 0..=999 shuffled: rank round(0.005 * 999) = 5 and round(0.995 * 999) = 994.
        let values: Vec<u16> = (0..1000u32).map(|i| ((i * 379) % 1000) as u16).collect();
        let image = Raster::new(40, 25, values).unwrap();
        let range = Normalization::Percentile.range_of(&image);
        assert_eq!((range.min, range.max), (5.0, 994.0));
        // Floats too, whatever their spread.
        let floats = Raster::from_fn(50, 20, |x, y| ((x * 20 + y) as f32 * 0.731).powi(3) - 1e5);
        let mut sorted = floats.data().to_vec();
        sorted.sort_by(f32::total_cmp);
        let range = Normalization::Percentile.range_of(&floats);
        assert_eq!((range.min, range.max), (sorted[5], sorted[994]));
    }

    #[test]
    fn a_few_outliers_do_not_move_the_percentile_scale() {
        let mut image = Raster::from_fn(100, 100, |x, y| (60 + (x + y) % 81) as u8);
        image.set(3, 3, 255);
        image.set(50, 7, 0);
        let range = Normalization::Percentile.range_of(&image);
        assert!(range.min >= 60.0 && range.max <= 140.0, "{range:?}");
        let normalised = Normalization::Percentile.normalize(&image);
        assert_eq!((normalised.get(3, 3), normalised.get(50, 7)), (1.0, 0.0));
        assert!(normalised.data().iter().all(|v| (0.0..=1.0).contains(v)));
        let minmax = Normalization::MinMax.range_of(&image);
        assert_eq!((minmax.min, minmax.max), (0.0, 255.0));
    }

    #[test]
    fn a_nearly_constant_image_falls_back_to_its_range() {
        let mut image = Raster::filled(100, 100, 50u8);
        image.set(0, 0, 200);
        let range = Normalization::Percentile.range_of(&image);
        assert_eq!((range.min, range.max), (50.0, 200.0));
        assert_eq!(Normalization::Percentile.normalize(&Raster::filled(3, 3, 9u8)).data(), &[0.0; 9]);
        let empty: Raster<u8> = Raster::filled(0, 0, 0);
        assert_eq!(Normalization::Percentile.range_of(&empty), MinMax { min: 0.0, max: 0.0 });
    }

    #[test]
    fn names_in_json() {
        assert_eq!(serde_json::to_string(&Normalization::MinMax).unwrap(), "\"minmax\"");
        assert_eq!(serde_json::from_str::<Normalization>("\"percentile\"").unwrap(), Normalization::Percentile);
    }
}
