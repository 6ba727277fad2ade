//! wasm-bindgen entry points used by the web page.
