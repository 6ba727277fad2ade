//! Decoding the files the user drops into pages the network can take, with
//! the page's size limit checked before any pixel is decoded.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};
use wasm_bindgen::prelude::*;

use crate::imageio::{decode_pages, encode_png_u8, GrayImage};

/// Largest page the web page segments, in pixels (4096 x 4096 or the same
/// area). The network, the nine post-processing steps and their renderings
/// need about 80 bytes a pixel at their peak, and a wasm32 module has at most
/// 4 GiB of memory (browsers often grant less), so larger images are refused
/// with a message instead of crashing the worker.
pub const MAX_WEB_PIXELS: u64 = 4096 * 4096;

/// One decoded page (a PNG or JPEG has one, a TIFF one per page).
#[wasm_bindgen]
pub struct InputImage {
    page: GrayImage,
}

#[wasm_bindgen]
impl InputImage {
    /// Width in pixels.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> usize {
        self.page.width()
    }

    /// Height in pixels.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> usize {
        self.page.height()
    }

    /// Bits per sample as stored in the file: 8 or 16.
    #[wasm_bindgen(getter, js_name = bitDepth)]
    pub fn bit_depth(&self) -> u8 {
        match self.page {
            GrayImage::U8(_) => 8,
            GrayImage::U16(_) => 16,
        }
    }

    /// The page as an 8-bit gray PNG for display (16-bit pages contrast-stretched).
    #[wasm_bindgen(js_name = previewPng)]
    pub fn preview_png(&self) -> Result<Vec<u8>, JsError> {
        encode_png_u8(&self.page.to_u8()).map_err(|e| JsError::new(&e.to_string()))
    }
}

impl InputImage {
    /// The decoded page.
    pub fn page(&self) -> &GrayImage {
        &self.page
    }
}

/// Decodes every page of the PNG, JPEG or TIFF file `bytes` (`name` is used in
/// messages). Fails with a message naming the file when it is corrupt or
/// unsupported, or when a page exceeds [`MAX_WEB_PIXELS`].
#[wasm_bindgen(js_name = decodeImage)]
pub fn decode_image(bytes: &[u8], name: &str) -> Result<Vec<InputImage>, JsError> {
    for (index, (width, height)) in page_sizes(bytes).into_iter().enumerate() {
        let pixels = u64::from(width) * u64::from(height);
        if pixels > MAX_WEB_PIXELS {
            let which = if index == 0 { String::new() } else { format!(" (page {})", index + 1) };
            return Err(JsError::new(&format!(
                "{name}{which} is {width} x {height} pixels ({:.1} megapixels); this page segments images up to {:.1} \
                 megapixels (4096 x 4096). Crop or downscale it, or run `unetseg segment` on it, which has no such limit.",
                pixels as f64 / 1e6,
                MAX_WEB_PIXELS as f64 / 1e6
            )));
        }
    }
    let pages = decode_pages(bytes, name).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(pages.into_iter().map(|page| InputImage { page }).collect())
}

/// The size of every page as the file's headers state it, read without
/// decoding pixels. Unreadable headers give an empty list: decoding then
/// reports what is wrong.
fn page_sizes(bytes: &[u8]) -> Vec<(u32, u32)> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Tiff) => tiff_page_sizes(bytes),
        Ok(format @ (ImageFormat::Png | ImageFormat::Jpeg)) => {
            ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// The size of every page of a TIFF, following its chain of directories.
fn tiff_page_sizes(bytes: &[u8]) -> Vec<(u32, u32)> {
    let mut sizes = Vec::new();
    let Ok(mut decoder) = tiff::decoder::Decoder::new(Cursor::new(bytes)) else { return sizes };
    loop {
        match decoder.dimensions() {
            Ok(size) => sizes.push(size),
            Err(_) => break,
        }
        if !decoder.more_images() || decoder.next_image().is_err() {
            break;
        }
    }
    sizes
}
