//! The metrics against reference values computed independently in Python from the
//! challenge's own Java code.
//!
//! Fixtures: tests/fixtures/metrics/expected.json and the images beside it, made by
//! `python tests/fixtures/metrics/make_isbi_fixtures.py` (Python 3.11, numpy 2.4.6,
//! scipy 1.17.1, scikit-image 0.26.0, pillow 13.0.0) from the committed held-out masks
//! data/isbi2012/train/masks/{24,25,26}.png. The script ports Fiji's
//! `trainableSegmentation.metrics.RandError` / `VariationOfInformation` (the sweep, the
//! binarisation, `util.FindConnectedRegions`, `WatershedTransform2D` line by line, and the
//! Java's floating-point arithmetic in its own order) and computes the crate's unthinned and
//! pixel scores from their definitions. It was cross-checked against the real Java classes
//! (Trainable_Segmentation master, VIB-lib's FindConnectedRegions, ImageJ 1.52i, OpenJDK 17):
//! every V_rand, V_info, Rand precision and recall at every threshold, and every flood label
//! image, agreed bit for bit on all these cases.
//!
//! The Rust code computes the same quantities with exact integer pair counts and entropies from
//! sorted `c ln c` sums, where Fiji divides each count by `n` first and sums in floating point:
//! the results differ by a few units in the last place (Fiji's V_rand of identical masks is
//! `1.0000000000000002` on slice 24, exactly 1 here), hence [`TOLERANCE`]. The chosen thresholds
//! must be the same (matched to the sweep, see [`sweep_index`]).

use crate::support::metrics_fixture;

use metrics_fixture::{fixture, gray8, mask_from_rows, probability16, probability_from_digits, root};
use serde_json::Value;
use unetseg::metrics::border_flood::{flood_borders, DAM};
use unetseg::metrics::{self, MetricsReport, Prediction, SliceScores};
use unetseg::{GrayF32, GrayU8, Labels};

/// Largest accepted difference from the reference (observed: below 1e-15).
const TOLERANCE: f64 = 1e-12;

/// The index in the sweep of a threshold read from the fixture. serde_json's default float
/// parser can be one unit in the last place off (0.9999999999999999 may read as 1.0), so the
/// fixture's thresholds are matched to the nearest sweep threshold, 0.1 apart.
fn sweep_index(threshold: f64) -> usize {
    let thresholds = metrics::isbi::SWEEP_THRESHOLDS;
    let k = (0..thresholds.len())
        .min_by(|&a, &b| (thresholds[a] - threshold).abs().partial_cmp(&(thresholds[b] - threshold).abs()).unwrap());
    let k = k.unwrap();
    assert!((thresholds[k] - threshold).abs() < 1e-12, "{threshold} is no threshold of the sweep");
    k
}

fn assert_matches(name: &str, report: &MetricsReport, expected: &Value) -> f64 {
    let mut worst = 0.0f64;
    let keys = expected.as_object().unwrap();
    assert_eq!(keys.len(), report.entries().len(), "{name}: key count");
    for (key, value) in report.entries() {
        let want = expected[key].as_f64().unwrap_or_else(|| panic!("{name}: no {key} in fixture"));
        if key.ends_with("_threshold") {
            assert_eq!(value, metrics::isbi::SWEEP_THRESHOLDS[sweep_index(want)], "{name}: {key}");
            continue;
        }
        let diff = (value - want).abs();
        assert!(diff <= TOLERANCE, "{name}: {key} = {value}, reference {want} (diff {diff:e})");
        worst = worst.max(diff);
    }
    worst
}

fn assert_per_threshold(name: &str, scores: &SliceScores, expected: &Value) {
    let expected = expected.as_array().unwrap();
    assert_eq!(scores.per_threshold().len(), expected.len(), "{name}");
    for (k, (ours, want)) in scores.per_threshold().iter().zip(expected).enumerate() {
        assert_eq!(sweep_index(want["threshold"].as_f64().unwrap()), k, "{name}");
        for (got, key) in [(ours.rand.score, "v_rand"), (ours.info.score, "v_info")] {
            let want = want[key].as_f64().unwrap();
            assert!((got - want).abs() <= TOLERANCE, "{name} threshold {k}: {key} = {got}, reference {want}");
        }
    }
}

enum Loaded {
    Mask(GrayU8),
    Probability(GrayF32),
}

impl Loaded {
    fn prediction(&self) -> Prediction<'_> {
        match self {
            Loaded::Mask(m) => Prediction::Mask(m),
            Loaded::Probability(p) => Prediction::Probability(p),
        }
    }
}

fn load(kind: &str, pred: &str) -> Loaded {
    let path = root().join(pred);
    match kind {
        "mask" => Loaded::Mask(gray8(&path)),
        "probability16" => Loaded::Probability(probability16(&path)),
        other => panic!("unknown fixture kind {other}"),
    }
}

#[test]
fn real_data_matches_the_reference() {
    let fixture = fixture();
    let mut worst = 0.0f64;
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let truth = gray8(&root().join(case["truth"].as_str().unwrap()));
        let pred = load(case["kind"].as_str().unwrap(), case["pred"].as_str().unwrap());
        let scores = metrics::score_slice(pred.prediction(), &truth).unwrap();
        worst = worst.max(assert_matches(name, &scores.report(), &case["expected"]));
        if let Some(per_threshold) = case.get("per_threshold") {
            assert_per_threshold(name, &scores, per_threshold);
        }
    }
    println!("largest difference from the reference: {worst:e}");
}

#[test]
fn the_stack_matches_the_reference_and_picks_one_threshold() {
    let fixture = fixture();
    let case = &fixture["stack"];
    let strings = |key: &str| -> Vec<String> {
        case[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let preds: Vec<Loaded> = strings("preds").iter().map(|p| load("probability16", p)).collect();
    let truths: Vec<GrayU8> = strings("truths").iter().map(|t| gray8(&root().join(t))).collect();
    let predictions: Vec<Prediction> = preds.iter().map(Loaded::prediction).collect();
    let stack = metrics::evaluate_stack(&predictions, &truths).unwrap();
    let slices = case["slices"].as_array().unwrap();
    assert_eq!(stack.slices.len(), 3);
    for (k, (report, expected)) in stack.slices.iter().zip(slices).enumerate() {
        assert_matches(&format!("stack slice {k}"), report, &expected["expected"]);
        let scores = metrics::score_slice(predictions[k], &truths[k]).unwrap();
        assert_per_threshold(&format!("stack slice {k}"), &scores, &expected["per_threshold"]);
    }
    assert_matches("stack", &stack.stack, &case["expected"]);
    // The challenge's rule is not the mean of the slices' best scores.
    let means = metrics::mean(&stack.slices).unwrap();
    assert!(stack.stack.v_rand < means.v_rand - 0.01, "{} vs {}", stack.stack.v_rand, means.v_rand);
    assert!(stack.slices.iter().any(|s| s.v_rand_threshold != stack.stack.v_rand_threshold));
    assert!(stack.slices.iter().any(|s| s.v_info_threshold != stack.stack.v_info_threshold));
    // The per-threshold means of the stack.
    let scored: Vec<SliceScores> =
        predictions.iter().zip(&truths).map(|(&p, t)| metrics::score_slice(p, t).unwrap()).collect();
    for (k, want) in case["per_threshold"].as_array().unwrap().iter().enumerate() {
        let at_k: Vec<_> = scored.iter().map(|s| s.per_threshold()[k]).collect();
        let combined = metrics::isbi::IsbiScores::stack(&at_k).unwrap();
        for (got, key) in [(combined.rand.score, "v_rand"), (combined.info.score, "v_info")] {
            let want = want[key].as_f64().unwrap();
            assert!((got - want).abs() <= TOLERANCE, "stack threshold {k}: {key} = {got}, reference {want}");
        }
    }
    assert_eq!(metrics::stack_report(&scored), Some(stack.stack));
}

#[test]
fn identical_real_masks_score_exactly_one() {
    for slice in [24, 25, 26] {
        let truth = gray8(&root().join(format!("data/isbi2012/train/masks/{slice}.png")));
        let report = metrics::evaluate(&truth, &truth).unwrap();
        for (key, value) in report.entries() {
            let want = if key.ends_with("_threshold") { 0.0 } else { 1.0 };
            assert_eq!(value, want, "slice {slice}: {key}");
        }
        // The same mask as a probability map of 0s and 1s.
        let probability = truth.map(|v| if v > 127 { 1.0f32 } else { 0.0 });
        assert_eq!(metrics::evaluate(&probability, &truth).unwrap(), report, "slice {slice} as probabilities");
    }
}

/// A flood as text, as the fixture script writes it: '+' = dam, letters = labels in order of
/// first appearance (row by row).
fn picture(labels: &Labels) -> Vec<String> {
    let mut names: Vec<i32> = Vec::new();
    (0..labels.height())
        .map(|y| {
            (0..labels.width())
                .map(|x| match labels.get(x, y) {
                    DAM => '+',
                    l => {
                        if !names.contains(&l) {
                            names.push(l);
                        }
                        (b'a' + names.iter().position(|&n| n == l).unwrap() as u8) as char
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn hand_made_cases_match_the_reference() {
    let fixture = fixture();
    for case in fixture["tiny_cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let truth = mask_from_rows(&case["truth"]);
        match case["kind"].as_str().unwrap() {
            "mask" => {
                let pred = mask_from_rows(&case["pred"]);
                assert_matches(name, &metrics::evaluate(&pred, &truth).unwrap(), &case["expected"]);
                let flood: Vec<&str> = case["flood"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
                assert_eq!(picture(&flood_borders(&metrics::cell_mask(&pred))), flood, "{name}: flood");
            }
            "probability_digits" => {
                let probability = probability_from_digits(&case["pred"]);
                let scores = metrics::score_slice(&probability, &truth).unwrap();
                assert_matches(name, &scores.report(), &case["expected"]);
                assert_per_threshold(name, &scores, &case["per_threshold"]);
            }
            other => panic!("{name}: unknown kind {other}"),
        }
    }
}

#[test]
fn hand_computed_values() {
    let fixture = fixture();
    let tiny = |name: &str| {
        let case = fixture["tiny_cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        metrics::evaluate(&mask_from_rows(&case["pred"]), &mask_from_rows(&case["truth"])).unwrap()
    };
    // Two 3x3 cells predicted as one part: sum p^2 = 162, sum t^2 = 162, sum s^2 = 324.
    let merged = tiny("merge_two_cells");
    assert_eq!((merged.v_rand, merged.v_rand_split, merged.v_rand_merge), (324.0 / 486.0, 1.0, 0.5));
    assert_eq!(merged.v_rand_unthinned, 324.0 / 486.0);
    // One proposal part: H(S) = 0, for which Fiji sets precision (merge) 1 and recall (split) 0.
    assert_eq!((merged.v_info, merged.v_info_split, merged.v_info_merge), (0.0, 0.0, 1.0));
    // A 5x3 cell cut by a membrane column that touches both halves: it stays a dam of 3
    // singletons. sum p^2 = 36 + 36 + 3 = 75, sum t^2 = 225.
    let split = tiny("split_one_cell");
    assert_eq!((split.v_rand, split.v_rand_split, split.v_rand_merge), (0.5, 75.0 / 225.0, 1.0));
    // One ground-truth region: H(T) = 0, Fiji's precision (merge) 0, recall (split) 1.
    assert_eq!((split.v_info, split.v_info_split, split.v_info_merge), (0.0, 1.0, 0.0));
    // A 3-pixel border is flooded down to the truth's 1-pixel membrane.
    assert_eq!(tiny("thick_border").v_rand, 1.0);
    // A 4-pixel border: Fiji's tie order puts the dam at x = 5, on the first column of the right
    // cell (the truth's membrane is at x = 4): 4 singletons. sum p^2 = 16^2 + 16^2 + 4 = 516,
    // sum t^2 = 16^2 + 20^2 = 656, sum s^2 = 516.
    let even = tiny("thick_border_even");
    assert_eq!((even.v_rand, even.v_rand_split, even.v_rand_merge), (1032.0 / 1172.0, 516.0 / 656.0, 1.0));
    // Specks and an edge band are absorbed; nothing is lost.
    for name in ["specks", "edge_band"] {
        let r = tiny(name);
        assert_eq!((r.v_rand, r.v_info), (1.0, 1.0), "{name}");
        assert!(r.v_rand_unthinned < 1.0, "{name}: the unthinned score still sees them");
    }
    // No cell predicted: Fiji's flood makes the whole image one region.
    let none = tiny("no_cell_predicted");
    assert_eq!((none.v_rand_split, none.v_rand_merge, none.v_info), (1.0, 0.5, 0.0));
    // A single region predicted exactly: Rand 1, Fiji's V_info 0; the unthinned V_info is 1.
    let single = tiny("single_region_exact");
    assert_eq!((single.v_rand, single.v_info, single.v_info_unthinned), (1.0, 0.0, 1.0));
}
