//! Resampling to another pixel size: what an image looks like at another
//! magnification.
//!
//! Images are area-averaged when they shrink (each output pixel is the mean of the
//! source area it covers, partial pixels weighted by their overlap, so detail finer
//! than the new pixels averages out instead of aliasing) and interpolated bilinearly
//! when they grow; at scale 1 both are the same interpolation, and at a whole-pixel
//! offset the identity. Masks and labels are resampled by nearest neighbour, so
//! their values are never mixed (a 0/255 mask stays binary). The two axes are
//! resampled separately, and windows that reach past the border read the image
//! mirrored ([`symmetric_index`]).
//!
//! Coordinates: source pixel `k` covers `[k, k + 1)`. At scale `s` (output pixels
//! per source pixel), output pixel `i` of a window whose left edge lies at source
//! coordinate `x` covers `[x + i / s, x + (i + 1) / s)`.

use super::geometry::symmetric_index;
use crate::error::{Error, Result};
use crate::raster::{GrayU8, Raster};

/// The source pixels (before mirroring) that make one output pixel along one axis,
/// with their weights (summing to 1).
struct Taps {
    first: isize,
    weights: Vec<f32>,
}

/// The taps of `count` output pixels along an axis, for a window starting at source
/// coordinate `origin` at `scale` output pixels per source pixel: area weights when
/// `scale < 1`, bilinear ones otherwise (at the output pixel's centre).
fn axis_taps(origin: f64, scale: f64, count: usize) -> Vec<Taps> {
    (0..count)
        .map(|i| {
            let i = i as f64;
            if scale >= 1.0 {
                let centre = origin + (i + 0.5) / scale - 0.5;
                let k = centre.floor();
                let fraction = (centre - k) as f32;
                let weights = if fraction == 0.0 { vec![1.0] } else { vec![1.0 - fraction, fraction] };
                Taps { first: k as isize, weights }
            } else {
                let (start, end) = (origin + i / scale, origin + (i + 1.0) / scale);
                let first = start.floor();
                let last = end.ceil() - 1.0;
                let weights = (0..=(last - first) as usize)
                    .map(|t| {
                        let k = first + t as f64;
                        ((end.min(k + 1.0) - start.max(k)) * scale) as f32
                    })
                    .collect();
                Taps { first: first as isize, weights }
            }
        })
        .collect()
}

/// Checks a scale factor and a window origin.
fn check_scale(scale: f64, x: f64, y: f64) -> Result<()> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::invalid(format!("resampling needs a finite scale > 0, got {scale}")));
    }
    if !(x.is_finite() && y.is_finite()) {
        return Err(Error::invalid(format!("resampling needs a finite window origin, got ({x}, {y})")));
    }
    Ok(())
}

/// Fails when output pixels are asked of an empty source.
fn check_source<T>(raster: &Raster<T>, width: usize, height: usize) -> Result<()>
where
    T: Copy,
{
    let (w, h) = raster.dims();
    if width > 0 && height > 0 && (w == 0 || h == 0) {
        return Err(Error::invalid(format!("cannot resample {width}x{height} pixels from an empty {w}x{h} image")));
    }
    Ok(())
}

/// Applies per-axis taps to `image`: along rows first (each needed source row once),
/// then along columns; rounded to the nearest integer.
fn resample(image: &GrayU8, xs: &[Taps], ys: &[Taps]) -> Result<GrayU8> {
    let (w, h) = image.dims();
    let (out_w, out_h) = (xs.len(), ys.len());
    check_source(image, out_w, out_h)?;
    if out_w == 0 || out_h == 0 {
        return Raster::new(out_w, out_h, Vec::new());
    }
    let columns: Vec<Vec<usize>> =
        xs.iter().map(|t| (0..t.weights.len()).map(|k| symmetric_index(t.first + k as isize, w)).collect()).collect();
    let mut resampled_rows: Vec<Option<Vec<f32>>> = vec![None; h];
    let mut data = Vec::with_capacity(out_w * out_h);
    let mut sums = vec![0f32; out_w];
    for taps in ys {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for (k, &weight) in taps.weights.iter().enumerate() {
            let source = symmetric_index(taps.first + k as isize, h);
            let row = resampled_rows[source].get_or_insert_with(|| {
                let pixels = image.row(source);
                xs.iter()
                    .zip(&columns)
                    .map(|(t, cols)| t.weights.iter().zip(cols).map(|(&wt, &c)| wt * f32::from(pixels[c])).sum())
                    .collect()
            });
            for (s, &v) in sums.iter_mut().zip(row.iter()) {
                *s += weight * v;
            }
        }
        data.extend(sums.iter().map(|v| v.round().clamp(0.0, 255.0) as u8));
    }
    Raster::new(out_w, out_h, data)
}

/// The source pixel (mirrored into `0..n`) under the centre of each of `count`
/// output pixels.
fn nearest_indices(origin: f64, scale: f64, count: usize, n: usize) -> Vec<usize> {
    (0..count).map(|i| symmetric_index((origin + (i as f64 + 0.5) / scale).floor() as isize, n)).collect()
}

/// Picks, for every output pixel, the source pixel under its centre.
fn pick<T: Copy>(raster: &Raster<T>, xs: &[usize], ys: &[usize]) -> Result<Raster<T>> {
    let mut data = Vec::with_capacity(xs.len() * ys.len());
    for &y in ys {
        let row = raster.row(y);
        data.extend(xs.iter().map(|&x| row[x]));
    }
    Raster::new(xs.len(), ys.len(), data)
}

/// `(width, height)` scaled by `factor`, rounded to whole pixels and at least 1 each
/// (0 stays 0).
pub fn scaled_size(width: usize, height: usize, factor: f64) -> (usize, usize) {
    let side = |n: usize| if n == 0 { 0 } else { ((n as f64 * factor).round() as usize).max(1) };
    (side(width), side(height))
}

/// `image` resized to `width` x `height` (each axis on its own: area-averaged where
/// it shrinks, bilinear where it grows). The output covers exactly the source.
/// Fails when pixels are asked of an empty image.
pub fn resize(image: &GrayU8, width: usize, height: usize) -> Result<GrayU8> {
    check_source(image, width, height)?;
    let (w, h) = image.dims();
    let scale = |out: usize, n: usize| if n == 0 { 1.0 } else { out as f64 / n as f64 };
    resample(image, &axis_taps(0.0, scale(width, w), width), &axis_taps(0.0, scale(height, h), height))
}

/// `raster` resized to `width` x `height` by nearest neighbour (masks, labels). Fails
/// when pixels are asked of an empty raster.
pub fn resize_nearest<T: Copy>(raster: &Raster<T>, width: usize, height: usize) -> Result<Raster<T>> {
    check_source(raster, width, height)?;
    if width == 0 || height == 0 {
        return Raster::new(width, height, Vec::new());
    }
    let (w, h) = raster.dims();
    let xs = nearest_indices(0.0, width as f64 / w as f64, width, w);
    let ys = nearest_indices(0.0, height as f64 / h as f64, height, h);
    pick(raster, &xs, &ys)
}

/// The `width` x `height` window of `image` seen at `scale` output pixels per source
/// pixel, its top-left corner at source coordinates (`x`, `y`): it covers
/// `width / scale` x `height / scale` source pixels (mirrored past the border).
/// Scale 1 at whole-pixel coordinates is a plain crop. Fails on a scale that is not
/// finite and positive, a non-finite corner, or an empty image.
pub fn scaled_window(image: &GrayU8, x: f64, y: f64, scale: f64, width: usize, height: usize) -> Result<GrayU8> {
    check_scale(scale, x, y)?;
    resample(image, &axis_taps(x, scale, width), &axis_taps(y, scale, height))
}

/// [`scaled_window`] by nearest neighbour, for masks and labels: each output pixel
/// takes the source pixel under its centre.
pub fn scaled_window_nearest<T: Copy>(
    raster: &Raster<T>,
    x: f64,
    y: f64,
    scale: f64,
    width: usize,
    height: usize,
) -> Result<Raster<T>> {
    check_scale(scale, x, y)?;
    check_source(raster, width, height)?;
    if width == 0 || height == 0 {
        return Raster::new(width, height, Vec::new());
    }
    let (w, h) = raster.dims();
    pick(raster, &nearest_indices(x, scale, width, w), &nearest_indices(y, scale, height, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::crop_symmetric;

    #[test]
    fn halving_averages_each_two_by_two_block() {
        let image = Raster::new(4, 2, vec![0u8, 10, 20, 40, 100, 110, 60, 80]).unwrap();
        assert_eq!(resize(&image, 2, 1).unwrap().data(), &[55, 50]);
    }

    #[test]
    fn area_weights_cover_partial_pixels() {
        // Three pixels into two: each output covers 1.5 source pixels.
        let image = Raster::new(3, 1, vec![0u8, 90, 180]).unwrap();
        // (0 + 0.5 * 90) / 1.5 = 30 and (0.5 * 90 + 180) / 1.5 = 150.
        assert_eq!(resize(&image, 2, 1).unwrap().data(), &[30, 150]);
    }

    #[test]
    fn doubling_interpolates_between_neighbours() {
        let image = Raster::new(2, 1, vec![0u8, 100]).unwrap();
        // Centres at -0.25, 0.25, 0.75, 1.25: the border is mirrored.
        assert_eq!(resize(&image, 4, 1).unwrap().data(), &[0, 25, 75, 100]);
    }

    #[test]
    fn scale_one_at_whole_pixels_is_a_crop() {
        let image = Raster::from_fn(7, 5, |x, y| (x * 31 + y * 7) as u8);
        let window = scaled_window(&image, -2.0, 3.0, 1.0, 6, 4).unwrap();
        assert_eq!(window, crop_symmetric(&image, -2, 3, 6, 4).unwrap());
        let mask = image.map(|v| if v > 100 { 255u8 } else { 0 });
        assert_eq!(
            scaled_window_nearest(&mask, -2.0, 3.0, 1.0, 6, 4).unwrap(),
            crop_symmetric(&mask, -2, 3, 6, 4).unwrap()
        );
        assert_eq!(resize(&image, 7, 5).unwrap(), image);
    }

    #[test]
    fn nearest_repeats_and_skips_pixels() {
        let mask = Raster::new(4, 1, vec![0u8, 255, 0, 255]).unwrap();
        assert_eq!(resize_nearest(&mask, 2, 1).unwrap().data(), &[255, 255]);
        assert_eq!(resize_nearest(&mask, 8, 1).unwrap().data(), &[0, 0, 255, 255, 0, 0, 255, 255]);
    }

    #[test]
    fn sizes_and_bad_arguments() {
        assert_eq!(scaled_size(512, 300, 0.5), (256, 150));
        assert_eq!(scaled_size(3, 0, 0.1), (1, 0));
        let image = Raster::filled(4, 4, 9u8);
        assert!(scaled_window(&image, 0.0, 0.0, 0.0, 2, 2).is_err());
        assert!(scaled_window(&image, f64::NAN, 0.0, 1.0, 2, 2).is_err());
        assert!(resize(&Raster::filled(0, 0, 0u8), 2, 2).is_err());
        assert_eq!(resize(&image, 0, 3).unwrap().dims(), (0, 3));
    }
}
