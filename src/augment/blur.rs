//! Gaussian blur of an image, as an out-of-focus or lower-resolution microscope
//! gives it: separable (along rows, then along columns), with the kernel that
//! `scipy.ndimage.gaussian_filter` builds (radius `round(4 sigma)`), and the border
//! mirrored (scipy's `mode='reflect'`, numpy's `'symmetric'`), so the edges keep their
//! brightness.

use super::elastic::gaussian_kernel;
use super::geometry::symmetric_index;
use crate::error::{Error, Result};
use crate::raster::{GrayU8, Raster};

/// `image` blurred by a Gaussian of standard deviation `sigma` pixels, rounded to the
/// nearest integer. A `sigma` whose kernel has a single tap (below 0.125) returns the
/// image unchanged; a negative or non-finite `sigma` is an error.
pub fn gaussian_blur(image: &GrayU8, sigma: f64) -> Result<GrayU8> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(Error::invalid(format!("Gaussian blur needs a finite sigma >= 0, got {sigma}")));
    }
    let (w, h) = image.dims();
    if sigma == 0.0 || w == 0 || h == 0 {
        return Ok(image.clone());
    }
    let kernel = gaussian_kernel(sigma);
    if kernel.len() == 1 {
        return Ok(image.clone());
    }
    let radius = (kernel.len() / 2) as isize;

    // Along rows: every output pixel a weighted sum of its mirrored neighbours.
    let mut horizontal = vec![0f32; w * h];
    for y in 0..h {
        let row = image.row(y);
        for (x, out) in horizontal[y * w..(y + 1) * w].iter_mut().enumerate() {
            *out = kernel
                .iter()
                .enumerate()
                .map(|(k, &weight)| weight * f32::from(row[symmetric_index(x as isize + k as isize - radius, w)]))
                .sum();
        }
    }

    // Along columns.
    let mut data = Vec::with_capacity(w * h);
    let mut sums = vec![0f32; w];
    for y in 0..h {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for (k, &weight) in kernel.iter().enumerate() {
            let source = symmetric_index(y as isize + k as isize - radius, h);
            for (s, &v) in sums.iter_mut().zip(&horizontal[source * w..(source + 1) * w]) {
                *s += weight * v;
            }
        }
        data.extend(sums.iter().map(|v| v.round().clamp(0.0, 255.0) as u8));
    }
    Raster::new(w, h, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_image_stays_flat_and_sigma_zero_changes_nothing() {
        let flat = Raster::filled(9, 7, 140u8);
        assert_eq!(gaussian_blur(&flat, 2.0).unwrap(), flat);
        let image = Raster::from_fn(9, 7, |x, y| (x * 20 + y * 3) as u8);
        assert_eq!(gaussian_blur(&image, 0.0).unwrap(), image);
        assert_eq!(gaussian_blur(&image, 0.1).unwrap(), image);
        assert!(gaussian_blur(&image, -1.0).is_err());
        assert!(gaussian_blur(&image, f64::NAN).is_err());
    }

    #[test]
    fn an_impulse_spreads_symmetrically_and_keeps_its_mass() {
        let mut image = Raster::filled(21, 21, 0u8);
        image.set(10, 10, 255);
        let blurred = gaussian_blur(&image, 1.5).unwrap();
        assert!(blurred.get(10, 10) < 255 && blurred.get(10, 10) > 0);
        assert_eq!(blurred.get(8, 10), blurred.get(12, 10));
        assert_eq!(blurred.get(10, 7), blurred.get(7, 10));
        let mass: u32 = blurred.data().iter().map(|&v| u32::from(v)).sum();
        // Rounding each pixel moves the total by at most half a level per touched pixel.
        assert!(mass.abs_diff(255) < 20, "mass {mass}");
    }

    #[test]
    fn edges_keep_their_brightness() {
        // A left-right ramp: mirroring at the border keeps the edge columns near their values.
        let image = Raster::from_fn(16, 4, |x, _| (x * 16) as u8);
        let blurred = gaussian_blur(&image, 1.0).unwrap();
        assert!(blurred.get(0, 0).abs_diff(image.get(0, 0)) <= 8);
        assert!(blurred.get(15, 3).abs_diff(image.get(15, 3)) <= 8);
    }
}
