//! ImageJ ROI sets of cell outlines (`RoiSet.zip`), checked three ways:
//! - against what an independent reader, Python's `roifile` (and `zipfile`), read from
//!   the ROI sets unetseg wrote for the label images in tests/fixtures/export
//!   (`roisets.json`, made by make_fixture.py): the same entries, names, types and
//!   coordinates, and the same bytes as the sets it read;
//! - by filling every ROI that roifile read, by the even-odd rule at pixel centres,
//!   as ImageJ fills a selection: each covers exactly its cell's pixels;
//! - the same fill on the ROI sets of random segmentations, read back here.

use proptest::prelude::*;
use serde_json::Value;
use unetseg::cells::Cells;
use unetseg::export::outline::outlines;
use unetseg::export::roi::roi_set;
use unetseg::imageio::{read_pages, GrayImage};
use unetseg::{GrayU8, Labels};

use crate::support::repo;

/// The label images of the fixture, by the name of their ROI set.
const FIXTURES: [&str; 2] = ["labels", "labels_wide"];

/// The label image `tests/fixtures/export/<name>.tif` (16-bit).
fn fixture_labels(name: &str) -> Labels {
    let path = repo("tests/fixtures/export").join(format!("{name}.tif"));
    let Ok([GrayImage::U16(labels)]) = <[GrayImage; 1]>::try_from(read_pages(&path).unwrap()) else {
        panic!("{} is not one 16-bit page", path.display())
    };
    labels.map(i32::from)
}

/// The ROI set that unetseg writes for `labels`.
fn roi_set_of(labels: &Labels) -> Vec<u8> {
    roi_set(&outlines(labels)).unwrap()
}

/// One ROI as read back: its ImageJ type and its rings of absolute corner coordinates.
#[derive(Debug)]
struct Roi {
    name: String,
    kind: u8,
    rings: Vec<Vec<(f64, f64)>>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// A coordinate field as ImageJ reads it: signed, but unsigned below -5000.
fn imagej_short(b: &[u8], at: usize) -> f64 {
    let signed = be16(b, at) as i16;
    f64::from(if signed < -5000 { i32::from(be16(b, at)) } else { i32::from(signed) })
}

/// Reads one `.roi` file: a polygon's corners, or a composite's closed sub-paths.
fn read_roi(roi: &[u8]) -> Roi {
    assert_eq!(&roi[..4], b"Iout");
    let kind = roi[6];
    let composite_size = be32(roi, 36) as usize;
    let rings = if composite_size > 0 {
        let path: Vec<f32> = (0..composite_size).map(|i| f32::from_bits(be32(roi, 64 + 4 * i))).collect();
        let (mut rings, mut at) = (Vec::new(), 0);
        while at < path.len() {
            match path[at] as u8 {
                0 => {
                    rings.push(vec![(f64::from(path[at + 1]), f64::from(path[at + 2]))]);
                    at += 3;
                }
                1 => {
                    rings.last_mut().unwrap().push((f64::from(path[at + 1]), f64::from(path[at + 2])));
                    at += 3;
                }
                4 => at += 1,
                other => panic!("unexpected path segment {other}"),
            }
        }
        rings
    } else {
        let (top, left, n) = (imagej_short(roi, 8), imagej_short(roi, 10), be16(roi, 16) as usize);
        vec![(0..n)
            .map(|i| (left + imagej_short(roi, 64 + 2 * i), top + imagej_short(roi, 64 + 2 * (n + i))))
            .collect()]
    };
    let header2 = be32(roi, 60) as usize;
    let (name_at, name_len) = (be32(roi, header2 + 16) as usize, be32(roi, header2 + 20) as usize);
    let name = String::from_utf16((0..name_len).map(|i| be16(roi, name_at + 2 * i)).collect::<Vec<_>>().as_slice());
    Roi { name: name.unwrap(), kind, rings }
}

/// The entries of a ZIP of stored entries, read from their local headers.
fn zip_entries(zip: &[u8]) -> Vec<(String, &[u8])> {
    let le16 = |at: usize| usize::from(u16::from_le_bytes([zip[at], zip[at + 1]]));
    let le32 = |at: usize| u32::from_le_bytes(zip[at..at + 4].try_into().unwrap()) as usize;
    let (mut entries, mut at) = (Vec::new(), 0);
    while le32(at) == 0x0403_4b50 {
        assert_eq!(le16(at + 8), 0, "stored");
        let (size, name_len, extra) = (le32(at + 18), le16(at + 26), le16(at + 28));
        let name = String::from_utf8(zip[at + 30..at + 30 + name_len].to_vec()).unwrap();
        let data_at = at + 30 + name_len + extra;
        entries.push((name, &zip[data_at..data_at + size]));
        at = data_at + size;
    }
    entries
}

/// Whether point `(px, py)` is inside `rings` by the even-odd rule.
fn inside(rings: &[Vec<(f64, f64)>], px: f64, py: f64) -> bool {
    let mut odd = false;
    for ring in rings {
        for (i, &(x0, y0)) in ring.iter().enumerate() {
            let (x1, y1) = ring[(i + 1) % ring.len()];
            if (y0 > py) != (y1 > py) && px < x0 + (py - y0) * (x1 - x0) / (y1 - y0) {
                odd = !odd;
            }
        }
    }
    odd
}

/// Fails unless `rings`, filled at pixel centres, cover exactly the pixels of `label`.
fn assert_fills_exactly(labels: &Labels, label: i32, rings: &[Vec<(f64, f64)>]) {
    for y in 0..labels.height() {
        for x in 0..labels.width() {
            let filled = inside(rings, x as f64 + 0.5, y as f64 + 0.5);
            assert_eq!(filled, labels.get(x, y) == label, "label {label}, pixel ({x}, {y})");
        }
    }
}

/// Checks the ROI set `zip` of `labels`: one entry per label, named by it, each
/// filling exactly its cell.
fn check_roi_set(labels: &Labels, zip: &[u8]) {
    let count = labels.data().iter().copied().max().unwrap_or(0);
    let entries = zip_entries(zip);
    assert_eq!(entries.len(), count as usize);
    for (k, (entry, data)) in entries.iter().enumerate() {
        let roi = read_roi(data);
        assert_eq!(entry, &format!("{}.roi", roi.name));
        assert_eq!(roi.name.parse::<usize>().unwrap(), k + 1);
        assert_fills_exactly(labels, k as i32 + 1, &roi.rings);
    }
}

/// The rings of ROI `roi` of roifile's JSON.
fn json_rings(roi: &Value) -> Vec<Vec<(f64, f64)>> {
    let rings = roi["coordinates"].as_array().unwrap();
    rings
        .iter()
        .map(|ring| {
            let mut ring: Vec<(f64, f64)> =
                ring.as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())).collect();
            // roifile closes a composite's sub-paths by repeating their first point.
            if ring.len() > 1 && ring.first() == ring.last() {
                ring.pop();
            }
            ring
        })
        .collect()
}

#[test]
fn the_roi_sets_are_what_roifile_read_and_fill_exactly_their_cells() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("tests/fixtures/export/roisets.json")).unwrap()).unwrap();
    for name in FIXTURES {
        let labels = fixture_labels(name);
        let zip = roi_set_of(&labels);
        let read = &expected[name];
        let read_bytes = std::fs::read(repo("tests/fixtures/export").join(format!("{name}.RoiSet.zip"))).unwrap();
        assert!(zip == read_bytes, "{name}: the ROI set is not the one roifile read");
        assert_eq!(read["testzip"], Value::Null, "{name}: zipfile found a bad CRC or header");
        let entries: Vec<String> = zip_entries(&zip).into_iter().map(|(entry, _)| entry).collect();
        let names: Vec<&str> = read["entries"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(entries, names, "{name}");
        for (k, roi) in read["rois"].as_array().unwrap().iter().enumerate() {
            let ours = read_roi(zip_entries(&zip)[k].1);
            let label = k as i32 + 1;
            assert_eq!(roi["name"].as_str().unwrap(), ours.name, "{name} {label}");
            assert_eq!(roi["roitype"].as_u64().unwrap(), u64::from(ours.kind), "{name} {label}");
            let rings = json_rings(roi);
            assert_eq!(rings, ours.rings, "{name} {label}: corners");
            assert_fills_exactly(&labels, label, &rings);
        }
    }
}

#[test]
fn a_cell_with_holes_is_a_composite_and_a_plain_cell_a_traced_polygon() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("tests/fixtures/export/roisets.json")).unwrap()).unwrap();
    let rois = expected["labels"]["rois"].as_array().unwrap();
    let types: Vec<&str> = rois.iter().map(|r| r["roitype_name"].as_str().unwrap()).collect();
    let composites = rois.iter().filter(|r| r["composite"].as_bool().unwrap()).count();
    assert!(types.contains(&"TRACED") && types.contains(&"RECT"), "{types:?}");
    assert_eq!(composites, types.iter().filter(|&&t| t == "RECT").count(), "every RECT is a composite");
    let holes = outlines(&fixture_labels("labels")).iter().filter(|o| !o.holes.is_empty()).count();
    assert_eq!(composites, holes);
}

/// Run by make_fixture.py: writes the ROI sets of the fixture's label images, which
/// it then reads with roifile.
#[test]
#[ignore]
fn write_the_roi_sets_for_the_fixture_script() {
    for name in FIXTURES {
        let path = repo("tests/fixtures/export").join(format!("{name}.RoiSet.zip"));
        std::fs::write(path, roi_set_of(&fixture_labels(name))).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_cell_of_a_random_segmentation_is_filled_exactly_by_its_roi(
        (width, height, bits) in (1usize..14, 1usize..12).prop_flat_map(|(w, h)| {
            (Just(w), Just(h), proptest::collection::vec(proptest::bool::weighted(0.6), w * h))
        })
    ) {
        let mask = GrayU8::new(width, height, bits.iter().map(|&b| if b { 255 } else { 0 }).collect()).unwrap();
        let cells = Cells::from_segmentation(&mask);
        check_roi_set(&cells.labels, &roi_set_of(&cells.labels));
    }
}
