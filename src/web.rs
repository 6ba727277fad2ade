//! wasm-bindgen entry points of the web page (compiled for wasm32 only).
//!
//! The split follows burn's `mnist-inference-web` example: the page's Web
//! Worker calls these functions, and everything heavy happens here in wasm.
//!
//! - [`device`]: WebGPU device creation, or the CPU (Flex) backend, and what ran;
//! - [`input`]: decoding dropped files into pages ([`input::decode_image`]);
//! - [`segmenter`]: the network with its weights, and overlap-tile segmentation;
//! - [`analysis`]: post-processing, cell labels and PNG renderings of one result,
//!   re-run alone when a slider moves;
//! - [`js`]: small helpers for building the plain JS objects handed to the page.

pub mod analysis;
pub mod device;
pub mod input;
mod js;
pub mod segmenter;

use wasm_bindgen::prelude::wasm_bindgen;

/// Runs when the module is instantiated: routes Rust panics to the console,
/// where they explain the `RuntimeError` the worker then reports.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}
