//! unetseg: U-Net segmentation of microscopy images, natively and in the browser.
//!
//! The same crate holds the image I/O, the original project's augmentations,
//! the watershed post-processing, the ISBI 2012 metrics, the U-Net (burn) with
//! its training and tiled inference, and the wasm entry points of the web page.

pub mod annotation;
pub mod augment;
pub mod cells;
#[cfg(not(target_family = "wasm"))]
pub mod device;
pub mod error;
pub mod export;
pub mod imageio;
pub mod import;
pub mod inference;
pub mod metrics;
pub mod model;
pub mod normalization;
pub mod pipeline;
pub mod postprocess;
pub mod raster;
pub mod robustness;
pub mod train;

pub use error::{Error, Result};
pub use raster::{GrayF32, GrayU8, Labels, Raster};

#[cfg(not(target_family = "wasm"))]
pub mod cli;

pub mod web;
