//! `unetseg metrics` end to end: JSON and table output, 16-bit probability
//! maps, stacks (several pairs or multi-page TIFFs), and the errors for missing,
//! corrupt and mismatched files.
//!
//! Expected values come from tests/fixtures/metrics/expected.json, made by
//! `python tests/fixtures/metrics/make_isbi_fixtures.py` (a port of Fiji's
//! `trainableSegmentation.metrics` code, with numpy 2.4.6 / scipy 1.17.1 /
//! scikit-image 0.26.0, cross-checked bit for bit against the Java classes; see
//! tests/metrics_fixtures.rs) from the committed held-out masks
//! data/isbi2012/train/masks/{24,25,26}.png. The Rust arithmetic differs from Fiji's by a few
//! units in the last place, hence the 1e-12 tolerance; thresholds are compared exactly.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::metric_keys;
use crate::support::repo;
use metric_keys::METRIC_KEYS as KEYS;

fn metrics(pred: &str, truth: &str, json: bool) -> Output {
    metrics_of(&[(pred, truth)], json)
}

/// `unetseg metrics` with one `--pred` / `--truth` pair per entry.
fn metrics_of(pairs: &[(&str, &str)], json: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unetseg"));
    cmd.current_dir(repo("")).arg("metrics");
    for (pred, truth) in pairs {
        cmd.args(["--pred", pred, "--truth", truth]);
    }
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

fn fixture() -> Value {
    let text = std::fs::read_to_string(repo("").join("tests/fixtures/metrics/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn fixture_case(name: &str) -> Value {
    fixture()["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone()
}

fn assert_report(name: &str, report: &Value, expected: &Value) {
    for key in KEYS {
        let (got, want) = (report[key].as_f64().unwrap(), expected[key].as_f64().unwrap());
        assert!((got - want).abs() <= 1e-12, "{name}: {key} = {got}, reference {want}");
    }
}

fn assert_case(name: &str) {
    let case = fixture_case(name);
    let report = json_report(case["pred"].as_str().unwrap(), case["truth"].as_str().unwrap());
    assert_report(name, &Value::Object(report), &case["expected"]);
}

#[test]
fn identical_masks_give_all_ones_as_json() {
    let report = json_report("data/isbi2012/train/masks/24.png", "data/isbi2012/train/masks/24.png");
    for key in KEYS {
        let want = if key.ends_with("_threshold") { 0.0 } else { 1.0 };
        assert_eq!(report[key].as_f64(), Some(want), "{key}");
    }
}

#[test]
fn mask_prediction_matches_the_reference() {
    assert_case("eroded_24");
}

#[test]
fn sixteen_bit_probability_map_is_swept_over_thresholds() {
    assert_case("probability_24");
    assert_case("noisy_probability_25");
    let out = metrics("tests/fixtures/metrics/prob16_24.png", "tests/fixtures/metrics/truth_crop_24.png", false);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("probability map"), "{text}");
    assert!(
        text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["v_rand_threshold", "0.600000"]),
        "{text}"
    );
}

/// The fixture's stack: its prediction and truth files, in order.
fn stack_files() -> (Vec<String>, Vec<String>, Value) {
    let stack = fixture()["stack"].clone();
    let list = |key: &str| stack[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    (list("preds"), list("truths"), stack)
}

/// Checks a stack's JSON against the fixture; `preds[k]` is the file slice `k` comes from.
fn assert_stack_json(doc: &Value, stack: &Value, preds: &[String]) {
    let slices = doc["slices"].as_array().expect("a slices array");
    assert_eq!(slices.len(), 3);
    for (k, (slice, expected)) in slices.iter().zip(stack["slices"].as_array().unwrap()).enumerate() {
        assert_report(&format!("slice {k}"), slice, &expected["expected"]);
        assert_eq!(slice["pred"].as_str(), Some(preds[k].as_str()), "slice {k}");
        assert_eq!(slice.as_object().unwrap().len(), KEYS.len() + 3, "pred, truth, page and the metrics");
    }
    assert_report("stack", &doc["stack"], &stack["expected"]);
    assert_eq!(doc["stack"].as_object().unwrap().len(), KEYS.len());
}

#[test]
fn several_pairs_are_a_stack_with_one_threshold() {
    let (preds, truths, stack) = stack_files();
    let pairs: Vec<(&str, &str)> = preds.iter().zip(&truths).map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let out = metrics_of(&pairs, true);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_stack_json(&doc, &stack, &preds);
    let pages: Vec<u64> = doc["slices"].as_array().unwrap().iter().map(|s| s["page"].as_u64().unwrap()).collect();
    assert_eq!(pages, [1, 1, 1]);
    // The table: a row per slice, the stack row, then every metric of the stack.
    let out = metrics_of(&pairs, false);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for name in ["stack_prob16_0.png", "stack_prob16_1.png", "stack_prob16_2.png"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "no row {name} in\n{text}");
    }
    let stack_row = text.lines().find(|l| l.starts_with("stack ")).unwrap_or_else(|| panic!("no stack row in\n{text}"));
    let v_rand = stack["expected"]["v_rand"].as_f64().unwrap();
    assert!(stack_row.contains(&format!("{v_rand:.6}")), "{stack_row}");
    for key in KEYS {
        assert!(text.lines().any(|l| l.split_whitespace().next() == Some(key)), "no {key} row in\n{text}");
    }
}

/// Writes the pages into one multi-page TIFF (8- or 16-bit gray).
fn write_tiff_stack(path: &str, pages: &[image::DynamicImage], sixteen_bit: bool) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = tiff::encoder::TiffEncoder::new(file).unwrap();
    for page in pages {
        let (w, h) = (page.width(), page.height());
        if sixteen_bit {
            encoder.write_image::<tiff::encoder::colortype::Gray16>(w, h, page.to_luma16().as_raw()).unwrap();
        } else {
            encoder.write_image::<tiff::encoder::colortype::Gray8>(w, h, page.to_luma8().as_raw()).unwrap();
        }
    }
}

#[test]
fn multi_page_tiffs_are_a_stack() {
    let (preds, truths, stack) = stack_files();
    let open = |files: &[String]| -> Vec<image::DynamicImage> {
        files.iter().map(|f| image::open(repo("").join(f)).unwrap()).collect()
    };
    let (pred_tif, truth_tif) = (tmp_png("metrics-stack-pred.tif"), tmp_png("metrics-stack-truth.tif"));
    write_tiff_stack(&pred_tif, &open(&preds), true);
    write_tiff_stack(&truth_tif, &open(&truths), false);
    let out = metrics(&pred_tif, &truth_tif, true);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_stack_json(&doc, &stack, &vec![pred_tif.clone(); 3]);
    let pages: Vec<u64> = doc["slices"].as_array().unwrap().iter().map(|s| s["page"].as_u64().unwrap()).collect();
    assert_eq!(pages, [1, 2, 3]);
    let out = metrics(&pred_tif, &truth_tif, false);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("metrics-stack-pred.tif:3 ")), "{text}");
    // Page counts must match.
    let short = tmp_png("metrics-stack-short.tif");
    write_tiff_stack(&short, &open(&truths[..2]), false);
    assert_fails_naming(
        metrics(&pred_tif, &short, true),
        &["metrics-stack-pred.tif", "3 pages", "metrics-stack-short.tif", "2"],
    );
}

#[test]
fn pred_and_truth_counts_must_match() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unetseg"));
    cmd.current_dir(repo("")).args([
        "metrics",
        "--pred",
        "data/isbi2012/train/masks/24.png",
        "--pred",
        "data/isbi2012/train/masks/25.png",
    ]);
    let out = cmd.args(["--truth", "data/isbi2012/train/masks/24.png"]).output().unwrap();
    assert_fails_naming(out, &["2 --pred", "1 --truth"]);
}

#[test]
fn table_lists_every_metric() {
    let out = metrics("tests/fixtures/metrics/pred_noisy_26.png", "data/isbi2012/train/masks/26.png", false);
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
        metrics("data/isbi2012/train/masks/no-such-file.png", "data/isbi2012/train/masks/24.png", true),
        &["no-such-file.png"],
    );
    assert_fails_naming(
        metrics("data/isbi2012/train/masks/24.png", "missing-truth.png", false),
        &["missing-truth.png"],
    );
}

#[test]
fn corrupt_file_fails_naming_it() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let corrupt = dir.join("metrics-corrupt.png");
    // A PNG signature followed by garbage.
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    let corrupt = corrupt.to_str().unwrap();
    assert_fails_naming(metrics(corrupt, "data/isbi2012/train/masks/24.png", true), &[corrupt]);
    assert_fails_naming(metrics("data/isbi2012/train/masks/24.png", corrupt, true), &[corrupt]);
}

#[test]
fn size_mismatch_fails_naming_both_files_and_sizes() {
    let out = metrics("tests/fixtures/metrics/truth_crop_24.png", "data/isbi2012/train/masks/24.png", true);
    assert_fails_naming(out, &["truth_crop_24.png", "256x256", "24.png", "512x512"]);
}

fn tmp_png(name: &str) -> String {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name).to_str().unwrap().to_string()
}

#[test]
fn eight_bit_gray_prediction_is_a_probability_map() {
    // Mask 24 turned into 8-bit "probabilities": cell 200 or 120, membrane 40
    // or 140, alternating by column, so thresholds 0.5 and 0.6 disagree.
    let truth = image::open(repo("").join("data/isbi2012/train/masks/24.png")).unwrap().into_luma8();
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
    let report = json_report(&path, "data/isbi2012/train/masks/24.png");
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
    let eroded = image::open(repo("").join("tests/fixtures/metrics/pred_eroded_24.png")).unwrap().into_luma8();
    let wide: image::ImageBuffer<image::Luma<u16>, Vec<u16>> =
        image::ImageBuffer::from_fn(eroded.width(), eroded.height(), |x, y| {
            image::Luma([if eroded.get_pixel(x, y)[0] == 255 { u16::MAX } else { 0 }])
        });
    let path = tmp_png("metrics-binary16.png");
    wide.save(&path).unwrap();
    let report = json_report(&path, "data/isbi2012/train/masks/24.png");
    let case = fixture_case("eroded_24");
    for key in KEYS {
        let (got, want) = (report[key].as_f64().unwrap(), case["expected"][key].as_f64().unwrap());
        assert!((got - want).abs() <= 1e-12, "{key} = {got}, reference {want}");
    }
}
