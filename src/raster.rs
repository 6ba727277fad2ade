//! A minimal row-major 2-D raster shared by every image-processing module.

use crate::error::{Error, Result};

/// A `width` x `height` grid of values stored row by row (index `y * width + x`).
#[derive(Clone, Debug, PartialEq)]
pub struct Raster<T> {
    width: usize,
    height: usize,
    data: Vec<T>,
}

/// 8-bit grayscale image.
pub type GrayU8 = Raster<u8>;
/// Floating-point single-channel image (probabilities, distances, normalised pixels).
pub type GrayF32 = Raster<f32>;
/// Integer label image (markers, watershed output, cell instances).
pub type Labels = Raster<i32>;

impl<T: Copy> Raster<T> {
    /// Wraps `data` as a `width` x `height` raster; fails if the length does not match.
    pub fn new(width: usize, height: usize, data: Vec<T>) -> Result<Self> {
        if width.checked_mul(height) != Some(data.len()) {
            return Err(Error::invalid(format!(
                "raster of {width}x{height} needs {} values, got {}",
                width.saturating_mul(height),
                data.len()
            )));
        }
        Ok(Self { width, height, data })
    }

    /// A raster with every cell set to `value`.
    pub fn filled(width: usize, height: usize, value: T) -> Self {
        Self { width, height, data: vec![value; width * height] }
    }

    /// A raster whose cell `(x, y)` is `f(x, y)`.
    pub fn from_fn(width: usize, height: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                data.push(f(x, y));
            }
        }
        Self { width, height, data }
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// `(width, height)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The values, row-major.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The values, row-major, mutable.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the raster and returns its row-major values.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// Value at column `x`, row `y`. Panics when out of bounds.
    pub fn get(&self, x: usize, y: usize) -> T {
        debug_assert!(x < self.width && y < self.height);
        self.data[y * self.width + x]
    }

    /// Sets the value at column `x`, row `y`. Panics when out of bounds.
    pub fn set(&mut self, x: usize, y: usize, value: T) {
        debug_assert!(x < self.width && y < self.height);
        self.data[y * self.width + x] = value;
    }

    /// One row as a slice.
    pub fn row(&self, y: usize) -> &[T] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// The `width` x `height` part whose top-left cell is `(x, y)`. Panics when it
    /// leaves the raster.
    pub fn crop(&self, x: usize, y: usize, width: usize, height: usize) -> Self {
        assert!(x + width <= self.width && y + height <= self.height, "crop outside the raster");
        let mut data = Vec::with_capacity(width * height);
        for row in y..y + height {
            data.extend_from_slice(&self.data[row * self.width + x..row * self.width + x + width]);
        }
        Self { width, height, data }
    }

    /// A new raster with `f` applied to every value.
    pub fn map<U: Copy>(&self, f: impl FnMut(T) -> U) -> Raster<U> {
        Raster { width: self.width, height: self.height, data: self.data.iter().copied().map(f).collect() }
    }
}

/// A single-channel image whose samples can be read as `f32`, whatever their
/// stored type: what tiled inference reads its network inputs from.
pub trait SampleRows {
    /// `(width, height)`.
    fn dims(&self) -> (usize, usize);

    /// Smallest and largest sample as `f32` (`(0, 0)` for an empty image).
    fn min_max(&self) -> (f32, f32);

    /// Appends `map(sample(x, y))` for every `x` of `columns` (each below the
    /// width) of row `y` to `out`.
    fn gather_row(&self, y: usize, columns: &[usize], map: &dyn Fn(f32) -> f32, out: &mut Vec<f32>);
}

impl<T: Copy + Into<f32>> SampleRows for Raster<T> {
    fn dims(&self) -> (usize, usize) {
        Raster::dims(self)
    }

    fn min_max(&self) -> (f32, f32) {
        let mut values = self.data.iter().map(|&v| v.into());
        let first = values.next().unwrap_or(0.0);
        values.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v)))
    }

    fn gather_row(&self, y: usize, columns: &[usize], map: &dyn Fn(f32) -> f32, out: &mut Vec<f32>) {
        let row = self.row(y);
        out.extend(columns.iter().map(|&x| map(row[x].into())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_wrong_length() {
        assert!(Raster::new(3, 2, vec![0u8; 5]).is_err());
        assert!(Raster::new(3, 2, vec![0u8; 6]).is_ok());
    }

    #[test]
    fn from_fn_is_row_major() {
        let r = Raster::from_fn(3, 2, |x, y| (10 * y + x) as i32);
        assert_eq!(r.data(), &[0, 1, 2, 10, 11, 12]);
        assert_eq!(r.get(2, 1), 12);
        assert_eq!(r.row(1), &[10, 11, 12]);
    }

    #[test]
    fn crop_takes_the_part_at_an_offset() {
        let r = Raster::from_fn(4, 3, |x, y| (10 * y + x) as i32);
        let part = r.crop(1, 1, 2, 2);
        assert_eq!(part.dims(), (2, 2));
        assert_eq!(part.data(), &[11, 12, 21, 22]);
    }
}
