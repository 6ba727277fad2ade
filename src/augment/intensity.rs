//! Operations that change pixel values but not their positions: additive
//! Gaussian and uniform noise, brightness, and normalisation.

use rand::{Rng, RngExt};

use crate::error::{Error, Result};
use crate::raster::{GrayF32, GrayU8, Raster};

/// Rounds to the nearest integer and clips to `0..=255`.
fn to_u8(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// One standard normal sample (Box-Muller; the cosine branch only, so each
/// sample costs two uniforms and the stream does not depend on pairing).
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm stays finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Adds independent Gaussian noise of mean 0 and standard deviation `std`
/// (in pixel units, 0-255 scale) to every pixel, rounds to the nearest
/// integer and clips to `0..=255`. `std` 0 returns the image unchanged.
/// Fails when `std` is negative or not finite.
pub fn gaussian_noise<R: Rng + ?Sized>(image: &GrayU8, std: f64, rng: &mut R) -> Result<GrayU8> {
    if !(std.is_finite() && std >= 0.0) {
        return Err(Error::invalid(format!("Gaussian noise needs a finite std >= 0, got {std}")));
    }
    Ok(image.map(|v| to_u8(f64::from(v) + std * standard_normal(rng))))
}

/// Adds independent noise drawn uniformly from `[low, high)` to every pixel,
/// rounds to the nearest integer and clips to `0..=255`. `low == high` adds
/// that constant. Fails when `low > high` or either is not finite.
pub fn uniform_noise<R: Rng + ?Sized>(image: &GrayU8, low: f64, high: f64, rng: &mut R) -> Result<GrayU8> {
    if !(low.is_finite() && high.is_finite() && low <= high) {
        return Err(Error::invalid(format!("uniform noise needs finite low <= high, got [{low}, {high})")));
    }
    Ok(image.map(|v| to_u8(f64::from(v) + low + (high - low) * rng.random::<f64>())))
}

/// Adds `delta` to every pixel and clips to `0..=255`.
pub fn brightness(image: &GrayU8, delta: i32) -> GrayU8 {
    image.map(|v| (i32::from(v).saturating_add(delta)).clamp(0, 255) as u8)
}

/// Stretches values linearly to `[0, 1]`: `(v - min) / (max - min)` over the
/// whole raster. A constant raster (no range) becomes all zeros, never NaN;
/// an empty raster stays empty.
pub fn normalize_minmax<T: Copy + Into<f32>>(raster: &Raster<T>) -> GrayF32 {
    let values = raster.data().iter().map(|&v| v.into());
    let (lo, hi) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let range = hi - lo;
    if range > 0.0 && range.is_finite() {
        raster.map(|v| (v.into() - lo) / range)
    } else {
        raster.map(|_| 0.0)
    }
}

/// Standardises values: `(v - mean) / std`, e.g. with the original's training
/// statistics on `[0, 1]` pixels (mean 0.4911, std 0.1658). Fails when `std`
/// is not a finite positive number or `mean` is not finite.
pub fn normalize_mean_std(image: &GrayF32, mean: f32, std: f32) -> Result<GrayF32> {
    if !(mean.is_finite() && std.is_finite() && std > 0.0) {
        return Err(Error::invalid(format!(
            "mean/std normalisation needs a finite mean and std > 0, got {mean} and {std}"
        )));
    }
    Ok(image.map(|v| (v - mean) / std))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn brightness_clips() {
        let r = Raster::new(3, 1, vec![0u8, 100, 250]).unwrap();
        assert_eq!(brightness(&r, 10).data(), &[10, 110, 255]);
        assert_eq!(brightness(&r, -20).data(), &[0, 80, 230]);
        assert_eq!(brightness(&r, i32::MIN).data(), &[0, 0, 0]);
    }

    #[test]
    fn gaussian_noise_has_the_requested_spread() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let flat = Raster::filled(200, 200, 128u8);
        let noisy = gaussian_noise(&flat, 10.0, &mut rng).unwrap();
        let n = noisy.data().len() as f64;
        let mean = noisy.data().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = noisy.data().iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        assert!((mean - 128.0).abs() < 0.2, "mean {mean}");
        // Rounding to integers adds 1/12 to the variance.
        assert!((var.sqrt() - 10.0).abs() < 0.15, "std {}", var.sqrt());
        assert_eq!(gaussian_noise(&flat, 0.0, &mut rng).unwrap(), flat);
        assert!(gaussian_noise(&flat, -1.0, &mut rng).is_err());
        assert!(gaussian_noise(&flat, f64::NAN, &mut rng).is_err());
    }

    #[test]
    fn uniform_noise_stays_in_its_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let flat = Raster::filled(100, 100, 100u8);
        let noisy = uniform_noise(&flat, -20.0, 10.0, &mut rng).unwrap();
        let (lo, hi) = (noisy.data().iter().min().unwrap(), noisy.data().iter().max().unwrap());
        assert_eq!((*lo, *hi), (80, 110));
        assert_eq!(uniform_noise(&flat, 5.0, 5.0, &mut rng).unwrap(), Raster::filled(100, 100, 105u8));
        assert!(uniform_noise(&flat, 1.0, 0.0, &mut rng).is_err());
        // Noise that pushes past the ends is clipped.
        let clipped = uniform_noise(&Raster::new(2, 1, vec![0u8, 255]).unwrap(), -300.0, -299.0, &mut rng).unwrap();
        assert_eq!(clipped.data(), &[0, 0]);
    }

    #[test]
    fn normalisations() {
        let r = Raster::new(3, 1, vec![10u8, 20, 30]).unwrap();
        assert_eq!(normalize_minmax(&r).data(), &[0.0, 0.5, 1.0]);
        assert_eq!(normalize_minmax(&Raster::filled(2, 2, 7u8)).data(), &[0.0; 4]);
        let f = Raster::new(2, 1, vec![0.5f32, 0.8]).unwrap();
        let z = normalize_mean_std(&f, 0.5, 0.1).unwrap();
        assert!(z.data()[0].abs() < 1e-6 && (z.data()[1] - 3.0).abs() < 1e-5);
        assert!(normalize_mean_std(&f, 0.5, 0.0).is_err());
    }
}
