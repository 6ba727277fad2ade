//! Guo–Hall thinning against scikit-image.
//!
//! Fixtures: tests/fixtures/metrics/thinned_*.png (255 = membrane left after
//! thinning) and the lookup tables in expected.json, made by
//! tests/fixtures/metrics/make_fixtures.py with scikit-image 0.26 from the
//! held-out masks and two derived predictions: `plain` = the result of
//! `skimage.morphology.thin`, `framed` = the script's repetition of its loop
//! (same tables and correlation) with the fixed membrane frame.

#[path = "common/metrics_fixture.rs"]
mod metrics_fixture;

use metrics_fixture::{fixture, gray8, root};
use unetseg::metrics::cell_mask;
use unetseg::metrics::regions::label_regions;
use unetseg::metrics::thinning::{thin, thin_membranes, DELETION_TABLES};

#[test]
fn lookup_tables_equal_scikit_image() {
    let fixture = fixture();
    let luts = fixture["guo_hall_luts"].as_array().unwrap();
    for (sub_iteration, (ours, theirs)) in DELETION_TABLES.iter().zip(luts).enumerate() {
        let theirs: Vec<bool> = theirs.as_array().unwrap().iter().map(|v| v.as_u64() == Some(1)).collect();
        assert_eq!(ours.as_slice(), theirs.as_slice(), "sub-iteration {}", sub_iteration + 1);
    }
}

#[test]
fn thinned_membranes_equal_the_reference_pixel_for_pixel() {
    let fixture = fixture();
    for case in fixture["thinning"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let variant = case["variant"].as_str().unwrap();
        let cell = cell_mask(&gray8(&root().join(input)));
        // Both as membrane maps (true = membrane).
        let thinned = match variant {
            "framed" => thin_membranes(&cell).map(|c| !c),
            "plain" => {
                let mut membrane = cell.map(|c| !c);
                thin(&mut membrane);
                membrane
            }
            other => panic!("unknown variant {other}"),
        };
        let expected = cell_mask(&gray8(&root().join(case["thinned_membrane"].as_str().unwrap())));
        let (width, _) = cell.dims();
        let differing: Vec<usize> =
            (0..thinned.data().len()).filter(|&i| thinned.data()[i] != expected.data()[i]).collect();
        assert!(
            differing.is_empty(),
            "{variant} {input}: {} pixels differ, first at (x {}, y {})",
            differing.len(),
            differing[0] % width,
            differing[0] / width
        );
        let membrane = thinned.data().iter().filter(|&&m| m).count() as u64;
        assert_eq!(Some(membrane), case["membrane_pixels"].as_u64(), "{variant} {input}");
        let regions = label_regions(&thinned.map(|m| !m)).1 as u64;
        assert_eq!(Some(regions), case["regions_after"].as_u64(), "{variant} {input}");
    }
}

#[test]
fn thinning_keeps_every_cell_and_only_removes_membrane() {
    for slice in [24, 25, 26] {
        let cell = cell_mask(&gray8(&root().join(format!("tests/data/masks/{slice}.png"))));
        let thinned = thin_membranes(&cell);
        assert!(cell.data().iter().zip(thinned.data()).all(|(&before, &after)| !before || after), "slice {slice}");
        // The membrane frame keeps cells on either side of a membrane that
        // runs into the image edge apart: the number of regions is unchanged.
        assert_eq!(label_regions(&thinned).1, label_regions(&cell).1, "slice {slice}");
        // The borders are as thin as they get: a second pass changes nothing.
        assert!(thin_membranes(&thinned) == thinned, "slice {slice}: a second pass changed the membranes");
    }
}
