//! Decoding PNG, JPEG and TIFF bytes into grayscale pages.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader};
use tiff::decoder::{Decoder as TiffDecoder, DecodingResult, Limits as TiffLimits};
use tiff::tags::Tag;
use tiff::ColorType as TiffColor;

use super::tiff_pages::{check_compression, is_bigtiff, plan_pages};
use super::{GrayImage, Page};
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
/// 8 and 16 bits are kept as [`GrayImage::U8`] / [`GrayImage::U16`], TIFF's
/// 32-bit float samples as [`GrayImage::F32`] (64-bit floats are narrowed to 32);
/// PNGs of 1, 2 or 4 bits and palette PNGs are expanded to 8 bits. Colour becomes
/// gray with the ITU-R BT.601 luma weights used by OpenCV's and PIL's RGB-to-gray,
/// `Y = 0.299 R + 0.587 G + 0.114 B`, computed in fixed point
/// (`(19595 R + 38470 G + 7471 B + 32768) >> 16`; in floating point for float
/// samples), whether a colour TIFF stores its samples pixel by pixel or in separate
/// planes (planar configuration 2); an alpha channel is ignored (no compositing).
/// Empty, truncated, corrupt or unsupported input (other formats, TIFF with signed
/// or 1-bit samples), float pages with NaN or infinite samples, and pages over
/// [`MAX_PIXELS_PER_PAGE`] give [`Error::File`] naming `name`.
pub fn decode_pages(bytes: &[u8], name: &str) -> Result<Vec<GrayImage>> {
    decode_pages_within(bytes, name, &PageLimit::default())
}

/// [`decode_pages`] with a page limit of the caller's (the web page's is smaller):
/// a page over `limit` is refused, naming the file and the page, before its pixels
/// are decoded.
pub fn decode_pages_within(bytes: &[u8], name: &str, limit: &PageLimit) -> Result<Vec<GrayImage>> {
    Ok(decode_image_file(bytes, name, limit)?.into_iter().map(|page| page.image).collect())
}

/// The pages of a PNG, JPEG or TIFF (see [`decode_pages`]), each with its pixel size
/// when the file gives one, with [`decode_pages_within`]'s page limit.
///
/// TIFF may be classic or BigTIFF, in strips or tiles, uncompressed or compressed
/// with LZW, Deflate, PackBits or JPEG; another compression is refused, naming it.
/// The pages are the file's chain of IFDs: the lower resolutions of a pyramid in
/// SubIFDs are not read, and pages marked as reduced-resolution copies are skipped
/// (see [`super::tiff_pages`]). An OME-TIFF gives the planes of its first image, all
/// with the pixel size of its OME-XML (`PhysicalSizeX` x `PhysicalSizeY`, when both
/// are metric lengths); one of several channels, or planes whose size differs from
/// the OME-XML's, is an error. Other files have no pixel size.
pub fn decode_image_file(bytes: &[u8], name: &str, limit: &PageLimit) -> Result<Vec<Page>> {
    if bytes.is_empty() {
        return Err(Error::file(name, "the file is empty"));
    }
    let format = if is_bigtiff(bytes) {
        ImageFormat::Tiff
    } else {
        image::guess_format(bytes)
            .map_err(|_| Error::file(name, "not a PNG, JPEG or TIFF file (unrecognised signature)"))?
    };
    let pages = match format {
        ImageFormat::Tiff => decode_tiff(bytes, limit),
        ImageFormat::Png | ImageFormat::Jpeg => {
            decode_single(bytes, format, limit).map(|image| vec![Page { image, pixel_size: None }])
        }
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

/// BT.601 luma of one 8-bit RGB pixel, in fixed point.
fn luma8(r: u8, g: u8, b: u8) -> u8 {
    let y = 19595 * u32::from(r) + 38470 * u32::from(g) + 7471 * u32::from(b);
    ((y + 32768) >> 16) as u8
}

/// BT.601 luma of one 16-bit RGB pixel, in fixed point.
fn luma16(r: u16, g: u16, b: u16) -> u16 {
    let y = 19595 * u64::from(r) + 38470 * u64::from(g) + 7471 * u64::from(b);
    ((y + 32768) >> 16) as u16
}

/// BT.601 luma of one float RGB pixel.
fn luma_f32(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// BT.601 luma of interleaved 8-bit RGB(A) pixels (`stride` 3 or 4).
fn luma_u8(samples: &[u8], stride: usize) -> Vec<u8> {
    samples.chunks_exact(stride).map(|px| luma8(px[0], px[1], px[2])).collect()
}

/// BT.601 luma of interleaved 16-bit RGB(A) pixels (`stride` 3 or 4).
fn luma_u16(samples: &[u16], stride: usize) -> Vec<u16> {
    samples.chunks_exact(stride).map(|px| luma16(px[0], px[1], px[2])).collect()
}

/// Decodes the pages of a TIFF that [`plan_pages`] picks, with the `tiff` crate.
fn decode_tiff(bytes: &[u8], limit: &PageLimit) -> std::result::Result<Vec<Page>, String> {
    let mut limits = TiffLimits::default();
    limits.decoding_buffer_size = usize::try_from(MAX_PIXELS_PER_PAGE * MAX_BYTES_PER_PIXEL).unwrap_or(usize::MAX);
    let mut decoder =
        TiffDecoder::new(Cursor::new(bytes)).map_err(|e| format!("cannot decode as TIFF: {e}"))?.with_limits(limits);
    let plan = plan_pages(&mut decoder)?;
    let mut pages = Vec::with_capacity(plan.pages.len());
    let mut total_pixels = 0u64;
    for &index in &plan.pages {
        let page = decoder
            .seek_to_image(index)
            .map_err(|e| e.to_string())
            .and_then(|()| check_compression(&mut decoder))
            .and_then(|()| check_ome_size(&mut decoder, plan.ome_size))
            .and_then(|()| tiff_page(&mut decoder, &mut total_pixels, limit))
            .map_err(|e| format!("TIFF page {}: {e}", index + 1))?;
        pages.push(Page { image: page, pixel_size: plan.pixel_size });
    }
    Ok(pages)
}

/// Fails when the decoder's current page is not the `SizeX` x `SizeY` of the
/// OME-XML (when there is one).
fn check_ome_size(
    decoder: &mut TiffDecoder<Cursor<&[u8]>>,
    ome_size: Option<(u32, u32)>,
) -> std::result::Result<(), String> {
    let size = decoder.dimensions().map_err(|e| e.to_string())?;
    match ome_size {
        Some(ome) if ome != size => Err(format!(
            "the page is {} x {} pixels but the OME-XML says its planes are {} x {}",
            size.0, size.1, ome.0, ome.1
        )),
        _ => Ok(()),
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
    // Planar configuration 2: all the pixels' first samples, then all the second ones...
    let planar = samples > 1
        && decoder.find_tag_unsigned::<u16>(Tag::PlanarConfiguration).map_err(|e| e.to_string())? == Some(2);
    let mut decoded = DecodingResult::U8(Vec::new());
    decoder.read_image_to_buffer(&mut decoded).map_err(|e| e.to_string())?;
    let (w, h) = (width as usize, height as usize);
    let layout = Layout { pixels: w * h, samples, planar, rgb };
    let page = match (decoded, bits) {
        (DecodingResult::U8(data), 8) => GrayImage::U8(raster(w, h, layout.gray(&data, luma8))?),
        (DecodingResult::U16(data), 16) => GrayImage::U16(raster(w, h, layout.gray(&data, luma16))?),
        (DecodingResult::F32(data), 32) => GrayImage::F32(raster(w, h, finite(layout.gray(&data, luma_f32)?, w))?),
        (DecodingResult::F64(data), 64) => {
            let narrowed: Vec<f32> = data.iter().map(|&v| v as f32).collect();
            GrayImage::F32(raster(w, h, finite(layout.gray(&narrowed, luma_f32)?, w))?)
        }
        (other, bits) => {
            return Err(format!(
                "{} samples are not supported (unetseg reads unsigned 8- or 16-bit integer and 32- or 64-bit float \
                 samples)",
                sample_kind(&other, bits)
            ))
        }
    };
    Ok(page)
}

/// What `decoded` holds, in words: `signed 16-bit integer`, `16-bit float`, `1-bit`...
fn sample_kind(decoded: &DecodingResult, bits: u8) -> String {
    match decoded {
        DecodingResult::I8(_) | DecodingResult::I16(_) | DecodingResult::I32(_) | DecodingResult::I64(_) => {
            format!("signed {bits}-bit integer")
        }
        DecodingResult::F16(_) | DecodingResult::F32(_) | DecodingResult::F64(_) => format!("{bits}-bit float"),
        _ if bits < 8 => format!("{bits}-bit"),
        _ => format!("unsigned {bits}-bit integer"),
    }
}

/// A `w` x `h` raster of `gray`, or the error that made it.
fn raster<T: Copy>(
    w: usize,
    h: usize,
    gray: std::result::Result<Vec<T>, String>,
) -> std::result::Result<Raster<T>, String> {
    Raster::new(w, h, gray?).map_err(|e| e.to_string())
}

/// How a TIFF page stores its samples.
struct Layout {
    /// Pixels in the page.
    pixels: usize,
    /// Samples per pixel.
    samples: usize,
    /// Whether the samples lie in separate planes rather than pixel by pixel.
    planar: bool,
    /// Whether the first three samples are R, G and B.
    rgb: bool,
}

impl Layout {
    /// One gray sample per pixel: BT.601 `luma` of R, G, B for colour, else the
    /// first sample (gray, gray+alpha, or gray with extra samples). Fails when the
    /// decoder returned another number of samples.
    fn gray<T: Copy>(&self, data: &[T], luma: fn(T, T, T) -> T) -> std::result::Result<Vec<T>, String> {
        let expected = self.pixels * self.samples;
        if data.len() != expected {
            let kind = if self.planar { "planar (separate planes) colour TIFF: " } else { "" };
            return Err(format!(
                "{kind}decoded {} samples, expected {expected} ({} pixels x {} samples)",
                data.len(),
                self.pixels,
                self.samples
            ));
        }
        let at = |p: usize, k: usize| if self.planar { data[k * self.pixels + p] } else { data[p * self.samples + k] };
        Ok((0..self.pixels).map(|p| if self.rgb { luma(at(p, 0), at(p, 1), at(p, 2)) } else { at(p, 0) }).collect())
    }
}

/// `gray` (rows of `width`) when every sample is a finite number; otherwise an error
/// saying how many are not and where the first is.
fn finite(gray: Vec<f32>, width: usize) -> std::result::Result<Vec<f32>, String> {
    let bad = gray.iter().filter(|v| !v.is_finite()).count();
    if let Some(first) = gray.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "{bad} of {} float samples are NaN or infinite (the first, at x {}, y {}, is {}); only finite values can \
             be scaled to gray: replace them (e.g. by 0) and try again",
            gray.len(),
            first % width.max(1),
            first / width.max(1),
            gray[first]
        ));
    }
    Ok(gray)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiff::encoder::{colortype, TiffEncoder};

    /// An uncompressed little-endian TIFF page of 8-bit samples, one strip per plane;
    /// `samples` per pixel, stored plane after plane when `planar`.
    fn tiff_u8(width: u32, height: u32, samples: u16, planar: bool, data: &[u8]) -> Vec<u8> {
        let planes = if planar { u32::from(samples) } else { 1 };
        let plane_bytes = data.len() as u32 / planes;
        let mut out = b"II*\0".to_vec();
        let data_at = 8u32;
        let bits_at = data_at + data.len() as u32;
        let offsets_at = bits_at + 2 * u32::from(samples);
        let counts_at = offsets_at + 4 * planes;
        let ifd_at = counts_at + 4 * planes;
        out.extend(ifd_at.to_le_bytes());
        out.extend(data);
        (0..samples).for_each(|_| out.extend(8u16.to_le_bytes()));
        (0..planes).for_each(|k| out.extend((data_at + k * plane_bytes).to_le_bytes()));
        (0..planes).for_each(|_| out.extend(plane_bytes.to_le_bytes()));
        let photometric = if samples >= 3 { 2 } else { 1 };
        let array = |count: u32, at: u32| if count > 1 { at } else { 0 };
        let entries: [(u16, u16, u32, u32); 10] = [
            (256, 4, 1, width),
            (257, 4, 1, height),
            (258, 3, u32::from(samples), if samples > 2 { bits_at } else { 8 }),
            (259, 3, 1, 1),
            (262, 3, 1, photometric),
            (273, 4, planes, if planes > 1 { array(planes, offsets_at) } else { data_at }),
            (277, 3, 1, u32::from(samples)),
            (278, 4, 1, height),
            (279, 4, planes, if planes > 1 { array(planes, counts_at) } else { plane_bytes }),
            (284, 3, 1, if planar { 2 } else { 1 }),
        ];
        out.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(count.to_le_bytes());
            out.extend(value.to_le_bytes());
        }
        out.extend(0u32.to_le_bytes());
        out
    }

    fn float_tiff(width: u32, height: u32, data: &[f32]) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        TiffEncoder::new(&mut bytes).unwrap().write_image::<colortype::Gray32Float>(width, height, data).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn float32_tiff_pages_keep_their_values() {
        let data = [-0.05f32, 0.0, 0.125, 1e-3, 7.5, 0.2];
        let pages = decode_pages(&float_tiff(3, 2, &data), "em.tif").unwrap();
        assert_eq!(pages, vec![GrayImage::F32(Raster::new(3, 2, data.to_vec()).unwrap())]);
    }

    #[test]
    fn nan_or_infinite_float_samples_are_refused_naming_the_file_and_the_place() {
        let mut data = vec![0.5f32; 12];
        data[7] = f32::NAN;
        data[9] = f32::INFINITY;
        let message = decode_pages(&float_tiff(4, 3, &data), "nan.tif").unwrap_err().to_string();
        assert!(message.starts_with("nan.tif: TIFF page 1: 2 of 12 float samples are NaN or infinite"), "{message}");
        assert!(message.contains("at x 3, y 1, is NaN"), "{message}");
    }

    #[test]
    fn planar_rgb_is_decoded_like_the_same_pixels_interleaved() {
        let (r, g, b) = ([10u8, 200, 30, 0], [20u8, 100, 60, 255], [30u8, 0, 90, 255]);
        let interleaved: Vec<u8> = (0..4).flat_map(|i| [r[i], g[i], b[i]]).collect();
        let planes: Vec<u8> = [r, g, b].concat();
        let chunky = decode_pages(&tiff_u8(2, 2, 3, false, &interleaved), "chunky.tif").unwrap();
        let planar = decode_pages(&tiff_u8(2, 2, 3, true, &planes), "planar.tif").unwrap();
        assert_eq!(planar, chunky);
        let expected: Vec<u8> = (0..4).map(|i| luma8(r[i], g[i], b[i])).collect();
        assert_eq!(planar, vec![GrayImage::U8(Raster::new(2, 2, expected).unwrap())]);
    }

    #[test]
    fn gray_tiff_from_the_test_writer_decodes() {
        let pages = decode_pages(&tiff_u8(3, 1, 1, false, &[1, 2, 3]), "gray.tif").unwrap();
        assert_eq!(pages, vec![GrayImage::U8(Raster::new(3, 1, vec![1, 2, 3]).unwrap())]);
    }
}
