//! Cell outlines as an ImageJ ROI set: a ZIP of `.roi` files (ImageJ's binary ROI
//! format), one per cell, that Fiji's ROI Manager opens (drag the file onto Fiji, or
//! ROI Manager > More > Open...).
//!
//! Entries are named by cell label, zero-padded to four digits or to the width of
//! the largest label (`0001.roi`, `0002.roi`, ...), and carry the same name inside.
//! A cell without holes is a *traced* polygon ROI (ImageJ's type 8, what its wand
//! tool makes) on the pixel corners of its outer boundary ([`super::outline`]), in
//! integer coordinates: ImageJ fills it to exactly the cell's pixels. A cell with
//! holes is a *composite* ROI (ImageJ's `ShapeRoi`, the form ImageJ itself gives a
//! selection with holes): its outer boundary and each hole as closed sub-paths, which
//! ImageJ fills by the even-odd rule, so again exactly the cell's pixels, holes left
//! out. A polygon of more than 65535 corners, or one reaching past coordinate 60535
//! (beyond what the format's 16-bit coordinates hold), is written as a composite ROI
//! too, as ImageJ does; its float coordinates are exact up to 2^24 (its header's
//! 16-bit bounds are capped at 60535: ImageJ takes a composite's bounds from its path).
//!
//! The layout (from ImageJ's `RoiDecoder`): a 64-byte big-endian header (`Iout`,
//! version, type, bounds, coordinate count, composite size, options, position, the
//! offset of a second header), the coordinates, a 64-byte second header (channel,
//! slice and frame positions, the name's offset and length) and the name in UTF-16.

use super::outline::Outline;
use super::zip::ZipWriter;

/// The format version written: 228 (ImageJ 1.52t), read by every ImageJ since.
const VERSION: u16 = 228;
/// ImageJ's ROI type of a traced polygon.
const TRACED: u8 = 8;
/// ImageJ's ROI type byte of a composite ROI (`rect`, with a composite size > 0).
const COMPOSITE: u8 = 1;
/// The size of each of the two headers.
const HEADER: usize = 64;
/// The largest coordinate that ImageJ reads back from the format's 16-bit fields:
/// it reads a field as signed, and as unsigned when that is below -5000.
const MAX_SHORT_COORDINATE: u32 = 65535 - 5000;
/// The most corners of a polygon ROI (its count is 16-bit).
const MAX_POLYGON_CORNERS: usize = 65535;
/// Path segment types of a composite ROI (Java's `PathIterator`).
const MOVE_TO: f32 = 0.0;
/// See [`MOVE_TO`].
const LINE_TO: f32 = 1.0;
/// See [`MOVE_TO`].
const CLOSE: f32 = 4.0;

/// The `.roi` file of a cell with outline `outline`, named `name`.
pub fn encode_roi(name: &str, outline: &Outline) -> Vec<u8> {
    let (x0, y0, x1, y1) = outline.bounds();
    let fits_polygon =
        outline.holes.is_empty() && outline.outer.len() <= MAX_POLYGON_CORNERS && x1.max(y1) <= MAX_SHORT_COORDINATE;
    let mut out = vec![0u8; HEADER];
    out[..4].copy_from_slice(b"Iout");
    put16_at(&mut out, 4, VERSION);
    let short = |v: u32| v.min(MAX_SHORT_COORDINATE) as u16;
    put16_at(&mut out, 8, short(y0));
    put16_at(&mut out, 10, short(x0));
    put16_at(&mut out, 12, short(y1));
    put16_at(&mut out, 14, short(x1));
    if fits_polygon {
        out[6] = TRACED;
        put16_at(&mut out, 16, outline.outer.len() as u16);
        // x coordinates relative to the left edge, then y relative to the top.
        for &(x, _) in &outline.outer {
            out.extend_from_slice(&((x - x0) as u16).to_be_bytes());
        }
        for &(_, y) in &outline.outer {
            out.extend_from_slice(&((y - y0) as u16).to_be_bytes());
        }
    } else {
        out[6] = COMPOSITE;
        let path = composite_path(outline);
        put32_at(&mut out, 36, path.len() as u32);
        for v in path {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    // The second header, then the name.
    let header2 = out.len();
    put32_at(&mut out, 60, header2 as u32);
    out.resize(header2 + HEADER, 0);
    let name: Vec<u16> = name.encode_utf16().collect();
    put32_at(&mut out, header2 + 16, (header2 + HEADER) as u32);
    put32_at(&mut out, header2 + 20, name.len() as u32);
    for c in name {
        out.extend_from_slice(&c.to_be_bytes());
    }
    out
}

/// The rings of `outline` as a composite ROI's path: for each, a move to its first
/// corner, lines to the others, and a close.
fn composite_path(outline: &Outline) -> Vec<f32> {
    let mut path = Vec::new();
    for ring in std::iter::once(&outline.outer).chain(&outline.holes) {
        for (i, &(x, y)) in ring.iter().enumerate() {
            path.extend([if i == 0 { MOVE_TO } else { LINE_TO }, x as f32, y as f32]);
        }
        path.push(CLOSE);
    }
    path
}

/// The name of the ROI of cell `label` among `count` cells: the label zero-padded to
/// four digits, or to as many as `count` has.
pub fn roi_name(label: usize, count: usize) -> String {
    let width = count.to_string().len().max(4);
    format!("{label:0width$}")
}

/// The ROI set (`RoiSet.zip`) of cells whose outlines are `outlines` (entry `k` is
/// label `k + 1`'s): one `<name>.roi` entry per cell, in label order. Fails only
/// when the archive would exceed what a ZIP entry can start at (4 GiB).
pub fn roi_set(outlines: &[Outline]) -> crate::Result<Vec<u8>> {
    roi_set_of(outlines.len(), |k| outlines[k].clone())
}

/// [`roi_set`] of `count` cells whose outlines `outline(k)` gives (label `k + 1`'s),
/// each asked for, encoded and dropped in turn: no list of outlines is held.
pub fn roi_set_of(count: usize, mut outline: impl FnMut(usize) -> Outline) -> crate::Result<Vec<u8>> {
    let mut zip = ZipWriter::new();
    for k in 0..count {
        let name = roi_name(k + 1, count);
        zip.add(&format!("{name}.roi"), &encode_roi(&name, &outline(k)))?;
    }
    Ok(zip.finish())
}

/// Writes `v` big-endian at `at`.
fn put16_at(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes `v` big-endian at `at`.
fn put32_at(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::outline::Corner;

    /// The corners of a polygon ROI written by [`encode_roi`], in absolute coordinates
    /// (what ImageJ's decoder reads back).
    fn polygon_corners(roi: &[u8]) -> Vec<Corner> {
        let at16 = |at: usize| u32::from(u16::from_be_bytes([roi[at], roi[at + 1]]));
        let (top, left, n) = (at16(8), at16(10), at16(16) as usize);
        (0..n).map(|i| (left + at16(64 + 2 * i), top + at16(64 + 2 * n + 2 * i))).collect()
    }

    fn square() -> Outline {
        Outline { outer: vec![(2, 3), (5, 3), (5, 7), (2, 7)], holes: vec![] }
    }

    #[test]
    fn a_cell_without_holes_is_a_traced_polygon_named_in_its_second_header() {
        let roi = encode_roi("0007", &square());
        assert_eq!(&roi[..4], b"Iout");
        assert_eq!((u16::from_be_bytes([roi[4], roi[5]]), roi[6]), (228, TRACED));
        assert_eq!(&roi[8..18], &[0, 3, 0, 2, 0, 7, 0, 5, 0, 4], "top, left, bottom, right, n");
        assert_eq!(polygon_corners(&roi), square().outer);
        let header2 = u32::from_be_bytes(roi[60..64].try_into().unwrap()) as usize;
        assert_eq!(header2, 64 + 4 * 4);
        let name_at = u32::from_be_bytes(roi[header2 + 16..header2 + 20].try_into().unwrap()) as usize;
        assert_eq!(u32::from_be_bytes(roi[header2 + 20..header2 + 24].try_into().unwrap()), 4);
        assert_eq!(&roi[name_at..], &[0, b'0', 0, b'0', 0, b'0', 0, b'7']);
    }

    #[test]
    fn a_cell_with_a_hole_is_a_composite_of_closed_sub_paths() {
        let ring =
            Outline { outer: vec![(0, 0), (3, 0), (3, 3), (0, 3)], holes: vec![vec![(1, 2), (2, 2), (2, 1), (1, 1)]] };
        let roi = encode_roi("0001", &ring);
        assert_eq!(roi[6], COMPOSITE);
        assert_eq!(&roi[16..18], &[0, 0], "no polygon coordinates");
        let floats = u32::from_be_bytes(roi[36..40].try_into().unwrap()) as usize;
        assert_eq!(floats, 2 * (4 * 3 + 1));
        let path: Vec<f32> =
            (0..floats).map(|i| f32::from_be_bytes(roi[64 + 4 * i..68 + 4 * i].try_into().unwrap())).collect();
        assert_eq!(&path[..13], &[0., 0., 0., 1., 3., 0., 1., 3., 3., 1., 0., 3., 4.]);
        assert_eq!(&path[13..16], &[0., 1., 2.]);
    }

    #[test]
    fn far_or_long_polygons_become_composites() {
        let far = Outline { outer: vec![(60_000, 0), (60_536, 0), (60_536, 1), (60_000, 1)], holes: vec![] };
        assert_eq!(encode_roi("1", &far)[6], COMPOSITE);
        let near = Outline { outer: vec![(60_000, 0), (60_535, 0), (60_535, 1), (60_000, 1)], holes: vec![] };
        assert_eq!(encode_roi("1", &near)[6], TRACED);
        assert_eq!(polygon_corners(&encode_roi("1", &near)), near.outer);
        let stairs: Vec<Corner> = (0..40_000u32).flat_map(|i| [(i, i), (i + 1, i)]).collect();
        assert_eq!(encode_roi("1", &Outline { outer: stairs, holes: vec![] })[6], COMPOSITE);
    }

    #[test]
    fn names_are_zero_padded_to_four_digits_or_the_count_s_width() {
        assert_eq!(roi_name(7, 12), "0007");
        assert_eq!(roi_name(7, 123_456), "000007");
        assert_eq!(roi_name(123_456, 123_456), "123456");
    }
}
