//! Image reading and writing (PNG, JPEG, TIFF; 8/16-bit, and 32-bit float TIFF; multi-page).
//!
//! Decoding works on bytes ([`decode_pages`]) so the web page can use it; the
//! file-path helpers ([`read_pages`], [`read_gray8`], [`read_mask`], `write_png_*`)
//! exist only natively. Every decoded page becomes a single-channel
//! [`GrayImage`]: colour is converted to gray with the ITU-R BT.601 luma
//! weights (see [`decode_pages`]); alpha is dropped.

mod decode;
mod encode;
mod ome;
mod pixel_size;
mod tiff_pages;

pub use decode::{decode_image_file, decode_pages, decode_pages_within, PageLimit, MAX_PIXELS_PER_PAGE};
pub use encode::{encode_png_rgb, encode_png_u16, encode_png_u8, PngRows, PngSample};
pub use pixel_size::{LengthUnit, PixelSize};

use crate::raster::{GrayF32, GrayU8, Raster, SampleRows};

/// One decoded grayscale page, at the bit depth it was stored with.
#[derive(Clone, Debug, PartialEq)]
pub enum GrayImage {
    /// 8-bit samples (0..=255).
    U8(GrayU8),
    /// 16-bit samples (0..=65535).
    U16(Raster<u16>),
    /// 32-bit floating-point samples (float TIFF, common for processed EM), all finite
    /// (the decoder refuses NaN and infinities), of any range.
    F32(GrayF32),
}

/// A decoded page and its pixel size, when the file gives one (an OME-TIFF's
/// `PhysicalSizeX` / `PhysicalSizeY`; see [`decode_image_file`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The page's samples.
    pub image: GrayImage,
    /// The physical size of one of its pixels.
    pub pixel_size: Option<PixelSize>,
}

impl GrayImage {
    /// Number of columns.
    pub fn width(&self) -> usize {
        match self {
            GrayImage::U8(r) => r.width(),
            GrayImage::U16(r) => r.width(),
            GrayImage::F32(r) => r.width(),
        }
    }

    /// Number of rows.
    pub fn height(&self) -> usize {
        match self {
            GrayImage::U8(r) => r.height(),
            GrayImage::U16(r) => r.height(),
            GrayImage::F32(r) => r.height(),
        }
    }

    /// The page's samples as `f32`, for tiled inference.
    pub fn samples(&self) -> &dyn SampleRows {
        match self {
            GrayImage::U8(r) => r,
            GrayImage::U16(r) => r,
            GrayImage::F32(r) => r,
        }
    }

    /// Bits per sample as stored in the file: 8, 16 or 32 (float).
    pub fn bit_depth(&self) -> u8 {
        match self {
            GrayImage::U8(_) => 8,
            GrayImage::U16(_) => 16,
            GrayImage::F32(_) => 32,
        }
    }

    /// The page as 8-bit gray.
    ///
    /// 8-bit data is returned unchanged. 16-bit data is min-max stretched:
    /// `round((v - min) * 255 / (max - min))` over this page's own minimum and
    /// maximum, so dim 16-bit microscopy (which often uses only a few thousand
    /// levels) keeps its contrast instead of collapsing to a few values as
    /// `v >> 8` would. A constant 16-bit page has no range to stretch and maps
    /// to its high byte (`v >> 8`). Float data is stretched the same way over its own
    /// range, `round((v - min) * 255 / (max - min))`; a constant float page maps to
    /// `round(255 v)` clamped to `0..=255`.
    pub fn to_u8(&self) -> GrayU8 {
        match self {
            GrayImage::U8(r) => r.clone(),
            GrayImage::U16(r) => {
                let (lo, hi) = min_max(r.data());
                if lo == hi {
                    return r.map(|v| (v >> 8) as u8);
                }
                let range = u32::from(hi - lo);
                r.map(|v| ((u32::from(v - lo) * 255 + range / 2) / range) as u8)
            }
            GrayImage::F32(r) => {
                let (lo, hi) = min_max_f32(r.data());
                if lo >= hi {
                    return r.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
                }
                let range = f64::from(hi) - f64::from(lo);
                r.map(|v| ((f64::from(v) - f64::from(lo)) * 255.0 / range).round().clamp(0.0, 255.0) as u8)
            }
        }
    }

    /// The page as floats in `[0, 1]`: 8-bit values divided by 255, 16-bit
    /// values by 65535 (no stretching). Float values already within `[0, 1]` (a
    /// probability map) are kept as they are; others are min-max stretched over their
    /// own range (a constant page clamped to `[0, 1]`).
    pub fn to_unit_f32(&self) -> GrayF32 {
        match self {
            GrayImage::U8(r) => r.map(|v| f32::from(v) / 255.0),
            GrayImage::U16(r) => r.map(|v| f32::from(v) / 65535.0),
            GrayImage::F32(r) => {
                let (lo, hi) = min_max_f32(r.data());
                if (lo >= 0.0 && hi <= 1.0) || lo >= hi {
                    return r.map(|v| v.clamp(0.0, 1.0));
                }
                let range = f64::from(hi) - f64::from(lo);
                r.map(|v| ((f64::from(v) - f64::from(lo)) / range) as f32)
            }
        }
    }
}

/// Checks that every pixel of `mask` is 0 (membrane) or 255 (cell); the error says
/// how many are not.
pub fn check_binary_mask(mask: &GrayU8) -> crate::Result<()> {
    let offending = mask.data().iter().filter(|&&v| v != 0 && v != 255).count();
    if offending > 0 {
        return Err(crate::Error::invalid(format!(
            "not a binary mask: {offending} of {} pixels are neither 0 nor 255",
            mask.data().len()
        )));
    }
    Ok(())
}

/// Smallest and largest value of a non-empty slice; `(0, 0)` when empty.
fn min_max(values: &[u16]) -> (u16, u16) {
    let lo = values.iter().copied().min().unwrap_or(0);
    let hi = values.iter().copied().max().unwrap_or(0);
    (lo, hi)
}

/// Smallest and largest value of a slice of finite floats; `(0, 0)` when empty.
fn min_max_f32(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

#[cfg(not(target_family = "wasm"))]
mod files;

#[cfg(not(target_family = "wasm"))]
pub use files::{
    image_files, pair_images_with_masks, read_annotation, read_gray8, read_image_file, read_mask, read_pages,
    write_png_rgb, write_png_u16, write_png_u8, ImageMaskPair, IMAGE_EXTENSIONS,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_bit_is_min_max_stretched() {
        let r = Raster::new(3, 1, vec![1000u16, 1500, 2000]).unwrap();
        let g = GrayImage::U16(r);
        assert_eq!(g.to_u8().data(), &[0, 128, 255]);
        let u = g.to_unit_f32();
        assert!((u.data()[2] - 2000.0 / 65535.0).abs() < 1e-7);
    }

    #[test]
    fn constant_sixteen_bit_keeps_high_byte() {
        let g = GrayImage::U16(Raster::filled(2, 2, 0x8040u16));
        assert_eq!(g.to_u8().data(), &[0x80; 4]);
    }

    #[test]
    fn float_is_stretched_over_its_own_range() {
        let g = GrayImage::F32(Raster::new(3, 1, vec![-0.05, 0.0, 0.205]).unwrap());
        assert_eq!(g.to_u8().data(), &[0, 50, 255]);
        assert_eq!(g.bit_depth(), 32);
        let unit = g.to_unit_f32();
        assert!((unit.data()[1] - 0.05 / 0.255).abs() < 1e-6 && unit.data()[2] == 1.0);
        // A probability map stays as it is; a constant page is clamped.
        let p = GrayImage::F32(Raster::new(2, 1, vec![0.25, 0.75]).unwrap());
        assert_eq!(p.to_unit_f32().data(), &[0.25, 0.75]);
        assert_eq!(p.to_u8().data(), &[0, 255]);
        let constant = GrayImage::F32(Raster::filled(2, 1, 0.5));
        assert_eq!(constant.to_u8().data(), &[128, 128]);
    }

    #[test]
    fn eight_bit_unit_range() {
        let g = GrayImage::U8(Raster::new(2, 1, vec![0u8, 255]).unwrap());
        assert_eq!(g.to_unit_f32().data(), &[0.0, 1.0]);
        assert_eq!((g.width(), g.height()), (2, 1));
    }
}
