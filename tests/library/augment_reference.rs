//! Augmentations that mirror numpy/scipy, checked against their outputs.
//! The fixture tests/fixtures/augment/reference.json was made by
//! tests/fixtures/augment/make_fixtures.py (numpy 2.4, scipy 1.17):
//! `np.pad(mode='symmetric')`, `scipy.ndimage.gaussian_filter(mode='constant',
//! truncate=4.0)` and the original's elastic warp (symmetric pad,
//! `map_coordinates(order=1)`, crop) with a given displacement field.

use serde_json::Value;
use unetseg::augment::{gaussian_filter_constant, pad_symmetric, ElasticField, Padding};
use unetseg::Raster;

fn reference() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/augment/reference.json"))
        .expect("fixture reference.json");
    serde_json::from_str(&text).unwrap()
}

/// A JSON array of rows as a raster, each value converted by `f`.
fn raster<T: Copy>(rows: &Value, f: impl Fn(&Value) -> T) -> Raster<T> {
    let rows = rows.as_array().unwrap();
    let width = rows.first().map_or(0, |r| r.as_array().unwrap().len());
    let data: Vec<T> = rows.iter().flat_map(|r| r.as_array().unwrap().iter().map(&f)).collect();
    Raster::new(width, rows.len(), data).unwrap()
}

fn as_u8(v: &Value) -> u8 {
    v.as_u64().unwrap() as u8
}

fn as_f32(v: &Value) -> f32 {
    v.as_f64().unwrap() as f32
}

fn side(case: &Value, name: &str) -> usize {
    case[name].as_u64().unwrap() as usize
}

#[test]
fn symmetric_padding_matches_numpy() {
    let r = reference();
    let image = raster(&r["pad"]["image"], as_u8);
    for case in r["pad"]["cases"].as_array().unwrap() {
        let padding = Padding {
            top: side(case, "top"),
            bottom: side(case, "bottom"),
            left: side(case, "left"),
            right: side(case, "right"),
        };
        let got = pad_symmetric(&image, padding).unwrap();
        assert_eq!(got, raster(&case["expected"], as_u8), "padding {padding:?}");
    }
    let one = Raster::filled(1, 1, 9u8);
    assert_eq!(pad_symmetric(&one, Padding::uniform(3)).unwrap(), raster(&r["pad_1x1"], as_u8));
}

#[test]
fn gaussian_smoothing_matches_scipy_constant_mode() {
    let r = reference();
    let field = raster(&r["gaussian"]["field"], as_f32);
    for case in r["gaussian"]["cases"].as_array().unwrap() {
        let sigma = case["sigma"].as_f64().unwrap();
        let got = gaussian_filter_constant(&field, sigma).unwrap();
        let expected = raster(&case["expected"], as_f32);
        assert_eq!(got.dims(), expected.dims());
        let worst = got.data().iter().zip(expected.data()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "sigma {sigma}: largest difference {worst}");
    }
}

#[test]
fn elastic_warp_matches_scipy_map_coordinates() {
    let r = reference();
    let e = &r["elastic"];
    let pad = e["pad"].as_u64().unwrap() as usize;
    let image = raster(&e["image"], as_u8);
    let field = ElasticField::from_displacements(raster(&e["dx"], as_f32), raster(&e["dy"], as_f32), pad).unwrap();
    let got = field.warp_image(&image).unwrap();
    let expected = raster(&e["expected"], |v| v.as_f64().unwrap());
    assert_eq!(got.dims(), expected.dims());
    for (g, x) in got.data().iter().zip(expected.data()) {
        // Ours rounds the bilinear value to the nearest integer.
        assert!((f64::from(*g) - x).abs() <= 0.5 + 1e-3, "got {g}, scipy {x}");
    }
}
