//! The original project's training augmentations and normalisations, in
//! pure Rust (native and wasm), seeded through any `rand::Rng` so runs repeat.
//!
//! - [`geometry`]: flips, numpy-style symmetric padding, crops (any `Raster<T>`,
//!   so masks stay binary);
//! - [`intensity`]: Gaussian and uniform noise, brightness, min-max and
//!   mean/std normalisation;
//! - [`elastic`]: Simard elastic deformation (smoothed random displacement
//!   fields, bilinear resampling, mirror-padded borders);
//! - [`pipeline`]: the per-sample training pipeline with the original's
//!   strengths ([`training_sample`], [`AugmentParams`]).

pub mod elastic;
pub mod geometry;
pub mod intensity;
pub mod pipeline;

pub use elastic::{gaussian_filter_constant, ElasticField};
pub use geometry::{crop, crop_symmetric, flip, pad_symmetric, symmetric_index, Flip, Padding};
pub use intensity::{brightness, gaussian_noise, normalize_mean_std, normalize_minmax, uniform_noise};
pub use pipeline::{training_sample, training_sample_with, AugmentParams};
