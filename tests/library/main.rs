//! Integration tests of the library, one module per family of operations, against
//! reference fixtures (OpenCV, PyTorch, numpy/scipy, Fiji's metric code) and by
//! properties. One test binary: every test binary links burn, so fewer of them build
//! faster.

#[path = "../support/mod.rs"]
mod support;

mod augment_properties;
mod augment_reference;
mod augment_robust;
mod export_roi;
mod imageio_decode;
mod imageio_formats;
mod import_pytorch;
mod inference_model;
mod inference_tiling;
mod metrics_fixtures;
mod metrics_properties;
mod model_unet;
mod model_weights;
mod normalization;
mod postprocess_cells;
mod postprocess_opencv;
mod postprocess_properties;
mod postprocess_tiled;
mod train_data;
mod train_finetune;
mod train_loss;
