//! Step 2: binarisation of an 8-bit image at a fixed level or at Otsu's level.

use crate::raster::GrayU8;

/// Otsu's threshold level, computed exactly as OpenCV's `THRESH_OTSU` does
/// for 8-bit images (same histogram walk, same `f64` operations in the same
/// order, same `FLT_EPSILON` guard), so ties and rounding resolve identically.
///
/// The level is the first gray value `t` that maximises the between-class
/// variance of the classes `<= t` and `> t`. An image with a single gray
/// value (or an empty one) has no split and gets level 0, as in OpenCV.
pub fn otsu_level(image: &GrayU8) -> u8 {
    let histogram = histogram(image);
    let count = image.data().len();
    if count == 0 {
        return 0;
    }
    let scale = 1.0 / count as f64;
    let mut mean = 0.0f64;
    for (i, &h) in histogram.iter().enumerate() {
        mean += i as f64 * f64::from(h);
    }
    mean *= scale;

    let eps = f64::from(f32::EPSILON);
    let (mut mean_low, mut weight_low) = (0.0f64, 0.0f64);
    let (mut best_variance, mut best_level) = (0.0f64, 0u8);
    for (i, &h) in histogram.iter().enumerate() {
        let p = f64::from(h) * scale;
        mean_low *= weight_low;
        weight_low += p;
        let weight_high = 1.0 - weight_low;
        if weight_low.min(weight_high) < eps || weight_low.max(weight_high) > 1.0 - eps {
            continue;
        }
        mean_low = (mean_low + i as f64 * p) / weight_low;
        let mean_high = (mean - weight_low * mean_low) / weight_high;
        let gap = mean_low - mean_high;
        let variance = weight_low * weight_high * gap * gap;
        if variance > best_variance {
            best_variance = variance;
            best_level = i as u8;
        }
    }
    best_level
}

/// Number of pixels of each gray value.
fn histogram(image: &GrayU8) -> [u32; 256] {
    // Four partial histograms let consecutive equal pixels update different counters.
    let mut partial = [[0u32; 256]; 4];
    let chunks = image.data().chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        partial[0][c[0] as usize] += 1;
        partial[1][c[1] as usize] += 1;
        partial[2][c[2] as usize] += 1;
        partial[3][c[3] as usize] += 1;
    }
    for &v in rest {
        partial[0][v as usize] += 1;
    }
    let mut total = [0u32; 256];
    for (i, t) in total.iter_mut().enumerate() {
        *t = partial.iter().map(|p| p[i]).sum();
    }
    total
}

/// Binarises `image` at `level`: pixels `> level` become 255 and the others 0
/// (OpenCV's `THRESH_BINARY`), or the reverse when `invert` is set
/// (`THRESH_BINARY_INV`).
pub fn binarize(image: &GrayU8, level: u8, invert: bool) -> GrayU8 {
    let (above, at_or_below) = if invert { (0, 255) } else { (255, 0) };
    let mut table = [at_or_below; 256];
    for entry in table.iter_mut().skip(level as usize + 1) {
        *entry = above;
    }
    image.map(|v| table[v as usize])
}
