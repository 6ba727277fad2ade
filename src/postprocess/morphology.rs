//! Steps 3 and 4: dilation, erosion and closing with a square structuring element.
//!
//! These follow OpenCV's `dilate`/`erode`/`morphologyEx(MORPH_CLOSE)` with a
//! `size` x `size` kernel of ones, its anchor at `size / 2` and the default
//! border (`BORDER_CONSTANT` with `morphologyDefaultBorderValue()`), under
//! which pixels outside the image never contribute to the maximum or minimum.

use crate::raster::GrayU8;

/// Maximum of `image` over the `size` x `size` window anchored at
/// `(size / 2, size / 2)`: output `(x, y)` looks at input columns
/// `x - size/2 ..= x - size/2 + size - 1` (clipped to the image), likewise rows.
/// `size` 0 or 1 returns a copy.
pub fn dilate(image: &GrayU8, size: usize) -> GrayU8 {
    window_filter(image, size, u8::max)
}

/// Minimum of `image` over the same window as [`dilate`].
pub fn erode(image: &GrayU8, size: usize) -> GrayU8 {
    window_filter(image, size, u8::min)
}

/// Morphological closing: [`dilate`] then [`erode`] with the same window.
/// With `size` 1 (the original project's 1x1 kernel) it changes nothing.
pub fn close(image: &GrayU8, size: usize) -> GrayU8 {
    if size <= 1 {
        return image.clone();
    }
    erode(&dilate(image, size), size)
}

/// Separable rectangular filter: `combine` (max or min) over columns, then in
/// place over rows.
fn window_filter<F: Fn(u8, u8) -> u8 + Copy>(image: &GrayU8, size: usize, combine: F) -> GrayU8 {
    let (width, height) = image.dims();
    if size <= 1 || width == 0 || height == 0 {
        return image.clone();
    }
    let before = size / 2;
    let after = size - 1 - before;

    let mut out = image.clone();
    for (y, dst) in out.data_mut().chunks_exact_mut(width).enumerate() {
        let lo = y.saturating_sub(before);
        let hi = (y + after).min(height - 1);
        for r in (lo..=hi).filter(|&r| r != y) {
            combine_into(dst, image.row(r), combine);
        }
    }

    let mut src = vec![0u8; width];
    for dst in out.data_mut().chunks_exact_mut(width) {
        src.copy_from_slice(dst);
        // dst[i] combines src[i - before ..= i + after], clipped: one shifted pass per offset.
        for offset in 1..=before.min(width - 1) {
            combine_into(&mut dst[offset..], &src[..width - offset], combine);
        }
        for offset in 1..=after.min(width - 1) {
            combine_into(&mut dst[..width - offset], &src[offset..], combine);
        }
    }
    out
}

/// `dst[i] = combine(dst[i], src[i])` over two equally long slices.
fn combine_into<F: Fn(u8, u8) -> u8>(dst: &mut [u8], src: &[u8], combine: F) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = combine(*d, s);
    }
}
