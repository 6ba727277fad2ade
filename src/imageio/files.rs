//! Reading and writing image files by path (native builds only).

use std::path::Path;

use super::{decode_pages, encode_png_rgb, encode_png_u16, encode_png_u8, GrayImage};
use crate::error::{Error, Result};
use crate::raster::{GrayU8, Raster};

/// Reads every page of the PNG, JPEG or TIFF at `path` (see [`decode_pages`]).
/// Errors name the file: missing, unreadable, empty, corrupt or unsupported.
pub fn read_pages(path: &Path) -> Result<Vec<GrayImage>> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    decode_pages(&bytes, &path.display().to_string())
}

/// Reads the first page of the image at `path` as 8-bit gray (16-bit data is
/// min-max stretched, see [`GrayImage::to_u8`]). Further pages of a
/// multi-page TIFF are ignored; use [`read_pages`] to get them all.
pub fn read_gray8(path: &Path) -> Result<GrayU8> {
    let pages = read_pages(path)?;
    let first = pages.first().ok_or_else(|| Error::file(path, "the file holds no image"))?;
    Ok(first.to_u8())
}

/// Reads a binary mask (first page, as by [`read_gray8`]): every pixel must
/// be 0 (membrane) or 255 (cell). Otherwise the error names the file and says
/// how many pixels have other values.
pub fn read_mask(path: &Path) -> Result<GrayU8> {
    let mask = read_gray8(path)?;
    let offending = mask.data().iter().filter(|&&v| v != 0 && v != 255).count();
    if offending > 0 {
        return Err(Error::file(
            path,
            format!("not a binary mask: {offending} of {} pixels are neither 0 nor 255", mask.data().len()),
        ));
    }
    Ok(mask)
}

/// Writes `bytes` to `path`, naming the file in any error.
fn write_bytes(path: &Path, bytes: Result<Vec<u8>>) -> Result<()> {
    let bytes = bytes.map_err(|e| Error::file(path, e))?;
    std::fs::write(path, bytes).map_err(|e| Error::file(path, format!("cannot write: {e}")))
}

/// Writes `image` as an 8-bit grayscale PNG.
pub fn write_png_u8(path: &Path, image: &GrayU8) -> Result<()> {
    write_bytes(path, encode_png_u8(image))
}

/// Writes `image` as a 16-bit grayscale PNG.
pub fn write_png_u16(path: &Path, image: &Raster<u16>) -> Result<()> {
    write_bytes(path, encode_png_u16(image))
}

/// Writes interleaved 8-bit RGB samples (`3 * width * height` bytes) as a PNG.
pub fn write_png_rgb(path: &Path, width: usize, height: usize, rgb: &[u8]) -> Result<()> {
    write_bytes(path, encode_png_rgb(width, height, rgb))
}
