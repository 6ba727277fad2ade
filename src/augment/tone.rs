//! Tone curves: changes of each pixel's value that depend only on that value (and,
//! for contrast, on the image's mean), as other microscopes, detectors and
//! exposures give them: gamma, contrast around the mean, and inverted contrast.
//! Results are rounded to the nearest integer and clipped to `0..=255`.

use crate::error::{Error, Result};
use crate::raster::GrayU8;

/// Rounds to the nearest integer and clips to `0..=255`.
fn to_u8(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// `image` with every value looked up in a 256-entry table made by `curve`.
fn apply_curve(image: &GrayU8, curve: impl Fn(f64) -> f64) -> GrayU8 {
    let table: Vec<u8> = (0..=255u8).map(|v| to_u8(curve(f64::from(v)))).collect();
    image.map(|v| table[usize::from(v)])
}

/// The gamma curve `v -> 255 (v / 255)^gamma`: below 1 it brightens the dark and
/// middle tones, above 1 it darkens them; 0 and 255 stay where they are, and gamma 1
/// is the identity. Fails unless `gamma` is finite and positive.
pub fn gamma(image: &GrayU8, gamma: f64) -> Result<GrayU8> {
    if !(gamma.is_finite() && gamma > 0.0) {
        return Err(Error::invalid(format!("a gamma curve needs a finite gamma > 0, got {gamma}")));
    }
    Ok(apply_curve(image, |v| 255.0 * (v / 255.0).powf(gamma)))
}

/// The mean value of `image` (0 for an empty image).
pub fn mean(image: &GrayU8) -> f64 {
    let n = image.data().len();
    if n == 0 {
        return 0.0;
    }
    image.data().iter().map(|&v| u64::from(v)).sum::<u64>() as f64 / n as f64
}

/// Contrast scaled by `factor` around the image's mean: `v -> mean + factor (v - mean)`,
/// clipped. Below 1 the image is flatter (0.5 halves every distance from the mean), above 1
/// steeper, with the extremes saturating; 1 is the identity. Fails unless `factor` is
/// finite and at least 0.
pub fn contrast(image: &GrayU8, factor: f64) -> Result<GrayU8> {
    if !(factor.is_finite() && factor >= 0.0) {
        return Err(Error::invalid(format!("a contrast change needs a finite factor >= 0, got {factor}")));
    }
    let centre = mean(image);
    Ok(apply_curve(image, |v| centre + factor * (v - centre)))
}

/// Inverted contrast, `v -> 255 - v`: dark membranes become bright ones.
pub fn invert(image: &GrayU8) -> GrayU8 {
    image.map(|v| 255 - v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::Raster;

    #[test]
    fn gamma_moves_the_middle_and_keeps_the_ends() {
        let image = Raster::new(3, 1, vec![0u8, 64, 255]).unwrap();
        // 255 (64 / 255)^0.5 = 127.75, ^2 = 16.06.
        assert_eq!(gamma(&image, 0.5).unwrap().data(), &[0, 128, 255]);
        assert_eq!(gamma(&image, 2.0).unwrap().data(), &[0, 16, 255]);
        let ramp = Raster::from_fn(256, 1, |x, _| x as u8);
        assert_eq!(gamma(&ramp, 1.0).unwrap(), ramp);
        for bad in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            assert!(gamma(&image, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contrast_scales_distances_from_the_mean() {
        let image = Raster::new(4, 1, vec![100u8, 100, 140, 140]).unwrap();
        assert_eq!(mean(&image), 120.0);
        assert_eq!(contrast(&image, 0.5).unwrap().data(), &[110, 110, 130, 130]);
        assert_eq!(contrast(&image, 0.0).unwrap().data(), &[120; 4]);
        let wide = Raster::new(2, 1, vec![20u8, 220]).unwrap();
        assert_eq!(contrast(&wide, 2.0).unwrap().data(), &[0, 255]);
        assert_eq!(contrast(&wide, 1.0).unwrap(), wide);
        assert!(contrast(&wide, -0.5).is_err());
        assert_eq!(mean(&Raster::filled(0, 0, 0u8)), 0.0);
    }

    #[test]
    fn inverting_twice_is_the_identity() {
        let image = Raster::new(3, 1, vec![0u8, 100, 255]).unwrap();
        assert_eq!(invert(&image).data(), &[255, 155, 0]);
        assert_eq!(invert(&invert(&image)), image);
    }
}
