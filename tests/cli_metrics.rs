//! `unetseg metrics` end to end: JSON and table output, 16-bit probability
//! maps, and the errors for missing, corrupt and mismatched files.
//!
//! Expected values come from tests/fixtures/metrics/expected.json, made by
//! tests/fixtures/metrics/make_fixtures.py (numpy/scipy/scikit-image) from
//! the committed held-out masks tests/data/masks/{24,25,26}.png.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

#[path = "common/metric_keys.rs"]
mod metric_keys;
use metric_keys::METRIC_KEYS as KEYS;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn metrics(pred: &str, truth: &str, json: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unetseg"));
    cmd.current_dir(root()).args(["metrics", "--pred", pred, "--truth", truth]);
    if json {
        cmd.arg("--json");
    }
    cmd.output().unwrap()
}

fn json_report(pred: &str, truth: &str) -> serde_json::Map<String, Value> {
    let out = metrics(pred, truth, true);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let value: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON value");
    let object = value.as_object().expect("a JSON object").clone();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut expected = KEYS.to_vec();
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    object
}

fn fixture_case(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/metrics/expected.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    fixture["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone()
}

fn assert_case(name: &str) {
    let case = fixture_case(name);
    let report = json_report(case["pred"].as_str().unwrap(), case["truth"].as_str().unwrap());
    for key in KEYS {
        let (got, want) = (report[key].as_f64().unwrap(), case["expected"][key].as_f64().unwrap());
        assert!((got - want).abs() <= 1e-12, "{name}: {key} = {got}, reference {want}");
    }
}

#[test]
fn identical_masks_give_all_ones_as_json() {
    let report = json_report("tests/data/masks/24.png", "tests/data/masks/24.png");
    for key in KEYS {
        assert_eq!(report[key].as_f64(), Some(1.0), "{key}");
    }
}

#[test]
fn mask_prediction_matches_the_reference() {
    assert_case("eroded_24");
}

#[test]
fn sixteen_bit_probability_map_is_swept_over_thresholds() {
    assert_case("probability_24");
}

#[test]
fn table_lists_every_metric() {
    let out = metrics("tests/fixtures/metrics/pred_noisy_26.png", "tests/data/masks/26.png", false);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("segmentation"), "{text}");
    let v_rand = fixture_case("noisy_26")["expected"]["v_rand"].as_f64().unwrap();
    assert!(text.contains(&format!("{v_rand:.6}")), "{text}");
    for key in KEYS {
        assert!(text.lines().any(|l| l.split_whitespace().next() == Some(key)), "no {key} row in\n{text}");
    }
}

fn assert_fails_naming(out: Output, names: &[&str]) {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in names {
        assert!(stderr.contains(name), "stderr does not name {name}: {stderr}");
    }
    assert!(out.stdout.is_empty(), "nothing on stdout after an error");
}

#[test]
fn missing_file_fails_naming_it() {
    assert_fails_naming(
        metrics("tests/data/masks/no-such-file.png", "tests/data/masks/24.png", true),
        &["no-such-file.png"],
    );
    assert_fails_naming(metrics("tests/data/masks/24.png", "missing-truth.png", false), &["missing-truth.png"]);
}

#[test]
fn corrupt_file_fails_naming_it() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let corrupt = dir.join("metrics-corrupt.png");
    // A PNG signature followed by garbage.
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    let corrupt = corrupt.to_str().unwrap();
    assert_fails_naming(metrics(corrupt, "tests/data/masks/24.png", true), &[corrupt]);
    assert_fails_naming(metrics("tests/data/masks/24.png", corrupt, true), &[corrupt]);
}

#[test]
fn size_mismatch_fails_naming_both_files_and_sizes() {
    let out = metrics("tests/fixtures/metrics/truth_crop_24.png", "tests/data/masks/24.png", true);
    assert_fails_naming(out, &["truth_crop_24.png", "256x256", "24.png", "512x512"]);
}

fn tmp_png(name: &str) -> String {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name).to_str().unwrap().to_string()
}

#[test]
fn eight_bit_gray_prediction_is_a_probability_map() {
    // Mask 24 turned into 8-bit "probabilities": cell 200 or 120, membrane 40
    // or 140, alternating by column, so thresholds 0.5 and 0.6 disagree.
    let truth = image::open(root().join("tests/data/masks/24.png")).unwrap().into_luma8();
    let pred = image::GrayImage::from_fn(truth.width(), truth.height(), |x, y| {
        let cell = truth.get_pixel(x, y)[0] > 127;
        image::Luma([match (cell, x % 2 == 0) {
            (true, true) => 200,
            (true, false) => 120,
            (false, true) => 40,
            (false, false) => 140,
        }])
    });
    let path = tmp_png("metrics-gray8-probability.png");
    pred.save(&path).unwrap();
    let report = json_report(&path, "tests/data/masks/24.png");
    let probability = unetseg::GrayF32::from_fn(512, 512, |x, y| pred.get_pixel(x as u32, y as u32)[0] as f32 / 255.0);
    let truth = unetseg::GrayU8::new(512, 512, truth.into_raw()).unwrap();
    let expected = unetseg::metrics::evaluate(&probability, &truth).unwrap();
    for (key, value) in expected.entries() {
        // serde_json's default float parser may be off by one ulp.
        let got = report[key].as_f64().unwrap();
        assert!((got - value).abs() <= 1e-15, "{key} = {got}, library {value}");
    }
    // At 0.5 the 120s count as membrane and the 140s as cell.
    assert!(report["pixel_accuracy"].as_f64().unwrap() < 0.6);
}

#[test]
fn sixteen_bit_binary_prediction_is_a_segmentation() {
    let eroded = image::open(root().join("tests/fixtures/metrics/pred_eroded_24.png")).unwrap().into_luma8();
    let wide: image::ImageBuffer<image::Luma<u16>, Vec<u16>> =
        image::ImageBuffer::from_fn(eroded.width(), eroded.height(), |x, y| {
            image::Luma([if eroded.get_pixel(x, y)[0] == 255 { u16::MAX } else { 0 }])
        });
    let path = tmp_png("metrics-binary16.png");
    wide.save(&path).unwrap();
    let report = json_report(&path, "tests/data/masks/24.png");
    let case = fixture_case("eroded_24");
    for key in KEYS {
        let (got, want) = (report[key].as_f64().unwrap(), case["expected"][key].as_f64().unwrap());
        assert!((got - want).abs() <= 1e-12, "{key} = {got}, reference {want}");
    }
}
