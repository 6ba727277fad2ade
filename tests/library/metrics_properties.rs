//! Properties of the metrics and of the challenge's border flood on random inputs (no
//! fixtures).

use crate::support::metric_keys;

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use unetseg::metrics::border_flood::{flood_borders, DAM};
use unetseg::metrics::contingency::ForegroundTable;
use unetseg::metrics::info::info_scores;
use unetseg::metrics::rand_index::rand_scores;
use unetseg::metrics::{self, MetricsReport};
use unetseg::postprocess::components::{connected_components, Connectivity};
use unetseg::{GrayF32, GrayU8, Labels, Raster};

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

/// The 4-connected cell regions of an 8-bit mask (above 127 = cell).
fn regions(m: &GrayU8) -> Labels {
    connected_components(&metrics::cell_mask(m).map(u8::from), Connectivity::Four).labels
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
        let regions = connected_components(&m, Connectivity::Four).count;
        for (key, value) in report.entries() {
            // Fiji's rules: without a ground-truth cell V_rand is 0 and V_info 0 (split 1,
            // merge 0); with a single region V_info is 0 (split 0, merge 1, the rule for a single
            // proposal part). A mask's threshold is 0.0.
            let want = match key {
                "v_rand_threshold" | "v_info_threshold" => 0.0,
                "v_rand" | "v_rand_split" | "v_rand_merge" | "v_info" | "v_info_merge" if regions == 0 => 0.0,
                "v_info" | "v_info_split" if regions == 1 => 0.0,
                _ => 1.0,
            };
            prop_assert_eq!(value, want, "{} with {} regions", key, regions);
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
        let table = ForegroundTable::new(&regions(&truth), &regions(&merged)).unwrap();
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
        let table = ForegroundTable::new(&regions(&truth), &regions(&split)).unwrap();
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

/// A direct transcription of Fiji's `WatershedTransform2D.apply()` with connectivity 4, for
/// any gray levels: pixels listed column by column and sorted by value (stably), flooded level
/// by level with a FIFO queue, new minima labelled as they appear. Returns the labels row by
/// row (0 = dam).
fn fiji_watershed_reference(image: &GrayU8) -> Vec<i32> {
    const MASK: i32 = -2;
    const WSHED: i32 = 0;
    const INIT: i32 = -1;
    const INQUEUE: i32 = -3;
    let (size1, size2) = image.dims();
    let mut tab = vec![vec![INIT; size2]; size1];
    let mut pixels: Vec<(u8, usize, usize)> = Vec::new();
    for x in 0..size1 {
        for y in 0..size2 {
            pixels.push((image.get(x, y), x, y));
        }
    }
    pixels.sort_by_key(|&(value, _, _)| value);
    let neighbours = |x: usize, y: usize| -> Vec<(usize, usize)> {
        let (x, y) = (x as isize, y as isize);
        [(x - 1, y), (x, y - 1), (x + 1, y), (x, y + 1)]
            .into_iter()
            .filter(|&(u, v)| u >= 0 && v >= 0 && (u as usize) < size1 && (v as usize) < size2)
            .map(|(u, v)| (u as usize, v as usize))
            .collect()
    };
    let mut fifo = VecDeque::new();
    let (mut current_label, mut flag) = (0, false);
    let mut start = 0;
    while start < pixels.len() {
        let h = pixels[start].0;
        let end = start + pixels[start..].iter().take_while(|p| p.0 == h).count();
        for &(_, i, j) in &pixels[start..end] {
            tab[i][j] = MASK;
            if neighbours(i, j).iter().any(|&(u, v)| tab[u][v] >= WSHED) {
                fifo.push_back((i, j));
                tab[i][j] = INQUEUE;
            }
        }
        while let Some((i, j)) = fifo.pop_front() {
            for (u, v) in neighbours(i, j) {
                if tab[u][v] > 0 {
                    if tab[i][j] == INQUEUE || (tab[i][j] == WSHED && flag) {
                        tab[i][j] = tab[u][v];
                    } else if tab[i][j] > 0 && tab[i][j] != tab[u][v] {
                        tab[i][j] = WSHED;
                        flag = false;
                    }
                } else if tab[u][v] == WSHED {
                    if tab[i][j] == INQUEUE {
                        tab[i][j] = WSHED;
                        flag = true;
                    }
                } else if tab[u][v] == MASK {
                    tab[u][v] = INQUEUE;
                    fifo.push_back((u, v));
                }
            }
        }
        for &(_, i, j) in &pixels[start..end] {
            if tab[i][j] == MASK {
                current_label += 1;
                tab[i][j] = current_label;
                fifo.push_back((i, j));
                while let Some((p, q)) = fifo.pop_front() {
                    for (u, v) in neighbours(p, q) {
                        if tab[u][v] == MASK {
                            tab[u][v] = current_label;
                            fifo.push_back((u, v));
                        }
                    }
                }
            }
        }
        start = end;
    }
    (0..size2).flat_map(|y| (0..size1).map(move |x| (x, y))).map(|(x, y)| tab[x][y].max(0)).collect()
}

/// Whether two label images are the same partition: the same dams (0) and a one-to-one map
/// between the other labels.
fn same_partition(a: &[i32], b: &[i32]) -> bool {
    let (mut ab, mut ba) = (BTreeMap::new(), BTreeMap::new());
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(&x, &y)| (x == 0) == (y == 0) && *ab.entry(x).or_insert(y) == y && *ba.entry(y).or_insert(x) == x)
}

/// A random cell mask (`true` = cell), possibly all cell or all membrane.
fn random_cells() -> impl Strategy<Value = Raster<bool>> {
    (1usize..16, 1usize..16, 0.0f64..1.0).prop_flat_map(|(w, h, p)| {
        proptest::collection::vec(proptest::bool::weighted(p.clamp(0.05, 0.95)), w * h)
            .prop_map(move |bits| Raster::new(w, h, bits).unwrap())
    })
}

/// The labels of the 4 neighbours of (x, y) inside the image.
fn neighbour_labels(labels: &Labels, x: usize, y: usize) -> Vec<i32> {
    let (w, h) = labels.dims();
    let mut out = Vec::new();
    if x > 0 {
        out.push(labels.get(x - 1, y));
    }
    if y > 0 {
        out.push(labels.get(x, y - 1));
    }
    if x + 1 < w {
        out.push(labels.get(x + 1, y));
    }
    if y + 1 < h {
        out.push(labels.get(x, y + 1));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_flood_equals_fijis_algorithm(cells in random_cells()) {
        let inverted = cells.map(|c| if c { 0u8 } else { 255 });
        let flood = flood_borders(&cells);
        prop_assert!(same_partition(flood.data(), &fiji_watershed_reference(&inverted)));
    }

    #[test]
    fn the_flood_never_merges_or_splits_cells(cells in random_cells()) {
        let flood = flood_borders(&cells);
        let basins = connected_components(&cells.map(u8::from), Connectivity::Four);
        // Each cell component keeps exactly one label, and no two share one.
        let mut label_of = BTreeMap::new();
        for (&basin, &label) in basins.labels.data().iter().zip(flood.data()) {
            if basin > 0 {
                prop_assert!(label != DAM);
                prop_assert_eq!(*label_of.entry(basin).or_insert(label), label);
            }
        }
        let distinct: BTreeSet<i32> = label_of.values().copied().collect();
        prop_assert_eq!(distinct.len(), basins.count);
        // Each flooded region is connected and holds one cell component (or, without any cell,
        // the whole image is one region).
        let regions = connected_components(&flood.map(|l| u8::from(l != DAM)), Connectivity::Four);
        let labels: BTreeSet<i32> = flood.data().iter().copied().filter(|&l| l != DAM).collect();
        if basins.count == 0 {
            prop_assert!(flood.data().iter().all(|&l| l == 1));
        } else {
            prop_assert_eq!(labels.len(), basins.count);
            for label in labels {
                let pieces: BTreeSet<i32> = flood.data().iter().zip(regions.labels.data())
                    .filter(|(&l, _)| l == label).map(|(_, &r)| r).collect();
                prop_assert_eq!(pieces.len(), 1, "region {} is in pieces", label);
            }
        }
    }

    #[test]
    fn every_dam_separates_two_regions(cells in random_cells()) {
        let flood = flood_borders(&cells);
        let (w, h) = flood.dims();
        // Each dam pixel touches two different regions, or another dam (Fiji's flood leaves
        // plateaus at the ends of dams)...
        for y in 0..h {
            for x in 0..w {
                if flood.get(x, y) != DAM {
                    continue;
                }
                let around = neighbour_labels(&flood, x, y);
                let regions: BTreeSet<i32> = around.iter().copied().filter(|&l| l != DAM).collect();
                prop_assert!(regions.len() >= 2 || around.contains(&DAM), "dam at ({}, {})", x, y);
            }
        }
        // ... and every connected group of dam pixels touches at least two regions.
        let dams = connected_components(&flood.map(|l| u8::from(l == DAM)), Connectivity::Four);
        let mut touched: BTreeMap<i32, BTreeSet<i32>> = BTreeMap::new();
        for y in 0..h {
            for x in 0..w {
                let group = dams.labels.get(x, y);
                if group > 0 {
                    let entry = touched.entry(group).or_default();
                    entry.extend(neighbour_labels(&flood, x, y).into_iter().filter(|&l| l != DAM));
                }
            }
        }
        for (group, regions) in touched {
            prop_assert!(regions.len() >= 2, "dam group {} touches {:?}", group, regions);
        }
    }

    #[test]
    fn a_stack_of_one_slice_is_that_slice(
        (w, truth) in random_mask(),
        seed in any::<u64>(),
    ) {
        let h = truth.len() / w;
        let probability = GrayF32::from_fn(w, h, |x, y| ((seed >> ((x + 3 * y) % 60)) & 15) as f32 / 15.0);
        let truth = mask(w, &truth);
        let stack = metrics::evaluate_stack(&[metrics::Prediction::Probability(&probability)], &[truth.clone()]).unwrap();
        prop_assert_eq!(stack.slices[0], metrics::evaluate(&probability, &truth).unwrap());
        prop_assert_eq!(stack.stack, stack.slices[0]);
    }
}

#[test]
fn a_stack_takes_one_threshold_for_all_slices() {
    // Slice a is right at thresholds 0.3 and 0.4, slice b at 0.6 to 0.8; elsewhere each is one
    // region (all cell, or no cell, which Fiji's flood also makes one region): V_rand 2/3.
    let truth = grid(9, 4, &[4], &[]);
    let a = GrayF32::from_fn(9, 4, |x, _| if x == 4 { 0.25 } else { 0.45 });
    let b = GrayF32::from_fn(9, 4, |x, _| if x == 4 { 0.55 } else { 0.9 });
    let stack = metrics::evaluate_stack(
        &[metrics::Prediction::Probability(&a), metrics::Prediction::Probability(&b)],
        &[truth.clone(), truth.clone()],
    )
    .unwrap();
    assert_eq!((stack.slices[0].v_rand, stack.slices[0].v_rand_threshold), (1.0, 0.30000000000000004));
    assert_eq!((stack.slices[1].v_rand, stack.slices[1].v_rand_threshold), (1.0, 0.6));
    // No threshold suits both; 0.3 and 0.6 tie at (1 + 2/3) / 2, and the first wins.
    assert_eq!((stack.stack.v_rand, stack.stack.v_rand_threshold), ((1.0 + 2.0 / 3.0) / 2.0, 0.30000000000000004));
    assert!(metrics::evaluate_stack(&[], &[]).is_err());
    let err = metrics::evaluate_stack(&[metrics::Prediction::Probability(&a)], &[grid(8, 4, &[], &[])]).unwrap_err();
    assert!(err.to_string().contains("slice 1"), "{err}");
}
