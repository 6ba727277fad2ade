//! Which pages of a TIFF are images to segment, what they are compressed with, and
//! the pixel size an OME-TIFF gives them.
//!
//! The pages are the file's chain of IFDs (image file directories): a pyramid's
//! lower resolutions kept in SubIFDs (as OME-TIFF and other whole-slide writers do)
//! are not in the chain and are never read. Pages of the chain marked as
//! reduced-resolution copies (NewSubfileType bit 0, or the old SubfileType 2:
//! thumbnails, older pyramids) are skipped when the file has any full-resolution
//! page. In an OME-TIFF the first page's ImageDescription holds the OME-XML
//! ([`super::ome`]), and the pages are those of its first image's planes.

use std::io::{Read, Seek};

use tiff::decoder::Decoder;
use tiff::tags::{CompressionMethod, Tag};

use super::ome::read_ome;
use super::pixel_size::PixelSize;

/// BigTIFF's signature (64-bit offsets), little- and big-endian; classic TIFF's is
/// `II*\0` / `MM\0*`.
pub fn is_bigtiff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II\x2b\x00") || bytes.starts_with(b"MM\x00\x2b")
}

/// The pages of a TIFF to decode, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct PagePlan {
    /// Their indices in the chain of IFDs.
    pub pages: Vec<usize>,
    /// The pixel size that the OME-XML gives them, if any.
    pub pixel_size: Option<PixelSize>,
    /// The size the OME-XML gives every plane, if the file is an OME-TIFF.
    pub ome_size: Option<(u32, u32)>,
}

/// The plan for the TIFF that `decoder` has just opened (at its first page).
pub fn plan_pages<R: Read + Seek>(decoder: &mut Decoder<R>) -> Result<PagePlan, String> {
    // A description that is not text (not UTF-8) cannot be OME-XML.
    let description = decoder.find_tag(Tag::ImageDescription).ok().flatten().and_then(|v| v.into_string().ok());
    let ome = match description {
        Some(text) => read_ome(&text).map_err(|e| format!("OME-TIFF: {e}"))?,
        None => None,
    };
    let mut reduced = Vec::new();
    loop {
        reduced.push(is_reduced_resolution(decoder)?);
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(|e| format!("TIFF page {}: {e}", reduced.len() + 1))?;
    }
    let count = reduced.len();
    if let Some(ome) = ome {
        if let Some(&missing) = ome.pages.iter().find(|&&page| page >= count) {
            return Err(format!(
                "OME-TIFF: its OME-XML places a plane on page {} but the file has {count} pages (is it one file of \
                 a multi-file OME-TIFF? convert it to a single file, e.g. with Bio-Formats' bfconvert)",
                missing + 1
            ));
        }
        return Ok(PagePlan { pages: ome.pages, pixel_size: ome.pixel_size, ome_size: Some(ome.size) });
    }
    let full: Vec<usize> = (0..count).filter(|&i| !reduced[i]).collect();
    let pages = if full.is_empty() { (0..count).collect() } else { full };
    Ok(PagePlan { pages, pixel_size: None, ome_size: None })
}

/// Whether the decoder's current page says it is a reduced-resolution copy.
fn is_reduced_resolution<R: Read + Seek>(decoder: &mut Decoder<R>) -> Result<bool, String> {
    let new_subfile = decoder.find_tag_unsigned::<u32>(Tag::NewSubfileType).map_err(|e| e.to_string())?;
    let old_subfile = decoder.find_tag_unsigned::<u16>(Tag::SubfileType).map_err(|e| e.to_string())?;
    Ok(new_subfile.is_some_and(|v| v & 1 == 1) || old_subfile == Some(2))
}

/// Fails, naming the compression, when the decoder's current page is compressed
/// with a method that the `tiff` crate (with the features unetseg builds it with)
/// does not decode. It decodes uncompressed, LZW, Deflate (zip; both tag values),
/// PackBits and JPEG ("new-style", 7) pages, and CCITT Group 4 (bilevel images,
/// whose 1-bit samples unetseg refuses anyway).
pub fn check_compression<R: Read + Seek>(decoder: &mut Decoder<R>) -> Result<(), String> {
    let value = decoder.find_tag_unsigned::<u16>(Tag::Compression).map_err(|e| e.to_string())?.unwrap_or(1);
    let decodable = matches!(
        CompressionMethod::from_u16_exhaustive(value),
        CompressionMethod::None
            | CompressionMethod::LZW
            | CompressionMethod::Deflate
            | CompressionMethod::OldDeflate
            | CompressionMethod::PackBits
            | CompressionMethod::ModernJPEG
            | CompressionMethod::Fax4
    );
    if decodable {
        return Ok(());
    }
    let name = match value {
        2 => "CCITT modified Huffman",
        3 => "CCITT Group 3 fax",
        6 => "old-style JPEG",
        33003 | 33005 | 34712 => "JPEG 2000",
        34887 => "LERC",
        34925 => "LZMA",
        50000 => "Zstandard",
        50001 => "WebP",
        50002 | 52546 => "JPEG XL",
        _ => "an unknown method",
    };
    Err(format!(
        "compressed with {name} (TIFF compression {value}), which unetseg cannot decode; it reads uncompressed, \
         LZW, Deflate (zip), PackBits and JPEG TIFFs: save the image with one of those (in Fiji, File > Save As > \
         Tiff... writes it uncompressed)"
    ))
}
