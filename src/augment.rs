//! Training augmentations and normalisations, in pure Rust (native and wasm),
//! seeded through any `rand::Rng` so runs repeat.
//!
//! The original project's:
//!
//! - [`geometry`]: flips, numpy-style symmetric padding, crops (any `Raster<T>`,
//!   so masks stay binary);
//! - [`intensity`]: Gaussian and uniform noise, brightness, min-max and
//!   mean/std normalisation;
//! - [`elastic`]: Simard elastic deformation (smoothed random displacement
//!   fields, bilinear resampling, mirror-padded borders);
//! - [`pipeline`]: the per-sample training pipeline with the original's
//!   strengths ([`training_sample`], [`AugmentParams`]).
//!
//! What users' images bring that ISBI's slices do not:
//!
//! - [`resample`]: other pixel sizes (area-averaged shrinking, bilinear growing,
//!   nearest neighbour for masks);
//! - [`tone`]: gamma curves, contrast around the mean, inverted contrast;
//! - [`blur`]: Gaussian blur with mirrored borders;
//! - [`robust`]: the robust training pipeline ([`robust_sample`], [`RobustParams`]);
//! - [`recipe`]: the choice between the two pipelines ([`AugmentRecipe`],
//!   `train --augment`).

pub mod blur;
pub mod elastic;
pub mod geometry;
pub mod intensity;
pub mod pipeline;
pub mod recipe;
pub mod resample;
pub mod robust;
pub mod tone;

pub use blur::gaussian_blur;
pub use elastic::{gaussian_filter_constant, ElasticField};
pub use geometry::{crop, crop_symmetric, flip, pad_symmetric, symmetric_index, Flip, Padding};
pub use intensity::{brightness, gaussian_noise, normalize_mean_std, normalize_minmax, uniform_noise};
pub use pipeline::{training_sample, training_sample_with, AugmentParams};
pub use recipe::AugmentRecipe;
pub use resample::{resize, resize_nearest, scaled_size, scaled_window, scaled_window_nearest};
pub use robust::{robust_sample, RobustParams};
pub use tone::{contrast, gamma, invert};
