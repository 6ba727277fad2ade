//! Cell label images as TIFF: one page per label image, 16-bit when every page has
//! at most 65535 cells, else 32-bit (unsigned) on every page, so that a stack opens
//! in Fiji as one stack of one type. Uncompressed, in strips; BigTIFF when the
//! samples would pass classic TIFF's 4 GiB.

use std::io::{Cursor, Seek, Write};

use tiff::encoder::{colortype, TiffEncoder, TiffKind};

use crate::cells::Cells;
use crate::error::{Error, Result};
use crate::raster::Raster;

/// One page of labels (0 = no cell) at the depth it needs.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelPlane {
    /// At most 65535 cells.
    U16(Raster<u16>),
    /// More cells than 16 bits hold.
    U32(Raster<u32>),
}

impl LabelPlane {
    /// The labels of `cells`, in 16 bits when they fit.
    pub fn of(cells: &Cells) -> Self {
        if cells.count() <= usize::from(u16::MAX) {
            LabelPlane::U16(cells.labels.map(|l| l as u16))
        } else {
            LabelPlane::U32(cells.labels.map(|l| l as u32))
        }
    }

    /// `(width, height)`.
    fn dims(&self) -> (usize, usize) {
        match self {
            LabelPlane::U16(r) => r.dims(),
            LabelPlane::U32(r) => r.dims(),
        }
    }
}

/// The TIFF of `planes`, one page each, in memory (see [`write_label_tiff`]).
pub fn encode_label_tiff(planes: &[LabelPlane]) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    write_label_tiff(&mut out, planes)?;
    Ok(out.into_inner())
}

/// Writes `planes` as a TIFF of one page each to `out`: all 16-bit when every plane
/// is, else all 32-bit. Fails for no plane, an empty or too large one, or an error
/// of `out`.
pub fn write_label_tiff<W: Write + Seek>(out: W, planes: &[LabelPlane]) -> Result<()> {
    if planes.is_empty() {
        return Err(Error::invalid("a label TIFF needs at least one page"));
    }
    let wide = planes.iter().any(|p| matches!(p, LabelPlane::U32(_)));
    let bytes: u64 = planes.iter().map(|p| (p.dims().0 * p.dims().1) as u64 * if wide { 4 } else { 2 }).sum();
    let fail = |e: tiff::TiffError| Error::invalid(format!("cannot write the label TIFF: {e}"));
    // Room for the directories besides the samples.
    if bytes < u64::from(u32::MAX) - (1 << 24) {
        write_pages(&mut TiffEncoder::new(out).map_err(fail)?, planes, wide)
    } else {
        write_pages(&mut TiffEncoder::new_big(out).map_err(fail)?, planes, wide)
    }
}

/// Writes every plane as a page of 32 bits when `wide`, else 16.
fn write_pages<W: Write + Seek, K: TiffKind>(
    encoder: &mut TiffEncoder<W, K>,
    planes: &[LabelPlane],
    wide: bool,
) -> Result<()> {
    for (index, plane) in planes.iter().enumerate() {
        let (width, height) = plane.dims();
        let fail = |e: &dyn std::fmt::Display| {
            Error::invalid(format!("cannot write page {} ({width} x {height}) of the label TIFF: {e}", index + 1))
        };
        let w = u32::try_from(width).map_err(|e| fail(&e))?;
        let h = u32::try_from(height).map_err(|e| fail(&e))?;
        let written = match (plane, wide) {
            (LabelPlane::U16(r), false) => encoder.write_image::<colortype::Gray16>(w, h, r.data()),
            (LabelPlane::U16(r), true) => {
                let wide: Vec<u32> = r.data().iter().map(|&l| u32::from(l)).collect();
                encoder.write_image::<colortype::Gray32>(w, h, &wide)
            }
            (LabelPlane::U32(r), _) => encoder.write_image::<colortype::Gray32>(w, h, r.data()),
        };
        written.map_err(|e| fail(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiff::decoder::{Decoder, DecodingResult};

    fn pages(bytes: &[u8]) -> Vec<DecodingResult> {
        let mut decoder = Decoder::new(Cursor::new(bytes)).unwrap();
        let mut pages = vec![decoder.read_image().unwrap()];
        while decoder.more_images() {
            decoder.next_image().unwrap();
            pages.push(decoder.read_image().unwrap());
        }
        pages
    }

    #[test]
    fn sixteen_bit_pages_stay_sixteen_bit() {
        let a = LabelPlane::U16(Raster::new(3, 1, vec![0, 1, 65535]).unwrap());
        let b = LabelPlane::U16(Raster::new(1, 2, vec![2, 0]).unwrap());
        let decoded = pages(&encode_label_tiff(&[a, b]).unwrap());
        assert!(matches!(&decoded[..], [DecodingResult::U16(a), DecodingResult::U16(b)]
            if a == &[0, 1, 65535] && b == &[2, 0]));
    }

    #[test]
    fn one_wide_page_makes_every_page_32_bit() {
        let a = LabelPlane::U16(Raster::new(2, 1, vec![5, 0]).unwrap());
        let b = LabelPlane::U32(Raster::new(2, 1, vec![70_000, 1]).unwrap());
        let decoded = pages(&encode_label_tiff(&[a, b]).unwrap());
        assert!(matches!(&decoded[..], [DecodingResult::U32(a), DecodingResult::U32(b)]
            if a == &[5, 0] && b == &[70_000, 1]));
    }

    #[test]
    fn no_page_is_an_error() {
        assert!(encode_label_tiff(&[]).is_err());
    }
}
