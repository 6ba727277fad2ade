//! The metrics against reference values computed independently in Python.
//!
//! Fixtures: tests/fixtures/metrics/expected.json and the prediction PNGs
//! beside it, made by tests/fixtures/metrics/make_fixtures.py from the
//! committed held-out masks tests/data/masks/{24,25,26}.png with numpy,
//! scipy (entropies) and scikit-image (thinning, 4-connected labelling;
//! its adapted_rand_error cross-checks the Rand sums inside the script).

#[path = "common/metrics_fixture.rs"]
mod metrics_fixture;

use metrics_fixture::{fixture, gray8, root};
use serde_json::Value;
use std::path::Path;
use unetseg::metrics::{self, MetricsReport};
use unetseg::{GrayF32, GrayU8};

/// Rand scores are ratios of exact integers and agree to the last bit or
/// two; information scores differ from the reference only by the rounding of
/// differently ordered logarithm sums (observed below 1e-14).
const TOLERANCE: f64 = 1e-12;

fn probability16(path: &Path) -> GrayF32 {
    let image = image::open(path).unwrap().into_luma16();
    let data = image.as_raw().iter().map(|&v| v as f32 / 65535.0).collect();
    GrayF32::new(image.width() as usize, image.height() as usize, data).unwrap()
}

fn mask_from_rows(rows: &Value) -> GrayU8 {
    let rows: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    GrayU8::from_fn(rows[0].len(), rows.len(), |x, y| if rows[y].as_bytes()[x] == b'#' { 255 } else { 0 })
}

fn assert_matches(name: &str, report: &MetricsReport, expected: &Value) -> f64 {
    let mut worst = 0.0f64;
    let keys = expected.as_object().unwrap();
    assert_eq!(keys.len(), report.entries().len(), "{name}: key count");
    for (key, value) in report.entries() {
        let want = expected[key].as_f64().unwrap_or_else(|| panic!("{name}: no {key} in fixture"));
        let diff = (value - want).abs();
        assert!(diff <= TOLERANCE, "{name}: {key} = {value}, reference {want} (diff {diff:e})");
        worst = worst.max(diff);
    }
    worst
}

#[test]
fn real_mask_pairs_match_the_reference() {
    let fixture = fixture();
    let mut worst = 0.0f64;
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let truth = gray8(&root().join(case["truth"].as_str().unwrap()));
        let pred_path = root().join(case["pred"].as_str().unwrap());
        let report = match case["kind"].as_str().unwrap() {
            "mask" => metrics::evaluate(&gray8(&pred_path), &truth).unwrap(),
            "probability16" => metrics::evaluate(&probability16(&pred_path), &truth).unwrap(),
            other => panic!("unknown fixture kind {other}"),
        };
        worst = worst.max(assert_matches(name, &report, &case["expected"]));
    }
    println!("largest difference from the reference: {worst:e}");
}

#[test]
fn identical_real_masks_score_exactly_one() {
    for slice in [24, 25, 26] {
        let truth = gray8(&root().join(format!("tests/data/masks/{slice}.png")));
        let report = metrics::evaluate(&truth, &truth).unwrap();
        for (key, value) in report.entries() {
            assert_eq!(value, 1.0, "slice {slice}: {key}");
        }
        // The same mask as a probability map of 0s and 1s.
        let probability = truth.map(|v| if v > 127 { 1.0f32 } else { 0.0 });
        assert_eq!(metrics::evaluate(&probability, &truth).unwrap(), report, "slice {slice} as probabilities");
    }
}

#[test]
fn hand_checkable_cases_match_the_reference() {
    let fixture = fixture();
    for case in fixture["tiny_cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let report = metrics::evaluate(&mask_from_rows(&case["pred"]), &mask_from_rows(&case["truth"])).unwrap();
        assert_matches(name, &report, &case["expected"]);
    }
}

#[test]
fn hand_computed_values() {
    // Worked out in make_fixtures.py's comments.
    let fixture = fixture();
    let tiny = |name: &str| {
        let case = fixture["tiny_cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        metrics::evaluate(&mask_from_rows(&case["pred"]), &mask_from_rows(&case["truth"])).unwrap()
    };
    let merged = tiny("merge_two_cells");
    assert_eq!((merged.v_rand_split, merged.v_rand_merge), (1.0, 0.5));
    assert_eq!(merged.v_rand_unthinned, 324.0 / 486.0);
    assert_eq!((merged.v_info, merged.v_info_split, merged.v_info_merge), (0.0, 1.0, 0.0));
    let split = tiny("split_one_cell");
    assert_eq!((split.v_rand_unthinned, split.v_rand_split, split.v_rand_merge), (0.5, 75.0 / 225.0, 1.0));
}
