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

/// Separable rectangular filter: `combine` (max or min) over rows, then over columns.
fn window_filter<F: Fn(u8, u8) -> u8 + Copy>(image: &GrayU8, size: usize, combine: F) -> GrayU8 {
    let (width, height) = image.dims();
    if size <= 1 || width == 0 || height == 0 {
        return image.clone();
    }
    let before = size / 2;
    let after = size - 1 - before;

    let mut rows = image.clone();
    for (src, dst) in image.data().chunks_exact(width).zip(rows.data_mut().chunks_exact_mut(width)) {
        filter_line(src, dst, before, after, combine);
    }

    let mut out = rows.clone();
    for (y, dst) in out.data_mut().chunks_exact_mut(width).enumerate() {
        let lo = y.saturating_sub(before);
        let hi = (y + after).min(height - 1);
        for r in (lo..=hi).filter(|&r| r != y) {
            for (d, &s) in dst.iter_mut().zip(rows.row(r)) {
                *d = combine(*d, s);
            }
        }
    }
    out
}

/// One-dimensional window filter: `dst[i]` combines `src[i - before ..= i + after]`
/// clipped to the line.
fn filter_line<F: Fn(u8, u8) -> u8>(src: &[u8], dst: &mut [u8], before: usize, after: usize, combine: F) {
    let n = src.len();
    for (i, d) in dst.iter_mut().enumerate() {
        let lo = i.saturating_sub(before);
        let hi = (i + after).min(n - 1);
        *d = src[lo..=hi].iter().copied().fold(src[i], &combine);
    }
}
