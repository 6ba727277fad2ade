//! Shared by the metrics integration tests: the repository root, the metrics
//! reference fixture (`tests/fixtures/metrics/expected.json`, made by
//! `tests/fixtures/metrics/make_isbi_fixtures.py`) and image loading.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use unetseg::{GrayF32, GrayU8};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The reference values of the metrics fixture.
pub fn fixture() -> Value {
    let path = root().join("tests/fixtures/metrics/expected.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// An image file as 8-bit gray (panics naming the file).
pub fn gray8(path: &Path) -> GrayU8 {
    let image = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_luma8();
    GrayU8::new(image.width() as usize, image.height() as usize, image.into_raw()).unwrap()
}

/// A 16-bit PNG as probabilities `f32(value) / 65535`, as the fixture script reads it.
pub fn probability16(path: &Path) -> GrayF32 {
    let image = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_luma16();
    let data = image.as_raw().iter().map(|&v| v as f32 / 65535.0).collect();
    GrayF32::new(image.width() as usize, image.height() as usize, data).unwrap()
}

/// Rows of text as a mask: '#' = cell (255), anything else membrane (0).
pub fn mask_from_rows(rows: &Value) -> GrayU8 {
    let rows: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    GrayU8::from_fn(rows[0].len(), rows.len(), |x, y| if rows[y].as_bytes()[x] == b'#' { 255 } else { 0 })
}

/// Rows of digits as probabilities: `d` -> `f32(d) / 10`.
pub fn probability_from_digits(rows: &Value) -> GrayF32 {
    let rows: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    GrayF32::from_fn(rows[0].len(), rows.len(), |x, y| (rows[y].as_bytes()[x] - b'0') as f32 / 10.0)
}
