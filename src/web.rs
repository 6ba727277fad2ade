//! The web page's side of the crate, split as in burn's `mnist-inference-web`: the
//! page's Web Worker calls thin wasm-bindgen entry points, and everything they do is
//! library code that also compiles natively, so `cargo test` reaches it.
//!
//! - [`input`]: decoding dropped files into pages, within the page's size limit;
//! - [`views`]: what one result shows and offers for download, as the serde structs
//!   that cross to JavaScript (one per call);
//! - `bindings` (wasm32 only): the `#[wasm_bindgen]` classes and functions the worker
//!   calls (`Segmenter`, `PageResult`, `decodeImage`, `benchPostprocess`);
//! - `device` (wasm32 only): the WebGPU device, or the CPU, and what ran.
//!
//! The segmentation itself is [`crate::inference`] and [`crate::pipeline`], exactly as
//! in `unetseg segment`.

pub mod input;
pub mod views;

#[cfg(target_family = "wasm")]
mod bindings;
#[cfg(target_family = "wasm")]
mod device;
