//! Decoding PNG, JPEG and TIFF bytes into grayscale pages.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader};
use tiff::decoder::{Decoder as TiffDecoder, DecodingResult, Limits as TiffLimits};
use tiff::ColorType as TiffColor;

use super::GrayImage;
use crate::error::{Error, Result};
use crate::raster::Raster;

/// Largest page accepted natively, in pixels (2^28, e.g. 16384 x 16384). Larger
/// headers are refused before any pixel buffer is allocated, so a small
/// file claiming a huge image (a "decompression bomb") fails with a clear
/// error instead of exhausting memory.
pub const MAX_PIXELS_PER_PAGE: u64 = 1 << 28;

/// The largest page a caller takes, and what its refusal adds to the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimit {
    /// Most pixels per page (at most [`MAX_PIXELS_PER_PAGE`]).
    pub max_pixels: u64,
    /// Appended to the refusal: why the limit is there, what to do instead.
    pub advice: &'static str,
}

impl Default for PageLimit {
    /// [`MAX_PIXELS_PER_PAGE`], with no advice.
    fn default() -> Self {
        Self { max_pixels: MAX_PIXELS_PER_PAGE, advice: "" }
    }
}

/// Largest total over all pages of one file, in pixels (2^30).
const MAX_PIXELS_PER_FILE: u64 = 1 << 30;

/// Bytes per pixel that a decoder may need at most (RGBA, 16 bits a sample).
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// Decodes every page of a PNG, JPEG or TIFF held in `bytes`; `name` is only
/// used in error messages.
///
/// The format is recognised from the file signature, not the name. PNG and
/// JPEG give one page; TIFF gives all pages in file order (a multi-page stack
/// such as ISBI's `train-volume.tif` becomes one page per slice). Samples of
/// 8 and 16 bits are kept as [`GrayImage::U8`] / [`GrayImage::U16`]; PNGs of
/// 1, 2 or 4 bits and palette PNGs are expanded to 8 bits. Colour becomes gray
/// with the ITU-R BT.601 luma weights used by OpenCV's and PIL's RGB-to-gray,
/// `Y = 0.299 R + 0.587 G + 0.114 B`, computed in fixed point
/// (`(19595 R + 38470 G + 7471 B + 32768) >> 16`); an alpha channel is
/// ignored (no compositing). Empty, truncated, corrupt or unsupported input
/// (other formats, TIFF with float/signed/1-bit samples or planar colour)
/// and pages over [`MAX_PIXELS_PER_PAGE`] give [`Error::File`] naming `name`.
pub fn decode_pages(bytes: &[u8], name: &str) -> Result<Vec<GrayImage>> {
    decode_pages_within(bytes, name, &PageLimit::default())
}

/// [`decode_pages`] with a page limit of the caller's (the web page's is smaller):
/// a page over `limit` is refused, naming the file and the page, before its pixels
/// are decoded.
pub fn decode_pages_within(bytes: &[u8], name: &str, limit: &PageLimit) -> Result<Vec<GrayImage>> {
    if bytes.is_empty() {
        return Err(Error::file(name, "the file is empty"));
    }
    let format = image::guess_format(bytes)
        .map_err(|_| Error::file(name, "not a PNG, JPEG or TIFF file (unrecognised signature)"))?;
    let pages = match format {
        ImageFormat::Tiff => decode_tiff(bytes, limit),
        ImageFormat::Png | ImageFormat::Jpeg => decode_single(bytes, format, limit).map(|page| vec![page]),
        other => Err(format!("unsupported image format {other:?} (expected PNG, JPEG or TIFF)")),
    };
    pages.map_err(|reason| Error::file(name, reason))
}

/// Refuses pages whose pixel count exceeds `limit`.
fn check_page_size(width: u64, height: u64, limit: &PageLimit) -> std::result::Result<(), String> {
    let pixels = width * height;
    let max = limit.max_pixels.min(MAX_PIXELS_PER_PAGE);
    if pixels > max {
        let megapixels = |n: u64| n as f64 / 1e6;
        return Err(format!(
            "the image is {width} x {height} pixels ({:.1} megapixels), which exceeds the limit of {max} pixels \
             ({:.1} megapixels) per page{}",
            megapixels(pixels),
            megapixels(max),
            limit.advice
        ));
    }
    Ok(())
}

/// Decodes a single-page PNG or JPEG through the `image` crate.
fn decode_single(bytes: &[u8], format: ImageFormat, limit: &PageLimit) -> std::result::Result<GrayImage, String> {
    let label = if format == ImageFormat::Png { "PNG" } else { "JPEG" };
    let fail = |e: image::ImageError| format!("cannot decode as {label}: {e}");
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(fail)?;
    check_page_size(u64::from(width), u64::from(height), limit)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS_PER_PAGE * MAX_BYTES_PER_PIXEL);
    reader.limits(limits);
    let decoded = reader.decode().map_err(fail)?;
    dynamic_to_gray(decoded)
}

/// Converts any 8/16-bit `image` buffer to one gray page.
fn dynamic_to_gray(img: DynamicImage) -> std::result::Result<GrayImage, String> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raster8 = |data: Vec<u8>| Raster::new(w, h, data).map(GrayImage::U8).map_err(|e| e.to_string());
    let raster16 = |data: Vec<u16>| Raster::new(w, h, data).map(GrayImage::U16).map_err(|e| e.to_string());
    match img {
        DynamicImage::ImageLuma8(b) => raster8(b.into_raw()),
        DynamicImage::ImageLumaA8(b) => raster8(first_of_each(b.as_raw(), 2)),
        DynamicImage::ImageRgb8(b) => raster8(luma_u8(b.as_raw(), 3)),
        DynamicImage::ImageRgba8(b) => raster8(luma_u8(b.as_raw(), 4)),
        DynamicImage::ImageLuma16(b) => raster16(b.into_raw()),
        DynamicImage::ImageLumaA16(b) => raster16(first_of_each(b.as_raw(), 2)),
        DynamicImage::ImageRgb16(b) => raster16(luma_u16(b.as_raw(), 3)),
        DynamicImage::ImageRgba16(b) => raster16(luma_u16(b.as_raw(), 4)),
        other => Err(format!("unsupported pixel type {:?}", other.color())),
    }
}

/// The first sample of every `stride`-sample pixel (gray of gray+alpha).
fn first_of_each<T: Copy>(samples: &[T], stride: usize) -> Vec<T> {
    samples.chunks_exact(stride).map(|px| px[0]).collect()
}

/// BT.601 luma of interleaved 8-bit RGB(A) pixels (`stride` 3 or 4).
fn luma_u8(samples: &[u8], stride: usize) -> Vec<u8> {
    samples
        .chunks_exact(stride)
        .map(|px| {
            let y = 19595 * u32::from(px[0]) + 38470 * u32::from(px[1]) + 7471 * u32::from(px[2]);
            ((y + 32768) >> 16) as u8
        })
        .collect()
}

/// BT.601 luma of interleaved 16-bit RGB(A) pixels (`stride` 3 or 4).
fn luma_u16(samples: &[u16], stride: usize) -> Vec<u16> {
    samples
        .chunks_exact(stride)
        .map(|px| {
            let y = 19595 * u64::from(px[0]) + 38470 * u64::from(px[1]) + 7471 * u64::from(px[2]);
            ((y + 32768) >> 16) as u16
        })
        .collect()
}

/// Decodes every page of a TIFF with the `tiff` crate.
fn decode_tiff(bytes: &[u8], limit: &PageLimit) -> std::result::Result<Vec<GrayImage>, String> {
    let mut limits = TiffLimits::default();
    limits.decoding_buffer_size = usize::try_from(MAX_PIXELS_PER_PAGE * MAX_BYTES_PER_PIXEL).unwrap_or(usize::MAX);
    let mut decoder =
        TiffDecoder::new(Cursor::new(bytes)).map_err(|e| format!("cannot decode as TIFF: {e}"))?.with_limits(limits);
    let mut pages = Vec::new();
    let mut total_pixels = 0u64;
    loop {
        let index = pages.len();
        let page =
            tiff_page(&mut decoder, &mut total_pixels, limit).map_err(|e| format!("TIFF page {}: {e}", index + 1))?;
        pages.push(page);
        if !decoder.more_images() {
            return Ok(pages);
        }
        decoder.next_image().map_err(|e| format!("TIFF page {}: {e}", index + 2))?;
    }
}

/// Decodes the decoder's current TIFF page, adding its size to `total_pixels`.
fn tiff_page(
    decoder: &mut TiffDecoder<Cursor<&[u8]>>,
    total_pixels: &mut u64,
    limit: &PageLimit,
) -> std::result::Result<GrayImage, String> {
    let (width, height) = decoder.dimensions().map_err(|e| e.to_string())?;
    let (w, h) = (u64::from(width), u64::from(height));
    check_page_size(w, h, limit)?;
    *total_pixels += w * h;
    if *total_pixels > MAX_PIXELS_PER_FILE {
        return Err(format!("the pages add up to more than {MAX_PIXELS_PER_FILE} pixels"));
    }
    let color = decoder.colortype().map_err(|e| e.to_string())?;
    // (samples per pixel, bits per sample, whether the first three samples are R, G, B)
    let (samples, bits, rgb) = match color {
        TiffColor::Gray(b) => (1, b, false),
        TiffColor::GrayA(b) => (2, b, false),
        TiffColor::RGB(b) => (3, b, true),
        TiffColor::RGBA(b) => (4, b, true),
        TiffColor::Multiband { bit_depth, num_samples } if num_samples >= 1 => {
            (usize::from(num_samples), bit_depth, false)
        }
        other => return Err(format!("unsupported colour type {other:?}")),
    };
    let decoded = decoder.read_image().map_err(|e| e.to_string())?;
    let (w, h) = (width as usize, height as usize);
    let expected = w * h * samples;
    let unsupported_samples = || format!("unsupported sample type for {color:?} (only unsigned 8 or 16 bits)");
    let wrong_length = |len: usize| {
        format!("decoded {len} samples, expected {expected} ({w}x{h}x{samples}); planar colour TIFF is not supported")
    };
    let page = match (decoded, bits) {
        (DecodingResult::U8(data), 8) => {
            if data.len() != expected {
                return Err(wrong_length(data.len()));
            }
            GrayImage::U8(Raster::new(w, h, tiff_gray(&data, samples, rgb, luma_u8)).map_err(|e| e.to_string())?)
        }
        (DecodingResult::U16(data), 16) => {
            if data.len() != expected {
                return Err(wrong_length(data.len()));
            }
            GrayImage::U16(Raster::new(w, h, tiff_gray(&data, samples, rgb, luma_u16)).map_err(|e| e.to_string())?)
        }
        _ => return Err(unsupported_samples()),
    };
    Ok(page)
}

/// Gray from interleaved TIFF samples: BT.601 luma for RGB(A), otherwise the
/// first sample (gray, gray+alpha, or gray with extra samples).
fn tiff_gray<T: Copy>(data: &[T], samples: usize, rgb: bool, luma: fn(&[T], usize) -> Vec<T>) -> Vec<T> {
    if rgb {
        luma(data, samples)
    } else {
        first_of_each(data, samples)
    }
}
