//! The robust training recipe: the original's augmentations plus what users'
//! images bring that ISBI's 27 slices do not. Another pixel size (random scaling),
//! other tone curves and contrast (gamma, contrast around the mean), blur, and,
//! when asked for, inverted contrast. [`RobustParams`] holds the ranges and
//! [`robust_sample`] draws one training pair with them.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::blur::gaussian_blur;
use super::elastic::ElasticField;
use super::geometry::{flip, Flip};
use super::pipeline::{check_sample_sizes, mask_classes, noise_and_brightness, AugmentParams};
use super::resample::{scaled_window, scaled_window_nearest};
use super::tone::{contrast, gamma, invert};
use crate::error::{Error, Result};
use crate::normalization::Normalization;
use crate::raster::{GrayF32, GrayU8, Raster};

/// The ranges of the robust recipe's extra augmentations. [`Default`] gives the
/// values in brackets. Factors are drawn log-uniformly (as likely to halve as to
/// double), the blur uniformly; every range holds its neutral value, and a range of
/// one value always draws that value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RobustParams {
    /// Smallest scale factor, in output pixels per source pixel (0.5: the crop sees
    /// twice as much of the slice, each membrane half as wide).
    pub scale_min: f64,
    /// Largest scale factor (2).
    pub scale_max: f64,
    /// Smallest gamma of the curve `v -> 255 (v / 255)^gamma` (0.5: brighter).
    pub gamma_min: f64,
    /// Largest gamma (2: darker).
    pub gamma_max: f64,
    /// Smallest contrast factor around the crop's mean (0.5: flatter).
    pub contrast_min: f64,
    /// Largest contrast factor (2: steeper, the extremes saturating).
    pub contrast_max: f64,
    /// Largest standard deviation, in pixels, of the Gaussian blur, drawn uniformly
    /// from `0..=blur_sigma_max` (2).
    pub blur_sigma_max: f64,
    /// Chance that a crop's contrast is inverted, `v -> 255 - v` (0: never).
    pub invert_probability: f64,
}

impl Default for RobustParams {
    fn default() -> Self {
        RobustParams {
            scale_min: 0.5,
            scale_max: 2.0,
            gamma_min: 0.5,
            gamma_max: 2.0,
            contrast_min: 0.5,
            contrast_max: 2.0,
            blur_sigma_max: 2.0,
            invert_probability: 0.0,
        }
    }
}

/// Largest blur accepted (its kernel has 161 taps).
const MAX_BLUR_SIGMA: f64 = 20.0;
/// Smallest scale factor accepted (a 256 px crop then covers 5120 px).
const MIN_SCALE: f64 = 0.05;
/// Largest scale factor accepted.
const MAX_SCALE: f64 = 20.0;

impl RobustParams {
    /// Fails, naming the range, unless every factor range is `0 < min <= max`
    /// (scales within 0.05..=20), the blur is within `0..=20` px and the chance within
    /// `0..=1`.
    pub fn validate(&self) -> Result<()> {
        let factors = [("gamma", self.gamma_min, self.gamma_max), ("contrast", self.contrast_min, self.contrast_max)];
        for (name, min, max) in factors {
            if !(min.is_finite() && max.is_finite() && 0.0 < min && min <= max) {
                return Err(Error::invalid(format!("the {name} range {min}..{max} needs 0 < min <= max")));
            }
        }
        let (min, max) = (self.scale_min, self.scale_max);
        if !(MIN_SCALE <= min && min <= max && max <= MAX_SCALE) {
            return Err(Error::invalid(format!(
                "the scale range {min}..{max} needs {MIN_SCALE} <= min <= max <= {MAX_SCALE}"
            )));
        }
        if !(0.0..=MAX_BLUR_SIGMA).contains(&self.blur_sigma_max) {
            return Err(Error::invalid(format!(
                "the largest blur sigma must lie within 0..={MAX_BLUR_SIGMA} px, got {}",
                self.blur_sigma_max
            )));
        }
        if !(0.0..=1.0).contains(&self.invert_probability) {
            return Err(Error::invalid(format!(
                "the inversion probability must lie within 0..=1, got {}",
                self.invert_probability
            )));
        }
        Ok(())
    }
}

/// A factor drawn log-uniformly from `min..=max` (one uniform draw; `min` itself when
/// the range holds one value).
fn log_uniform<R: Rng + ?Sized>(rng: &mut R, min: f64, max: f64) -> f64 {
    let u = rng.random::<f64>();
    if min == max {
        return min;
    }
    (min.ln() + u * (max.ln() - min.ln())).exp()
}

/// One training pair of the robust recipe, in this order (each step's draws in
/// brackets):
///
/// 1. the same flip for image and mask, one of four (a `u32`);
/// 2. the original's elastic deformation of the whole slice, the same field for image
///    and mask, the mask re-binarised (an integer sigma, then the field);
/// 3. a random scale `s` (log-uniform in `scale_min..=scale_max`) and a crop at that
///    scale (two `u32` positions): the `output_size`² mask window covers
///    `output_size / s` source pixels, at a whole-pixel position anywhere inside the
///    slice (centred, mirror-padded, when it is wider than the slice), and the
///    `input_size`² image window is centred on it. The image is area-averaged when
///    it shrinks and bilinear when it grows ([`super::resample`]); the mask is
///    resampled by nearest neighbour, so it stays 0/255;
/// 4. on the image window only: Gaussian blur (sigma uniform in
///    `0..=blur_sigma_max`), gamma (log-uniform), contrast around the window's mean
///    (log-uniform), then the original's noise and brightness (as in
///    [`super::training_sample_with`]), then inverted contrast with probability
///    `invert_probability` (one uniform, drawn whatever the probability);
/// 5. the image window scaled to `[0, 1]` by `normalization`; the mask as class ids.
///
/// The original's strengths come from `original`. With every range at its neutral
/// value (scale, gamma and contrast 1, no blur, no inversion) and `original`'s noise,
/// brightness and elastic strength at 0, the pair is a plain flipped crop. Fails as
/// [`super::training_sample_with`] does, or on ranges that
/// [`RobustParams::validate`] refuses.
pub fn robust_sample<R: Rng + ?Sized>(
    image: &GrayU8,
    mask: &GrayU8,
    (input_size, output_size): (usize, usize),
    original: &AugmentParams,
    robust: &RobustParams,
    normalization: Normalization,
    rng: &mut R,
) -> Result<(GrayF32, Raster<u8>)> {
    check_sample_sizes(image, mask, input_size, output_size)?;
    original.validate()?;
    robust.validate()?;
    let (w, h) = image.dims();

    // 1. Flip.
    let how = Flip::ALL[rng.random_range(0..4u32) as usize];
    let (image, mask) = (flip(image, how), flip(mask, how));

    // 2. Elastic deformation.
    let sigma = rng.random_range(original.elastic_sigma_min..=original.elastic_sigma_max);
    let field = ElasticField::random(w, h, original.elastic_alpha, f64::from(sigma), original.elastic_pad, rng)?;
    let (image, mask) = (field.warp_image(&image)?, field.warp_mask(&mask)?);

    // 3. Scaled crop: the mask window's corner at a whole source pixel.
    let scale = log_uniform(rng, robust.scale_min, robust.scale_max);
    let covered = output_size as f64 / scale;
    let corner = |n: usize, rng: &mut R| {
        let span = n as f64 - covered;
        let position = rng.random_range(0..=span.max(0.0).floor().min(f64::from(u32::MAX)) as u32);
        if span >= 0.0 {
            f64::from(position)
        } else {
            (span / 2.0).round()
        }
    };
    let (x, y) = (corner(w, rng), corner(h, rng));
    let margin = ((input_size - output_size) / 2) as f64 / scale;
    let input = scaled_window(&image, x - margin, y - margin, scale, input_size, input_size)?;
    let target = scaled_window_nearest(&mask, x, y, scale, output_size, output_size)?;

    // 4. Intensity, image only.
    let blur = rng.random::<f64>() * robust.blur_sigma_max;
    let input = gaussian_blur(&input, blur)?;
    let input = gamma(&input, log_uniform(rng, robust.gamma_min, robust.gamma_max))?;
    let input = contrast(&input, log_uniform(rng, robust.contrast_min, robust.contrast_max))?;
    let input = noise_and_brightness(&input, original, rng)?;
    let input = if rng.random::<f64>() < robust.invert_probability { invert(&input) } else { input };

    // 5. Normalise.
    Ok((normalization.normalize(&input), mask_classes(&target)))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn log_uniform_stays_in_its_range_and_is_symmetric_in_log() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let draws: Vec<f64> = (0..4000).map(|_| log_uniform(&mut rng, 0.5, 2.0)).collect();
        assert!(draws.iter().all(|v| (0.5..=2.0).contains(v)));
        let below_one = draws.iter().filter(|&&v| v < 1.0).count() as f64 / draws.len() as f64;
        assert!((below_one - 0.5).abs() < 0.03, "{below_one}");
        assert_eq!(log_uniform(&mut rng, 0.7, 0.7), 0.7);
    }

    #[test]
    fn ranges_are_checked() {
        assert!(RobustParams::default().validate().is_ok());
        let bad = [
            RobustParams { scale_min: 0.0, ..RobustParams::default() },
            RobustParams { scale_max: 40.0, ..RobustParams::default() },
            RobustParams { gamma_min: 3.0, ..RobustParams::default() },
            RobustParams { contrast_max: f64::NAN, ..RobustParams::default() },
            RobustParams { blur_sigma_max: -1.0, ..RobustParams::default() },
            RobustParams { invert_probability: 1.5, ..RobustParams::default() },
        ];
        for params in bad {
            assert!(params.validate().is_err(), "{params:?}");
        }
    }

    #[test]
    fn the_scale_shows_in_the_crop() {
        // Vertical stripes 8 px wide: at 0.5x a 32 px crop holds 8 stripes, at 2x two.
        let image = Raster::from_fn(128, 128, |x, _| if (x / 8) % 2 == 0 { 40u8 } else { 200 });
        let still = AugmentParams {
            gaussian_std_max: 0,
            uniform_low_max: 0,
            uniform_high_max: 0,
            brightness_max: 0,
            elastic_alpha: 0.0,
            ..AugmentParams::default()
        };
        let stripes = |scale: f64| {
            let robust = RobustParams {
                scale_min: scale,
                scale_max: scale,
                gamma_min: 1.0,
                gamma_max: 1.0,
                contrast_min: 1.0,
                contrast_max: 1.0,
                blur_sigma_max: 0.0,
                invert_probability: 0.0,
            };
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let (_, target) =
                robust_sample(&image, &image, (32, 32), &still, &robust, Normalization::MinMax, &mut rng).unwrap();
            let row = target.row(16);
            1 + row.windows(2).filter(|p| p[0] != p[1]).count()
        };
        assert!((7..=9).contains(&stripes(0.5)), "{}", stripes(0.5));
        assert!((2..=3).contains(&stripes(2.0)), "{}", stripes(2.0));
    }
}
