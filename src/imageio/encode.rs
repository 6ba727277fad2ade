//! PNG encoding into memory (usable in the browser as well as natively).

use crate::error::{Error, Result};
use crate::raster::{GrayU8, Raster};

/// Encodes raw samples (16-bit ones big-endian, as PNG stores them).
fn encode_png(
    width: usize,
    height: usize,
    color: png::ColorType,
    depth: png::BitDepth,
    bytes: &[u8],
) -> Result<Vec<u8>> {
    let dims_error =
        || Error::invalid(format!("cannot encode a {width}x{height} image as PNG (needs 1..=2^31-1 pixels a side)"));
    if width == 0 || height == 0 {
        return Err(dims_error());
    }
    let w = u32::try_from(width).map_err(|_| dims_error())?;
    let h = u32::try_from(height).map_err(|_| dims_error())?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(color);
    encoder.set_depth(depth);
    let fail = |e: png::EncodingError| Error::invalid(format!("PNG encoding failed: {e}"));
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(bytes).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// 8-bit grayscale PNG of `image`. Fails only for an empty (0-pixel-wide or
/// high) image, which PNG cannot represent.
pub fn encode_png_u8(image: &GrayU8) -> Result<Vec<u8>> {
    encode_png(image.width(), image.height(), png::ColorType::Grayscale, png::BitDepth::Eight, image.data())
}

/// 16-bit grayscale PNG of `image` (e.g. cell label images). Fails only for
/// an empty image.
pub fn encode_png_u16(image: &Raster<u16>) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = image.data().iter().flat_map(|v| v.to_be_bytes()).collect();
    encode_png(image.width(), image.height(), png::ColorType::Grayscale, png::BitDepth::Sixteen, &bytes)
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
    encode_png(width, height, png::ColorType::Rgb, png::BitDepth::Eight, rgb)
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
    fn empty_and_mismatched_inputs_are_errors() {
        assert!(encode_png_u8(&Raster::filled(0, 3, 0u8)).is_err());
        assert!(encode_png_rgb(2, 2, &[0; 11]).is_err());
    }
}
