//! The per-sample training pipeline of the original project: random flip,
//! noise, brightness, elastic deformation, mirror-padded crop and min-max
//! normalisation, with the strengths in [`AugmentParams`].

use rand::{Rng, RngExt};

use super::elastic::ElasticField;
use super::geometry::{crop_symmetric, flip, Flip};
use super::intensity::{brightness, gaussian_noise, normalize_minmax, uniform_noise};
use crate::annotation;
use crate::error::{Error, Result};
use crate::raster::{GrayF32, GrayU8, Raster};

/// Strengths of the random augmentations. [`Default`] gives the original
/// project's values; every range is inclusive and drawn uniformly.
#[derive(Clone, Debug, PartialEq)]
pub struct AugmentParams {
    /// Gaussian noise std is drawn from the integers `0..=gaussian_std_max` (20).
    pub gaussian_std_max: u32,
    /// Uniform noise's lower bound is drawn from `-uniform_low_max..=0` (20).
    pub uniform_low_max: u32,
    /// Uniform noise's upper bound is drawn from `0..=uniform_high_max` (20).
    pub uniform_high_max: u32,
    /// Brightness offset is drawn from `-brightness_max..=brightness_max` (20).
    pub brightness_max: u32,
    /// Elastic displacement scale `alpha` (34).
    pub elastic_alpha: f32,
    /// Elastic smoothing sigma is drawn from the integers
    /// `elastic_sigma_min..=elastic_sigma_max` (6..=12).
    pub elastic_sigma_min: u32,
    /// Upper end of the sigma range.
    pub elastic_sigma_max: u32,
    /// Mirror padding around the image while deforming it (20 px).
    pub elastic_pad: usize,
}

impl Default for AugmentParams {
    fn default() -> Self {
        AugmentParams {
            gaussian_std_max: 20,
            uniform_low_max: 20,
            uniform_high_max: 20,
            brightness_max: 20,
            elastic_alpha: 34.0,
            elastic_sigma_min: 6,
            elastic_sigma_max: 12,
            elastic_pad: 20,
        }
    }
}

impl AugmentParams {
    /// Fails when the elastic sigma range is empty.
    pub fn validate(&self) -> Result<()> {
        if self.elastic_sigma_min > self.elastic_sigma_max {
            return Err(Error::invalid(format!(
                "elastic sigma range {}..={} is empty",
                self.elastic_sigma_min, self.elastic_sigma_max
            )));
        }
        Ok(())
    }
}

/// One augmented training pair with the original's strengths
/// ([`AugmentParams::default`]); see [`training_sample_with`].
pub fn training_sample<R: Rng + ?Sized>(
    image: &GrayU8,
    mask: &GrayU8,
    input_size: usize,
    output_size: usize,
    rng: &mut R,
) -> Result<(GrayF32, Raster<u8>)> {
    training_sample_with(image, mask, input_size, output_size, &AugmentParams::default(), rng)
}

/// One augmented training pair, steps 1-6 of the original in order:
///
/// 1. the same flip for image and mask, one of the four drawn uniformly;
/// 2. with equal chance Gaussian noise (integer std in `0..=max`) or uniform
///    noise (integer bounds `[low, high)`), image only;
/// 3. brightness: an integer offset, clipped, image only;
/// 4. elastic deformation with an integer sigma, the same field for image and
///    mask, the mask re-binarised at 127.5;
/// 5. with margin `m = (input_size - output_size) / 2`, a random
///    `input_size`² window of the image mirror-padded by `m`, and the
///    `output_size`² mask window centred in it (the mask region lies inside
///    the image, at any of its positions). Images smaller than `output_size`
///    are mirror-padded further, evenly on both sides, so any size works;
///    `input_size == output_size` (same-padding networks) gives `m = 0`;
/// 6. the image window min-max normalised to `[0, 1]`; the mask as class ids,
///    0 = membrane (mask value <= 127), 1 = cell.
///
/// `rng` is any `rand::Rng` (e.g. a seeded `rand_chacha::ChaCha8Rng`); the
/// same generator state gives the same sample on every platform (all draws
/// use 32-bit integers or floats, never `usize`). Fails when the image and
/// mask sizes differ, the image is empty, `output_size` is 0, or
/// `input_size - output_size` is negative or odd.
pub fn training_sample_with<R: Rng + ?Sized>(
    image: &GrayU8,
    mask: &GrayU8,
    input_size: usize,
    output_size: usize,
    params: &AugmentParams,
    rng: &mut R,
) -> Result<(GrayF32, Raster<u8>)> {
    let (input, target) = original_crops(image, mask, input_size, output_size, params, rng)?;
    // 6. Normalise.
    Ok((normalize_minmax(&input), mask_classes(&target)))
}

/// The mask as class ids, 0 = membrane (value <= 127), 1 = cell, and 128 (unlabelled)
/// [`annotation::UNLABELLED_CLASS`] ([`annotation::classes`]).
pub(super) fn mask_classes(mask: &GrayU8) -> Raster<u8> {
    annotation::classes(mask)
}

/// Checks what every training sample needs: an image and mask of one size, not empty,
/// and crop sizes with `input >= output > 0` and an even difference.
pub(super) fn check_sample_sizes(image: &GrayU8, mask: &GrayU8, input_size: usize, output_size: usize) -> Result<()> {
    let (w, h) = image.dims();
    if mask.dims() != (w, h) {
        return Err(Error::invalid(format!("image is {w}x{h} but its mask is {}x{}", mask.width(), mask.height())));
    }
    if w == 0 || h == 0 {
        return Err(Error::invalid("cannot make a training sample from an empty image"));
    }
    if output_size == 0 || input_size < output_size || (input_size - output_size) % 2 != 0 {
        return Err(Error::invalid(format!(
            "input size {input_size} and output size {output_size} need input >= output > 0 with an even difference"
        )));
    }
    Ok(())
}

/// Steps 2 and 3 of [`training_sample_with`]: with equal chance Gaussian or uniform
/// noise, then a brightness offset, with the strengths of `params`.
pub(super) fn noise_and_brightness<R: Rng + ?Sized>(
    image: &GrayU8,
    params: &AugmentParams,
    rng: &mut R,
) -> Result<GrayU8> {
    let image = if rng.random_range(0..=1u32) == 1 {
        let std = rng.random_range(0..=params.gaussian_std_max);
        gaussian_noise(image, f64::from(std), rng)?
    } else {
        let low = -i64::from(rng.random_range(0..=params.uniform_low_max));
        let high = rng.random_range(0..=params.uniform_high_max);
        uniform_noise(image, low as f64, f64::from(high), rng)?
    };
    let max = i64::from(params.brightness_max);
    let delta = rng.random_range(-max..=max);
    Ok(brightness(&image, delta.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32))
}

/// Steps 1-5 of [`training_sample_with`]: the 8-bit input window and the 0/255 mask
/// window, before normalisation.
pub(super) fn original_crops<R: Rng + ?Sized>(
    image: &GrayU8,
    mask: &GrayU8,
    input_size: usize,
    output_size: usize,
    params: &AugmentParams,
    rng: &mut R,
) -> Result<(GrayU8, GrayU8)> {
    check_sample_sizes(image, mask, input_size, output_size)?;
    let (w, h) = image.dims();
    params.validate()?;

    // 1. Flip.
    let how = Flip::ALL[rng.random_range(0..4u32) as usize];
    let (image, mask) = (flip(image, how), flip(mask, how));

    // 2-3. Noise and brightness.
    let image = noise_and_brightness(&image, params, rng)?;

    // 4. Elastic deformation, same field for both.
    let sigma = rng.random_range(params.elastic_sigma_min..=params.elastic_sigma_max);
    let field = ElasticField::random(w, h, params.elastic_alpha, f64::from(sigma), params.elastic_pad, rng)?;
    let (image, mask) = (field.warp_image(&image)?, field.warp_mask(&mask)?);

    // 5. Crop: the mask window at (x, y) of the (possibly enlarged) image,
    //    the input window m pixels further out on every side.
    let margin = (input_size - output_size) / 2;
    let (extra_x, extra_y) = (output_size.saturating_sub(w), output_size.saturating_sub(h));
    let span = |n: usize| u32::try_from(n.saturating_sub(output_size)).unwrap_or(u32::MAX);
    let x = rng.random_range(0..=span(w)) as isize - (extra_x / 2) as isize;
    let y = rng.random_range(0..=span(h)) as isize - (extra_y / 2) as isize;
    let m = margin as isize;
    let input = crop_symmetric(&image, x - m, y - m, input_size, input_size)?;
    let target = crop_symmetric(&mask, x, y, output_size, output_size)?;
    Ok((input, target))
}
