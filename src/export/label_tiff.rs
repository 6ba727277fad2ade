//! Cell label images as TIFF: one page per label image, 16-bit when every page has
//! at most 65535 cells, else 32-bit (unsigned) on every page, so that a stack opens
//! in Fiji as one stack of one type. Uncompressed, in strips; BigTIFF when the
//! samples would pass classic TIFF's 4 GiB.

use std::io::{Cursor, Seek, Write};

use tiff::encoder::{colortype, ImageEncoder, TiffEncoder, TiffKind};

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
    /// Whether `count` cells' labels fit 16 bits (at most 65535 cells).
    pub fn fits_u16(count: usize) -> bool {
        count <= usize::from(u16::MAX)
    }

    /// The labels of `cells`, in 16 bits when they fit.
    pub fn of(cells: &Cells) -> Self {
        if Self::fits_u16(cells.count()) {
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
    let pixels: u64 = planes.iter().map(|p| (p.dims().0 * p.dims().1) as u64).sum();
    let pages = planes.iter().map(|plane| {
        let (width, height) = plane.dims();
        let row = move |y: usize, out: &mut [u32]| match plane {
            LabelPlane::U16(r) => out.iter_mut().zip(r.row(y)).for_each(|(o, &l)| *o = u32::from(l)),
            LabelPlane::U32(r) => out.copy_from_slice(r.row(y)),
        };
        (width, height, row)
    });
    write_pages(out, pages, pixels, wide)
}

/// Writes one 32-bit page of `width x height` labels to `out`, asking `row(y, out)`
/// for each row in turn (top to bottom) to fill `out` with it: no label image need
/// exist whole. The bytes are those of [`write_label_tiff`] for the same labels as
/// a [`LabelPlane::U32`].
pub fn write_label_tiff_rows<W: Write + Seek>(
    out: W,
    width: usize,
    height: usize,
    row: impl FnMut(usize, &mut [u32]),
) -> Result<()> {
    write_pages(out, std::iter::once((width, height, row)), (width * height) as u64, true)
}

/// Writes pages `(width, height, row)` of `pixels` pixels in all, 32 bits a label when
/// `wide`, else 16 (labels must then fit), each row asked of its `row`.
fn write_pages<W: Write + Seek, R: FnMut(usize, &mut [u32])>(
    out: W,
    pages: impl IntoIterator<Item = (usize, usize, R)>,
    pixels: u64,
    wide: bool,
) -> Result<()> {
    let fail = |e: tiff::TiffError| Error::invalid(format!("cannot write the label TIFF: {e}"));
    // Room for the directories besides the samples.
    if pixels * if wide { 4 } else { 2 } < u64::from(u32::MAX) - (1 << 24) {
        write_each(TiffEncoder::new(out).map_err(fail)?, pages, wide)
    } else {
        write_each(TiffEncoder::new_big(out).map_err(fail)?, pages, wide)
    }
}

/// Writes every page of `pages` with `encoder`.
fn write_each<W: Write + Seek, K: TiffKind, R: FnMut(usize, &mut [u32])>(
    mut encoder: TiffEncoder<W, K>,
    pages: impl IntoIterator<Item = (usize, usize, R)>,
    wide: bool,
) -> Result<()> {
    pages.into_iter().enumerate().try_for_each(|(index, page)| write_page(&mut encoder, index, page, wide))
}

/// Writes page `index` (0-based) of `width x height` labels, strip by strip.
fn write_page<W: Write + Seek, K: TiffKind>(
    encoder: &mut TiffEncoder<W, K>,
    index: usize,
    (width, height, row): (usize, usize, impl FnMut(usize, &mut [u32])),
    wide: bool,
) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::invalid(format!("cannot write page {} ({width} x {height}) of the label TIFF: {e}", index + 1))
    };
    let w = u32::try_from(width).map_err(|e| fail(&e))?;
    let h = u32::try_from(height).map_err(|e| fail(&e))?;
    let written = if wide {
        write_strips(encoder.new_image::<colortype::Gray32>(w, h), width, row, |l| l)
    } else {
        write_strips(encoder.new_image::<colortype::Gray16>(w, h), width, row, |l| l as u16)
    };
    written.map_err(|e| fail(&e))
}

/// Fills and writes the strips of `image`, rows of `width` labels from `row`, each
/// label stored as `sample(label)`.
fn write_strips<W: Write + Seek, K: TiffKind, C: colortype::ColorType>(
    image: tiff::TiffResult<ImageEncoder<'_, W, C, K>>,
    width: usize,
    mut row: impl FnMut(usize, &mut [u32]),
    sample: impl Fn(u32) -> C::Inner,
) -> tiff::TiffResult<()>
where
    [C::Inner]: tiff::encoder::TiffValue,
{
    let mut image = image?;
    let (mut labels, mut strip, mut y) = (vec![0u32; width], Vec::new(), 0);
    while image.next_strip_sample_count() > 0 {
        strip.clear();
        for _ in 0..image.next_strip_sample_count() as usize / width.max(1) {
            row(y, &mut labels);
            strip.extend(labels.iter().map(|&l| sample(l)));
            y += 1;
        }
        image.write_strip(&strip)?;
    }
    image.finish()
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
    fn a_page_written_row_by_row_is_the_wide_page_written_whole() {
        let labels = Raster::from_fn(37, 900, |x, y| (x * 70_001 + y) as u32);
        let mut out = Cursor::new(Vec::new());
        write_label_tiff_rows(&mut out, 37, 900, |y, row| row.copy_from_slice(labels.row(y))).unwrap();
        assert_eq!(out.into_inner(), encode_label_tiff(&[LabelPlane::U32(labels.clone())]).unwrap());
        assert!(matches!(&pages(&encode_label_tiff(&[LabelPlane::U32(labels.clone())]).unwrap())[..],
            [DecodingResult::U32(v)] if v == labels.data()));
    }

    #[test]
    fn no_page_is_an_error() {
        assert!(encode_label_tiff(&[]).is_err());
    }
}
