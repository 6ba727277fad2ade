//! Which augmentations a training run applies (`train --augment`, saved in the
//! run's `run.json`): the original project's, or the robust recipe.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::pipeline::{mask_classes, original_crops, AugmentParams};
use super::robust::{robust_sample, RobustParams};
use crate::error::Result;
use crate::normalization::Normalization;
use crate::raster::{GrayF32, GrayU8, Raster};

/// The augmentation recipe of a training run. In JSON, `{"recipe": "original"}` or
/// `{"recipe": "robust", ...}` with the fields of [`RobustParams`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "recipe", rename_all = "lowercase")]
pub enum AugmentRecipe {
    /// The original's flip, noise, brightness, elastic deformation and crop
    /// ([`super::training_sample`]), with which the shipped weights were trained.
    #[default]
    Original,
    /// The original's augmentations plus scaling, gamma, contrast, blur and optional
    /// inversion ([`robust_sample`]).
    Robust(RobustParams),
}

impl AugmentRecipe {
    /// Checks the recipe's ranges.
    pub fn validate(&self) -> Result<()> {
        match self {
            AugmentRecipe::Original => Ok(()),
            AugmentRecipe::Robust(params) => params.validate(),
        }
    }

    /// One augmented training pair: the `input_size`² image window scaled to `[0, 1]`
    /// by `normalization`, and the `output_size`² mask window as class ids (0 =
    /// membrane, 1 = cell), with the original's strengths ([`AugmentParams::default`]).
    /// The original recipe with min-max normalisation is exactly
    /// [`super::training_sample`], draw for draw.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        image: &GrayU8,
        mask: &GrayU8,
        sizes: (usize, usize),
        normalization: Normalization,
        rng: &mut R,
    ) -> Result<(GrayF32, Raster<u8>)> {
        let original = AugmentParams::default();
        match self {
            AugmentRecipe::Original => {
                let (input, target) = original_crops(image, mask, sizes.0, sizes.1, &original, rng)?;
                Ok((normalization.normalize(&input), mask_classes(&target)))
            }
            AugmentRecipe::Robust(robust) => robust_sample(image, mask, sizes, &original, robust, normalization, rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_in_json() {
        assert_eq!(serde_json::to_value(AugmentRecipe::Original).unwrap(), serde_json::json!({"recipe": "original"}));
        let robust = AugmentRecipe::Robust(RobustParams { invert_probability: 0.5, ..RobustParams::default() });
        let json = serde_json::to_value(&robust).unwrap();
        assert_eq!((json["recipe"].as_str(), json["scale_min"].as_f64()), (Some("robust"), Some(0.5)));
        assert_eq!(serde_json::from_value::<AugmentRecipe>(json).unwrap(), robust);
        // Fields left out take their defaults.
        let partial: AugmentRecipe =
            serde_json::from_value(serde_json::json!({"recipe": "robust", "blur_sigma_max": 1.0})).unwrap();
        assert_eq!(partial, AugmentRecipe::Robust(RobustParams { blur_sigma_max: 1.0, ..RobustParams::default() }));
    }
}
