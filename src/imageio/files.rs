//! Reading and writing image files by path (native builds only).

use std::path::{Path, PathBuf};

use super::{
    decode_image_file, decode_pages, encode_png_rgb, encode_png_u16, encode_png_u8, GrayImage, Page, PageLimit,
};
use crate::error::{Error, Result};
use crate::raster::{GrayU8, Raster};

/// Reads every page of the PNG, JPEG or TIFF at `path` (see [`decode_pages`]).
/// Errors name the file: missing, unreadable, empty, corrupt or unsupported.
pub fn read_pages(path: &Path) -> Result<Vec<GrayImage>> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    decode_pages(&bytes, &path.display().to_string())
}

/// Reads every page of the PNG, JPEG or TIFF at `path` with its pixel size, when the
/// file gives one (see [`decode_image_file`]). Errors name the file, as
/// [`read_pages`]' do.
pub fn read_image_file(path: &Path) -> Result<Vec<Page>> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    decode_image_file(&bytes, &path.display().to_string(), &PageLimit::default())
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
    super::check_binary_mask(&mask).map_err(|e| Error::file(path, e))?;
    Ok(mask)
}

/// Reads a training mask (first page, as by [`read_gray8`]): a binary mask or a
/// 3-level annotation, every pixel 0 (membrane), 128 (unlabelled) or 255 (cell).
/// Otherwise the error names the file and each other value ([`crate::annotation::check`]).
pub fn read_annotation(path: &Path) -> Result<GrayU8> {
    let mask = read_gray8(path)?;
    crate::annotation::check(&mask).map_err(|e| Error::file(path, e))?;
    Ok(mask)
}

/// File extensions read as images when listing a folder.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "tif", "tiff", "jpg", "jpeg"];

/// The image files directly in `dir` (by [`IMAGE_EXTENSIONS`], any case), sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot list the folder: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::file(dir, format!("cannot list the folder: {e}")))?.path();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if path.is_file() && ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// An image and the mask of the same file stem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageMaskPair {
    /// The file stem both share.
    pub stem: String,
    /// The image file.
    pub image: PathBuf,
    /// The mask file.
    pub mask: PathBuf,
}

/// Pairs every image file of `images` with the file of the same stem in `masks`, in
/// name order. Fails, naming the folder, when `images` holds no image, and naming the
/// image when it has no mask.
pub fn pair_images_with_masks(images: &Path, masks: &Path) -> Result<Vec<ImageMaskPair>> {
    let image_paths = image_files(images)?;
    if image_paths.is_empty() {
        return Err(Error::file(images, format!("the folder holds no images ({})", IMAGE_EXTENSIONS.join(", "))));
    }
    let mask_paths = image_files(masks)?;
    image_paths
        .into_iter()
        .map(|image| {
            let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let mask = mask_paths
                .iter()
                .find(|m| m.file_stem() == image.file_stem())
                .cloned()
                .ok_or_else(|| Error::file(&image, format!("has no mask named {stem}.* in {}", masks.display())))?;
            Ok(ImageMaskPair { stem, image, mask })
        })
        .collect()
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
