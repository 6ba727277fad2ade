//! Properties of the metrics on random inputs (no fixtures).

#[path = "common/metric_keys.rs"]
mod metric_keys;

use proptest::prelude::*;
use unetseg::metrics::contingency::ForegroundTable;
use unetseg::metrics::info::info_scores;
use unetseg::metrics::rand_index::rand_scores;
use unetseg::metrics::{self, MetricsReport};
use unetseg::{GrayF32, GrayU8, Labels};

fn mask(width: usize, bits: &[bool]) -> GrayU8 {
    GrayU8::new(width, bits.len() / width, bits.iter().map(|&c| if c { 255 } else { 0 }).collect()).unwrap()
}

/// A random `width` x `height` cell mask (`true` = cell) with a bias towards cells.
fn random_mask() -> impl Strategy<Value = (usize, Vec<bool>)> {
    (3usize..14, 3usize..14)
        .prop_flat_map(|(w, h)| (Just(w), proptest::collection::vec(proptest::bool::weighted(0.7), w * h)))
}

/// Cells between full-length membrane lines at the given columns and rows.
fn grid(width: usize, height: usize, columns: &[usize], rows: &[usize]) -> GrayU8 {
    GrayU8::from_fn(width, height, |x, y| if columns.contains(&x) || rows.contains(&y) { 0 } else { 255 })
}

fn in_unit_interval(report: &MetricsReport) -> Result<(), TestCaseError> {
    for (key, value) in report.entries() {
        prop_assert!((0.0..=1.0).contains(&value), "{key} = {value}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_score_is_in_the_unit_interval((w, truth) in random_mask(), seed in any::<u64>()) {
        // A prediction of the same size: the truth with pixels flipped by a hash of the seed.
        let pred: Vec<bool> = truth.iter().enumerate()
            .map(|(i, &c)| c ^ ((seed.rotate_left(i as u32 % 64) ^ i as u64) % 5 == 0))
            .collect();
        in_unit_interval(&metrics::evaluate(&mask(w, &pred), &mask(w, &truth)).unwrap())?;
        let probability = GrayF32::from_fn(w, truth.len() / w, |x, y| ((seed >> ((x + 3 * y) % 60)) & 15) as f32 / 15.0);
        in_unit_interval(&metrics::evaluate(&probability, &mask(w, &truth)).unwrap())?;
    }

    #[test]
    fn identical_segmentations_score_one((w, cells) in random_mask()) {
        let m = mask(w, &cells);
        let report = metrics::evaluate(&m, &m).unwrap();
        for (key, value) in report.entries() {
            prop_assert_eq!(value, 1.0, "{}", key);
        }
    }

    #[test]
    fn swapping_the_segmentations_swaps_split_and_merge(
        (w, a, b) in (2usize..10, 2usize..10).prop_flat_map(|(w, h)| (
            Just(w),
            proptest::collection::vec(1i32..5, w * h),
            proptest::collection::vec(1i32..5, w * h),
        ))
    ) {
        // Label images without membrane: nothing is excluded or a singleton,
        // so the definitions are symmetric in the two segmentations.
        let h = a.len() / w;
        let (a, b) = (Labels::new(w, h, a).unwrap(), Labels::new(w, h, b).unwrap());
        let forward = ForegroundTable::new(&a, &b).unwrap();
        let backward = ForegroundTable::new(&b, &a).unwrap();
        for (f, g) in [(rand_scores(&forward), rand_scores(&backward)), (info_scores(&forward), info_scores(&backward))] {
            prop_assert!((f.score - g.score).abs() < 1e-12);
            prop_assert!((f.split - g.merge).abs() < 1e-12);
            prop_assert!((f.merge - g.split).abs() < 1e-12);
        }
    }

    #[test]
    fn merging_regions_lowers_merge_not_split(
        width in 8usize..24, height in 6usize..20,
        columns in proptest::collection::btree_set(1usize..7, 1..3),
        rows in proptest::collection::btree_set(1usize..5, 0..3),
    ) {
        // Columns 2x apart so that removing one always merges two cells.
        let columns: Vec<usize> = columns.into_iter().map(|c| 2 * c).filter(|&c| c < width - 1).collect();
        prop_assume!(!columns.is_empty());
        let rows: Vec<usize> = rows.into_iter().map(|r| 2 * r).filter(|&r| r < height - 1).collect();
        let truth = grid(width, height, &columns, &rows);
        let merged = grid(width, height, &columns[1..], &rows);
        let r = metrics::evaluate(&merged, &truth).unwrap();
        let table = ForegroundTable::new(
            &unetseg::metrics::regions::label_regions(&metrics::cell_mask(&truth)).0,
            &unetseg::metrics::regions::label_regions(&metrics::cell_mask(&merged)).0,
        ).unwrap();
        let (rand, info) = (rand_scores(&table), info_scores(&table));
        prop_assert_eq!(rand.split, 1.0);
        prop_assert!(rand.merge < 1.0);
        prop_assert!((info.split - 1.0).abs() < 1e-12);
        prop_assert!(info.merge < 1.0);
        prop_assert_eq!(r.v_rand_unthinned, rand.score);
    }

    #[test]
    fn splitting_regions_lowers_split_not_merge(
        width in 8usize..24, height in 6usize..20,
        columns in proptest::collection::btree_set(1usize..7, 0..3),
        cut in 0usize..12,
    ) {
        let columns: Vec<usize> = columns.into_iter().map(|c| 2 * c).filter(|&c| c < width - 1).collect();
        // A new membrane column through cells (odd, so never on an old one).
        let cut = 2 * cut + 1;
        prop_assume!(cut < width - 1);
        let truth = grid(width, height, &columns, &[]);
        let mut with_cut = columns.clone();
        with_cut.push(cut);
        let split = grid(width, height, &with_cut, &[]);
        let table = ForegroundTable::new(
            &unetseg::metrics::regions::label_regions(&metrics::cell_mask(&truth)).0,
            &unetseg::metrics::regions::label_regions(&metrics::cell_mask(&split)).0,
        ).unwrap();
        let (rand, info) = (rand_scores(&table), info_scores(&table));
        prop_assert_eq!(rand.merge, 1.0);
        prop_assert!(rand.split < 1.0);
        prop_assert!((info.merge - 1.0).abs() < 1e-12);
        prop_assert!(info.split < 1.0);
    }
}

#[test]
fn mean_averages_each_metric() {
    let m = grid(9, 5, &[4], &[]);
    let a = metrics::evaluate(&m, &m).unwrap();
    let b = metrics::evaluate(&grid(9, 5, &[], &[]), &m).unwrap();
    assert_eq!(metrics::mean(&[a]), Some(a));
    let both = metrics::mean(&[a, b]).unwrap();
    for ((key, mean), ((_, x), (_, y))) in both.entries().iter().zip(a.entries().iter().zip(b.entries())) {
        assert_eq!(*mean, (x + y) / 2.0, "{key}");
    }
    assert_eq!(metrics::mean(&[]), None);
}

#[test]
fn size_mismatch_is_an_error_naming_both_sizes() {
    let err = metrics::evaluate(&grid(9, 5, &[4], &[]), &grid(8, 6, &[4], &[])).unwrap_err().to_string();
    assert!(err.contains("9x5") && err.contains("8x6"), "{err}");
    let probability = GrayF32::filled(3, 3, 0.5);
    assert!(metrics::evaluate(&probability, &grid(9, 5, &[], &[])).is_err());
}

#[test]
fn json_keys_are_exactly_the_documented_ones() {
    let m = grid(9, 5, &[4], &[]);
    let json = serde_json::to_value(metrics::evaluate(&m, &m).unwrap()).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = metric_keys::METRIC_KEYS.to_vec();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys_sorted, expected);
}
