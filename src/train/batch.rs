//! One training batch: augmented crops of labelled slices as an input tensor and
//! its loss targets.

use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use super::data::Slice;
use super::loss::{LossWeighting, Targets};
use crate::augment::AugmentRecipe;
use crate::model::UNetConfig;
use crate::raster::{GrayF32, Raster};
use crate::Result;

/// One crop of each of `slices` augmented by `recipe` (input and output sizes
/// `sizes`, scaled as `config` says), as an input tensor `[N, 1, input, input]` and
/// its targets (unlabelled pixels of annotations without weight).
pub fn batch(
    slices: &[&Slice],
    sizes: (usize, usize),
    config: &UNetConfig,
    recipe: &AugmentRecipe,
    weighting: &LossWeighting,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<(Tensor<4>, Targets)> {
    let input = sizes.0;
    let mut pixels = Vec::with_capacity(slices.len() * input * input);
    let mut masks: Vec<Raster<u8>> = Vec::with_capacity(slices.len());
    for slice in slices {
        let (image, mask): (GrayF32, Raster<u8>) =
            recipe.sample(&slice.image, &slice.mask, sizes, config.normalization, rng)?;
        pixels.extend_from_slice(image.data());
        masks.push(mask);
    }
    let x = Tensor::from_data(TensorData::new(pixels, [slices.len(), 1, input, input]), device);
    let refs: Vec<&Raster<u8>> = masks.iter().collect();
    Ok((x, Targets::new(&refs, config.classes, weighting, device)?))
}
