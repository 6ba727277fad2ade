//! The TIFF variants people exchange: BigTIFF, tiles, compressions, pyramids (SubIFDs
//! and reduced-resolution pages), OME-TIFF with its pixel size, and the variants
//! unetseg refuses (another compression, signed samples, several OME channels), each
//! with a message naming the file and the feature.
//!
//! The files written by tifffile are in tests/fixtures/imageio (made by its
//! make_fixtures.py); the others are written here by the `tiff` crate's encoder.

use std::io::Cursor;

use tiff::encoder::{colortype, Compression, DeflateLevel, TiffEncoder};
use tiff::tags::Tag;
use unetseg::imageio::{
    decode_image_file, decode_pages, read_image_file, GrayImage, LengthUnit, Page, PageLimit, PixelSize,
};
use unetseg::Raster;

use crate::support::repo;

/// The pages of the fixture `name`.
fn fixture(name: &str) -> unetseg::Result<Vec<Page>> {
    read_image_file(&repo("tests/fixtures/imageio").join(name))
}

/// `step * z + 37 * y + x`, as the fixture script's `ramp` (wrapping as `T` does).
fn ramp<T: Copy>(w: usize, h: usize, z: usize, step: usize, cast: fn(usize) -> T) -> Raster<T> {
    Raster::from_fn(w, h, |x, y| cast(step * z + 37 * y + x))
}

/// The decoding error of `bytes` named `name`, as text.
fn refusal(bytes: &[u8], name: &str) -> String {
    let message = decode_pages(bytes, name).unwrap_err().to_string();
    assert!(message.starts_with(&format!("{name}: ")), "{message}");
    message
}

/// One page for [`gray8_pages`]: width, height, samples, text tags, NewSubfileType.
type TestPage<'a> = (u32, u32, &'a [u8], &'a [(Tag, &'a str)], Option<u32>);

/// A little-endian classic TIFF of 8-bit gray pages, each with the extra tags given.
fn gray8_pages(pages: &[TestPage]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).unwrap();
    for &(w, h, data, texts, subfile) in pages {
        let mut image = encoder.new_image::<colortype::Gray8>(w, h).unwrap();
        for &(tag, text) in texts {
            image.encoder().write_tag(tag, text).unwrap();
        }
        if let Some(value) = subfile {
            image.encoder().write_tag(Tag::NewSubfileType, value).unwrap();
        }
        image.write_data(data).unwrap();
    }
    out.into_inner()
}

/// Sets the SHORT tag `tag` of the first page of a little-endian classic TIFF to `value`.
fn patch_first_page_short(bytes: &mut [u8], tag: u16, value: u16) {
    let ifd = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let entries = u16::from_le_bytes([bytes[ifd], bytes[ifd + 1]]) as usize;
    let entry = (0..entries)
        .map(|i| ifd + 2 + 12 * i)
        .find(|&at| u16::from_le_bytes([bytes[at], bytes[at + 1]]) == tag)
        .expect("the tag is present");
    bytes[entry + 8..entry + 10].copy_from_slice(&value.to_le_bytes());
}

/// OME-XML with one image of `pixels` attributes and `inner` elements.
fn ome_xml(pixels: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\">\
         <Image ID=\"Image:0\"><Pixels ID=\"Pixels:0\" DimensionOrder=\"XYZCT\" Type=\"uint8\" {pixels}>\
         <Channel ID=\"Channel:0:0\" SamplesPerPixel=\"1\"/>{inner}</Pixels></Image></OME>"
    )
}

#[test]
fn an_ome_tiff_pyramid_gives_its_full_resolution_planes_and_pixel_size() {
    // tifffile's BigTIFF OME pyramid: 2 planes of 40 x 24, 16 x 16 Deflate tiles, a
    // half-size level of each in SubIFDs, pixel 4 nm x 0.005 um.
    let pages = fixture("ome_pyramid.ome.tif").unwrap();
    assert_eq!(pages.len(), 2, "the SubIFD levels are not pages");
    let size = pages[0].pixel_size.expect("the OME-XML gives the pixel size");
    assert_eq!((size.width(), size.unit()), (4.0, LengthUnit::Nanometre));
    assert!((size.height() - 5.0).abs() < 1e-9, "0.005 um is 5 nm, got {}", size.height());
    for (z, page) in pages.iter().enumerate() {
        assert_eq!(page.image, GrayImage::U16(ramp(40, 24, z, 1000, |v| v as u16)), "plane {z}");
        assert_eq!(page.pixel_size, Some(size));
    }
}

#[test]
fn a_tiled_lzw_tiff_skips_its_reduced_resolution_page() {
    let pages = fixture("tiled_lzw_with_reduced_page.tif").unwrap();
    let images: Vec<GrayImage> = pages.into_iter().map(|p| p.image).collect();
    let slice = |z| GrayImage::U8(ramp(40, 24, z, 100, |v| (v % 256) as u8));
    assert_eq!(images, vec![slice(0), slice(1)]);
}

#[test]
fn refused_variants_name_the_file_and_the_feature() {
    let message = fixture("ome_two_channels.ome.tif").unwrap_err().to_string();
    assert!(message.contains("ome_two_channels.ome.tif: OME-TIFF: the OME image has 2 channels"), "{message}");
    let message = fixture("zstd.tif").unwrap_err().to_string();
    assert!(message.contains("zstd.tif: TIFF page 1: compressed with Zstandard (TIFF compression 50000)"), "{message}");
    let message = fixture("int16.tif").unwrap_err().to_string();
    assert!(message.contains("int16.tif: TIFF page 1: signed 16-bit integer samples are not supported"), "{message}");
}

#[test]
fn bigtiff_pages_of_8_and_16_bits_decode() {
    let mut out = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new_big(&mut out).unwrap();
    let eight = ramp(5, 3, 0, 0, |v| v as u8);
    let sixteen = ramp(4, 2, 1, 40_000, |v| v as u16);
    encoder.write_image::<colortype::Gray8>(5, 3, eight.data()).unwrap();
    encoder.write_image::<colortype::Gray16>(4, 2, sixteen.data()).unwrap();
    let bytes = out.into_inner();
    assert_eq!(&bytes[..4], b"II\x2b\x00", "a BigTIFF signature");
    let pages = decode_pages(&bytes, "big.tif").unwrap();
    assert_eq!(pages, vec![GrayImage::U8(eight), GrayImage::U16(sixteen)]);
}

#[test]
fn lzw_deflate_and_packbits_strips_decode() {
    let data = ramp(16, 9, 0, 0, |v| (v % 7) as u8);
    for compression in [Compression::Lzw, Compression::Deflate(DeflateLevel::Best), Compression::Packbits] {
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .with_compression(compression)
            .write_image::<colortype::Gray8>(16, 9, data.data())
            .unwrap();
        assert_eq!(decode_pages(&out.into_inner(), "c.tif").unwrap(), vec![GrayImage::U8(data.clone())]);
    }
}

#[test]
fn other_compressions_are_refused_by_name() {
    let mut bytes = gray8_pages(&[(2, 2, &[1, 2, 3, 4], &[], None)]);
    for (value, name) in [(34712u16, "JPEG 2000"), (6, "old-style JPEG"), (34887, "LERC"), (40000, "an unknown method")]
    {
        patch_first_page_short(&mut bytes, 259, value);
        let message = refusal(&bytes, "odd.tif");
        assert!(message.contains(&format!("compressed with {name} (TIFF compression {value})")), "{message}");
        assert!(message.contains("LZW, Deflate (zip), PackBits and JPEG"), "{message}");
    }
}

#[test]
fn reduced_resolution_pages_are_skipped_unless_all_are() {
    let (full, half) = ([7u8; 16], [9u8; 4]);
    let bytes = gray8_pages(&[(2, 2, &half, &[], Some(1)), (4, 4, &full, &[], Some(0)), (2, 2, &half, &[], Some(1))]);
    assert_eq!(decode_pages(&bytes, "p.tif").unwrap(), vec![GrayImage::U8(Raster::filled(4, 4, 7))]);
    let only_reduced = gray8_pages(&[(2, 2, &half, &[], Some(1))]);
    assert_eq!(decode_pages(&only_reduced, "r.tif").unwrap().len(), 1);
    // A multi-page stack (NewSubfileType 2: one page of several) keeps every page.
    let stack = gray8_pages(&[(2, 2, &half, &[], Some(2)), (2, 2, &half, &[], Some(2))]);
    assert_eq!(decode_pages(&stack, "s.tif").unwrap().len(), 2);
}

#[test]
fn ome_xml_picks_the_pages_of_the_first_image_and_gives_their_pixel_size() {
    let xml = ome_xml(
        "SizeX=\"2\" SizeY=\"2\" SizeZ=\"2\" PhysicalSizeX=\"0.5\" PhysicalSizeY=\"0.5\"",
        "<TiffData IFD=\"1\" PlaneCount=\"2\"/>",
    );
    let page = |v: u8| [v; 4];
    let bytes = gray8_pages(&[
        (2, 2, &page(1), &[(Tag::ImageDescription, xml.as_str())], None),
        (2, 2, &page(2), &[], None),
        (2, 2, &page(3), &[], None),
    ]);
    let pages = decode_image_file(&bytes, "ome.tif", &PageLimit::default()).unwrap();
    let micron = PixelSize::new(0.5, 0.5, LengthUnit::Micrometre).unwrap();
    let expected: Vec<Page> = [2, 3]
        .into_iter()
        .map(|v| Page { image: GrayImage::U8(Raster::filled(2, 2, v)), pixel_size: Some(micron) })
        .collect();
    assert_eq!(pages, expected);
}

#[test]
fn ome_xml_that_does_not_match_the_file_is_an_error() {
    let four = [0u8; 4];
    let wrong_size = ome_xml("SizeX=\"3\" SizeY=\"2\"", "");
    let bytes = gray8_pages(&[(2, 2, &four, &[(Tag::ImageDescription, wrong_size.as_str())], None)]);
    let message = refusal(&bytes, "size.ome.tif");
    assert!(message.contains("the page is 2 x 2 pixels but the OME-XML says its planes are 3 x 2"), "{message}");
    let missing = ome_xml("SizeX=\"2\" SizeY=\"2\" SizeT=\"3\"", "");
    let bytes = gray8_pages(&[(2, 2, &four, &[(Tag::ImageDescription, missing.as_str())], None)]);
    let message = refusal(&bytes, "part.ome.tif");
    assert!(message.contains("places a plane on page 2 but the file has 1 pages"), "{message}");
}

#[test]
fn other_descriptions_and_files_have_no_pixel_size() {
    let imagej = gray8_pages(&[(2, 1, &[1, 2], &[(Tag::ImageDescription, "ImageJ=1.54f\nunit=micron\n")], None)]);
    let pages = decode_image_file(&imagej, "ij.tif", &PageLimit::default()).unwrap();
    assert_eq!(pages, vec![Page { image: GrayImage::U8(Raster::new(2, 1, vec![1, 2]).unwrap()), pixel_size: None }]);
    let png = unetseg::imageio::encode_png_u8(&Raster::filled(2, 2, 5)).unwrap();
    assert_eq!(decode_image_file(&png, "a.png", &PageLimit::default()).unwrap()[0].pixel_size, None);
}
