//! Shared by the metrics integration tests: the repository root, the metrics
//! reference fixture (`tests/fixtures/metrics/expected.json`, made by
//! `tests/fixtures/metrics/make_fixtures.py`) and 8-bit image loading.

use serde_json::Value;
use std::path::{Path, PathBuf};
use unetseg::GrayU8;

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
