//! Geometric operations that move pixels without changing their values:
//! flips, symmetric (mirror) padding and crops. They work on any
//! `Raster<T: Copy>`, so masks stay exactly binary.

use crate::error::{Error, Result};
use crate::raster::Raster;

/// Which way to flip an image (the original's four choices, drawn uniformly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flip {
    /// Leave the image as it is.
    None,
    /// Upside down: row `y` becomes row `height - 1 - y` (OpenCV `flip(img, 0)`).
    Vertical,
    /// Mirror left-right: column `x` becomes `width - 1 - x` (OpenCV `flip(img, 1)`).
    Horizontal,
    /// Both at once, i.e. a 180-degree rotation (OpenCV `flip(img, -1)`).
    Both,
}

impl Flip {
    /// The four choices, in the order the original numbers them
    /// (0 vertical, 1 horizontal, 2 both, 3 none).
    pub const ALL: [Flip; 4] = [Flip::Vertical, Flip::Horizontal, Flip::Both, Flip::None];
}

/// `raster` flipped as `how` says. Any size works, including empty rasters.
pub fn flip<T: Copy>(raster: &Raster<T>, how: Flip) -> Raster<T> {
    let (w, h) = raster.dims();
    let (flip_x, flip_y) = match how {
        Flip::None => return raster.clone(),
        Flip::Vertical => (false, true),
        Flip::Horizontal => (true, false),
        Flip::Both => (true, true),
    };
    Raster::from_fn(w, h, |x, y| {
        let sx = if flip_x { w - 1 - x } else { x };
        let sy = if flip_y { h - 1 - y } else { y };
        raster.get(sx, sy)
    })
}

/// Pixels to add on each side of an image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Padding {
    /// Rows added above.
    pub top: usize,
    /// Rows added below.
    pub bottom: usize,
    /// Columns added on the left.
    pub left: usize,
    /// Columns added on the right.
    pub right: usize,
}

impl Padding {
    /// The same amount on all four sides.
    pub fn uniform(amount: usize) -> Self {
        Padding { top: amount, bottom: amount, left: amount, right: amount }
    }
}

/// Maps a coordinate that may lie outside `0..n` into it by symmetric
/// reflection, the edge sample included (numpy's `'symmetric'` mode): for
/// `n = 3`, `..., -2, -1 | 0, 1, 2 | 3, 4, ...` read `1, 0 | 0, 1, 2 | 2, 1`.
/// Far outside, the reflections repeat with period `2n`. `n` must be > 0.
pub fn symmetric_index(i: isize, n: usize) -> usize {
    if (0..n as isize).contains(&i) {
        return i as usize;
    }
    let period = 2 * n as isize;
    let m = i.rem_euclid(period) as usize;
    if m < n {
        m
    } else {
        2 * n - 1 - m
    }
}

/// The `width` x `height` window of `raster` whose top-left corner is at
/// (`x0`, `y0`), which may lie partly or wholly outside the image: outside
/// pixels are read by [`symmetric_index`], as if the image had first been
/// padded symmetrically by as much as needed. Fails only when pixels are
/// requested from an empty image.
pub fn crop_symmetric<T: Copy>(
    raster: &Raster<T>,
    x0: isize,
    y0: isize,
    width: usize,
    height: usize,
) -> Result<Raster<T>> {
    let (w, h) = raster.dims();
    if width > 0 && height > 0 && (w == 0 || h == 0) {
        return Err(Error::invalid(format!(
            "cannot mirror-pad or crop {width}x{height} pixels from an empty {w}x{h} image"
        )));
    }
    let cols: Vec<usize> = (0..width).map(|x| symmetric_index(x0 + x as isize, w)).collect();
    let mut data = Vec::with_capacity(width * height);
    for y in 0..height {
        let row = raster.row(symmetric_index(y0 + y as isize, h));
        data.extend(cols.iter().map(|&c| row[c]));
    }
    Raster::new(width, height, data)
}

/// `raster` padded by `padding` in numpy's `'symmetric'` mode
/// (`np.pad(a, ((top, bottom), (left, right)), mode='symmetric')`): the
/// padding mirrors the image about its border, the edge row/column repeated.
/// Pads wider than the image keep reflecting back and forth, as numpy does.
/// Fails only for a non-zero pad of an empty image.
pub fn pad_symmetric<T: Copy>(raster: &Raster<T>, padding: Padding) -> Result<Raster<T>> {
    let (w, h) = raster.dims();
    let out_w = w + padding.left + padding.right;
    let out_h = h + padding.top + padding.bottom;
    if (w == 0 || h == 0) && (out_w != w || out_h != h) {
        return Err(Error::invalid(format!("cannot mirror-pad an empty {w}x{h} image")));
    }
    crop_symmetric(raster, -(padding.left as isize), -(padding.top as isize), out_w, out_h)
}

/// The `width` x `height` window of `raster` at (`x`, `y`); fails when the
/// window does not lie wholly inside the image.
pub fn crop<T: Copy>(raster: &Raster<T>, x: usize, y: usize, width: usize, height: usize) -> Result<Raster<T>> {
    let (w, h) = raster.dims();
    if x.checked_add(width).is_none_or(|r| r > w) || y.checked_add(height).is_none_or(|b| b > h) {
        return Err(Error::invalid(format!("crop of {width}x{height} at ({x}, {y}) does not fit in a {w}x{h} image")));
    }
    let mut data = Vec::with_capacity(width * height);
    for row in y..y + height {
        data.extend_from_slice(&raster.row(row)[x..x + width]);
    }
    Raster::new(width, height, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_index_matches_numpy_symmetric() {
        // np.pad(np.arange(3), 5, mode='symmetric') == [1 2 2 1 0 | 0 1 2 | 2 1 0 0 1]
        let got: Vec<usize> = (-5..8).map(|i| symmetric_index(i, 3)).collect();
        assert_eq!(got, vec![1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1]);
        assert_eq!(symmetric_index(-1, 1), 0);
    }

    #[test]
    fn flips_move_the_right_pixels() {
        let r = Raster::from_fn(3, 2, |x, y| (10 * y + x) as u8);
        assert_eq!(flip(&r, Flip::Vertical).data(), &[10, 11, 12, 0, 1, 2]);
        assert_eq!(flip(&r, Flip::Horizontal).data(), &[2, 1, 0, 12, 11, 10]);
        assert_eq!(flip(&r, Flip::Both).data(), &[12, 11, 10, 2, 1, 0]);
        assert_eq!(flip(&r, Flip::None), r);
    }

    #[test]
    fn crop_checks_bounds() {
        let r = Raster::from_fn(4, 3, |x, y| (10 * y + x) as u8);
        assert_eq!(crop(&r, 1, 1, 2, 2).unwrap().data(), &[11, 12, 21, 22]);
        assert!(crop(&r, 3, 0, 2, 1).is_err());
        assert!(crop(&r, 0, usize::MAX, 1, 2).is_err());
        assert_eq!(crop(&r, 4, 3, 0, 0).unwrap().dims(), (0, 0));
    }

    #[test]
    fn empty_images_cannot_be_padded() {
        let empty: Raster<u8> = Raster::filled(0, 0, 0);
        assert!(pad_symmetric(&empty, Padding::uniform(1)).is_err());
        assert_eq!(pad_symmetric(&empty, Padding::default()).unwrap().dims(), (0, 0));
    }
}
