//! PNG encoding, into memory or row by row into any writer (usable in the browser
//! as well as natively). Both go through [`PngRows`], so a PNG written row by row is
//! byte for byte the one encoded in memory.

use std::cell::RefCell;
use std::io::Write;
use std::marker::PhantomData;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::raster::{GrayU8, Raster};

/// A sample type that PNG stores: 8-bit or 16-bit (big-endian in the file).
pub trait PngSample: Copy {
    /// The PNG bit depth of this sample type.
    const DEPTH: png::BitDepth;
    /// Appends the sample's bytes as PNG stores them.
    fn put(self, out: &mut Vec<u8>);
}

impl PngSample for u8 {
    const DEPTH: png::BitDepth = png::BitDepth::Eight;
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
}

impl PngSample for u16 {
    const DEPTH: png::BitDepth = png::BitDepth::Sixteen;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

/// The most image data in one PNG chunk: 256 KiB (few writes, little memory).
const CHUNK_BYTES: usize = 1 << 18;

/// A PNG being written row by row, top to bottom, into `W`: only one row is held.
pub struct PngRows<W: Write + 'static, T: PngSample> {
    stream: png::StreamWriter<'static, W>,
    samples_per_row: usize,
    rows_left: usize,
    bytes: Vec<u8>,
    sample: PhantomData<T>,
}

impl<W: Write + 'static, T: PngSample> PngRows<W, T> {
    /// Starts a grayscale PNG of `width x height` pixels: writes its header. Fails for
    /// an empty image (which PNG cannot represent), a side past 2^31 - 1, or an error of `out`.
    pub fn gray(out: W, width: usize, height: usize) -> Result<Self> {
        Self::start(out, width, height, png::ColorType::Grayscale)
    }

    /// Starts a PNG of `color` samples per pixel.
    fn start(out: W, width: usize, height: usize, color: png::ColorType) -> Result<Self> {
        let dims_error = || {
            Error::invalid(format!("cannot encode a {width}x{height} image as PNG (needs 1..=2^31-1 pixels a side)"))
        };
        if width == 0 || height == 0 {
            return Err(dims_error());
        }
        let w = u32::try_from(width).map_err(|_| dims_error())?;
        let h = u32::try_from(height).map_err(|_| dims_error())?;
        let mut encoder = png::Encoder::new(out, w, h);
        encoder.set_color(color);
        encoder.set_depth(T::DEPTH);
        let stream = encoder
            .write_header()
            .and_then(|writer| writer.into_stream_writer_with_size(CHUNK_BYTES))
            .map_err(png_failed)?;
        let samples_per_row = width * color.samples();
        Ok(Self { stream, samples_per_row, rows_left: height, bytes: Vec::new(), sample: PhantomData })
    }

    /// Writes the next row (`width` samples, or `3 x width` for RGB). Fails for a
    /// row of another length, a row past the last, or an error of the writer.
    pub fn write_row(&mut self, row: &[T]) -> Result<()> {
        if row.len() != self.samples_per_row || self.rows_left == 0 {
            return Err(Error::invalid(format!(
                "a PNG row of {} samples does not fit (rows of {}, {} rows left)",
                row.len(),
                self.samples_per_row,
                self.rows_left
            )));
        }
        self.bytes.clear();
        for &v in row {
            v.put(&mut self.bytes);
        }
        self.stream.write_all(&self.bytes).map_err(|e| Error::invalid(format!("PNG encoding failed: {e}")))?;
        self.rows_left -= 1;
        Ok(())
    }

    /// Ends the PNG once every row is written. Fails when rows are missing or the
    /// writer fails.
    pub fn finish(self) -> Result<()> {
        if self.rows_left > 0 {
            return Err(Error::invalid(format!("the PNG ended {} rows short", self.rows_left)));
        }
        self.stream.finish().map_err(png_failed)
    }
}

/// A PNG encoder's error as ours.
fn png_failed(e: png::EncodingError) -> Error {
    Error::invalid(format!("PNG encoding failed: {e}"))
}

/// The PNG of `samples` (row-major, `color` samples per pixel) through [`PngRows`].
fn encode_png<T: PngSample>(width: usize, height: usize, color: png::ColorType, samples: &[T]) -> Result<Vec<u8>> {
    let out = SharedBytes::default();
    let mut rows = PngRows::start(out.clone(), width, height, color)?;
    for row in samples.chunks_exact(rows.samples_per_row) {
        rows.write_row(row)?;
    }
    rows.finish()?;
    Ok(out.0.take())
}

/// Bytes that a [`PngRows`] (which owns its writer) writes and its caller reads.
#[derive(Clone, Default)]
struct SharedBytes(Rc<RefCell<Vec<u8>>>);

impl Write for SharedBytes {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// 8-bit grayscale PNG of `image`. Fails only for an empty (0-pixel-wide or
/// high) image, which PNG cannot represent.
pub fn encode_png_u8(image: &GrayU8) -> Result<Vec<u8>> {
    encode_png(image.width(), image.height(), png::ColorType::Grayscale, image.data())
}

/// 16-bit grayscale PNG of `image` (e.g. cell label images). Fails only for
/// an empty image.
pub fn encode_png_u16(image: &Raster<u16>) -> Result<Vec<u8>> {
    encode_png(image.width(), image.height(), png::ColorType::Grayscale, image.data())
}

/// 8-bit RGB PNG from interleaved `rgb` samples (`3 * width * height` bytes,
/// row-major). Fails for an empty image or a wrong sample count.
pub fn encode_png_rgb(width: usize, height: usize, rgb: &[u8]) -> Result<Vec<u8>> {
    if width.checked_mul(height).and_then(|n| n.checked_mul(3)) != Some(rgb.len()) {
        return Err(Error::invalid(format!(
            "an RGB image of {width}x{height} needs {} bytes, got {}",
            width.saturating_mul(height).saturating_mul(3),
            rgb.len()
        )));
    }
    encode_png(width, height, png::ColorType::Rgb, rgb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imageio::{decode_pages, GrayImage};

    #[test]
    fn u8_round_trip() {
        let img = Raster::from_fn(5, 3, |x, y| (x * 40 + y) as u8);
        let pages = decode_pages(&encode_png_u8(&img).unwrap(), "t.png").unwrap();
        assert_eq!(pages, vec![GrayImage::U8(img)]);
    }

    #[test]
    fn u16_round_trip() {
        let img = Raster::from_fn(4, 2, |x, y| (x * 16000 + y * 7) as u16);
        let pages = decode_pages(&encode_png_u16(&img).unwrap(), "t.png").unwrap();
        assert_eq!(pages, vec![GrayImage::U16(img)]);
    }

    #[test]
    fn rgb_decodes_to_bt601_luma() {
        // Pure red, green, blue, white: Y = 0.299*255, 0.587*255, 0.114*255, 255.
        let rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
        let pages = decode_pages(&encode_png_rgb(2, 2, &rgb).unwrap(), "c.png").unwrap();
        assert_eq!(pages[0].to_u8().data(), &[76, 150, 29, 255]);
    }

    #[test]
    fn a_row_of_another_length_a_row_too_many_and_missing_rows_are_errors() {
        let mut rows = PngRows::<_, u8>::gray(Vec::new(), 3, 1).unwrap();
        assert!(rows.write_row(&[1, 2]).is_err());
        rows.write_row(&[1, 2, 3]).unwrap();
        assert!(rows.write_row(&[1, 2, 3]).is_err());
        rows.finish().unwrap();
        assert!(PngRows::<_, u8>::gray(Vec::new(), 3, 2).unwrap().finish().is_err());
    }

    #[test]
    fn empty_and_mismatched_inputs_are_errors() {
        assert!(encode_png_u8(&Raster::filled(0, 3, 0u8)).is_err());
        assert!(encode_png_rgb(2, 2, &[0; 11]).is_err());
    }
}
