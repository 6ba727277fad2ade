//! Decoding and reading images: formats, bit depths, colour conversion,
//! multi-page TIFF, and bad input (truncated, random, empty, too large).
//! Every fixture is generated in the test with the `png`, `tiff` and `image`
//! encoders, so no binary files are committed.

use std::io::Cursor;

use tiff::encoder::{colortype, TiffEncoder};
use unetseg::imageio::{
    decode_pages, encode_png_u8, read_gray8, read_mask, read_pages, write_png_u16, write_png_u8, GrayImage,
    MAX_PIXELS_PER_PAGE,
};
use unetseg::{Error, Raster};

/// PNG bytes of the given colour type and depth from raw (big-endian) samples.
fn png_bytes(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(color);
    enc.set_depth(depth);
    let mut writer = enc.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    out
}

/// A three-page 16-bit gray TIFF; page `k` has value `1000 * k + 10 * y + x`.
fn tiff_stack_u16(w: u32, h: u32) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let mut enc = TiffEncoder::new(&mut buf).unwrap();
    for k in 0..3u16 {
        let data: Vec<u16> = (0..h as u16).flat_map(|y| (0..w as u16).map(move |x| 1000 * k + 10 * y + x)).collect();
        enc.write_image::<colortype::Gray16>(w, h, &data).unwrap();
    }
    buf.into_inner()
}

fn expect_file_error(result: unetseg::Result<Vec<GrayImage>>, name: &str) -> String {
    match result {
        Err(Error::File { path, reason }) => {
            assert_eq!(path, name);
            reason
        }
        other => panic!("expected a file error for {name}, got {other:?}"),
    }
}

#[test]
fn multi_page_16_bit_tiff_gives_every_page() {
    let pages = decode_pages(&tiff_stack_u16(4, 3), "stack.tif").unwrap();
    assert_eq!(pages.len(), 3);
    for (k, page) in pages.iter().enumerate() {
        let GrayImage::U16(r) = page else { panic!("page {k} should stay 16-bit") };
        assert_eq!(r.dims(), (4, 3));
        assert_eq!(r.get(3, 2), 1000 * k as u16 + 23);
        // Min-max stretch of 16-bit data: the darkest pixel is 0, the brightest 255.
        let g = page.to_u8();
        assert_eq!((g.get(0, 0), g.get(3, 2)), (0, 255));
    }
}

#[test]
fn tiff_colour_and_8_bit_pages() {
    let mut buf = Cursor::new(Vec::new());
    let mut enc = TiffEncoder::new(&mut buf).unwrap();
    enc.write_image::<colortype::Gray8>(2, 1, &[7, 200]).unwrap();
    enc.write_image::<colortype::RGB8>(2, 1, &[255, 0, 0, 10, 10, 10]).unwrap();
    enc.write_image::<colortype::RGBA16>(1, 1, &[0, 65535, 0, 65535]).unwrap();
    let pages = decode_pages(&buf.into_inner(), "mixed.tif").unwrap();
    assert_eq!(pages[0], GrayImage::U8(Raster::new(2, 1, vec![7, 200]).unwrap()));
    // BT.601: red 255 -> 76, gray stays gray.
    assert_eq!(pages[1], GrayImage::U8(Raster::new(2, 1, vec![76, 10]).unwrap()));
    // Pure green at 16 bits: 0.587 * 65535 = 38469.
    assert_eq!(pages[2], GrayImage::U16(Raster::new(1, 1, vec![38469]).unwrap()));
}

#[test]
fn png_variants_convert_to_gray() {
    let one = |bytes: Vec<u8>| decode_pages(&bytes, "x.png").unwrap().remove(0);
    // 1x1 gray.
    assert_eq!(one(png_bytes(1, 1, png::ColorType::Grayscale, png::BitDepth::Eight, &[42])).to_u8().data(), &[42]);
    // Gray + alpha: the alpha is dropped, not composited.
    assert_eq!(
        one(png_bytes(1, 1, png::ColorType::GrayscaleAlpha, png::BitDepth::Eight, &[42, 0])).to_u8().data(),
        &[42]
    );
    // RGBA 8-bit: blue -> 0.114 * 255 = 29.
    assert_eq!(one(png_bytes(1, 1, png::ColorType::Rgba, png::BitDepth::Eight, &[0, 0, 255, 9])).to_u8().data(), &[29]);
    // 16-bit RGB keeps 16 bits: gray (0x1234, 0x1234, 0x1234) stays 0x1234.
    let px16 = one(png_bytes(1, 1, png::ColorType::Rgb, png::BitDepth::Sixteen, &[0x12, 0x34, 0x12, 0x34, 0x12, 0x34]));
    assert_eq!(px16, GrayImage::U16(Raster::new(1, 1, vec![0x1234]).unwrap()));
    // 1-bit gray expands to 0 / 255.
    assert_eq!(
        one(png_bytes(2, 1, png::ColorType::Grayscale, png::BitDepth::One, &[0b1000_0000])).to_u8().data(),
        &[255, 0]
    );
}

#[test]
fn jpeg_decodes_close_to_the_original() {
    let img = image::GrayImage::from_fn(16, 16, |x, _| image::Luma([(x * 16) as u8]));
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95).encode_image(&img).unwrap();
    let pages = decode_pages(&bytes, "ramp.jpg").unwrap();
    let gray = pages[0].to_u8();
    assert_eq!(gray.dims(), (16, 16));
    let worst = gray.data().iter().zip(img.as_raw()).map(|(&a, &b)| (a as i32 - b as i32).abs()).max().unwrap();
    assert!(worst <= 8, "JPEG error {worst}");
}

#[test]
fn every_truncation_of_png_and_tiff_is_an_error() {
    let png = encode_png_u8(&Raster::from_fn(9, 7, |x, y| (x * 20 + y * 3) as u8)).unwrap();
    let full = decode_pages(&png, "cut.png").unwrap();
    // The last 12 bytes are the IEND chunk: without it every pixel is still
    // there, so the decoder may accept the file, but only with all pixels.
    let iend = png.len() - 12;
    for len in 0..png.len() {
        match decode_pages(&png[..len], "cut.png") {
            Ok(pages) if len >= iend => assert_eq!(pages, full),
            result => {
                expect_file_error(result, "cut.png");
            }
        }
    }
    let tif = tiff_stack_u16(5, 4);
    for len in 0..tif.len() {
        expect_file_error(decode_pages(&tif[..len], "cut.tif"), "cut.tif");
    }
}

#[test]
fn random_bytes_and_corrupted_files_never_panic() {
    // A small xorshift generator: deterministic "random" input without extra crates.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let png = encode_png_u8(&Raster::from_fn(8, 8, |x, y| (x ^ y) as u8 * 30)).unwrap();
    let tif = tiff_stack_u16(6, 6);
    for round in 0..300 {
        let len = (next() % 200) as usize;
        let mut junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Give a third of them a real signature so the format decoders run.
        match round % 3 {
            1 => junk.splice(0..0, png[..8].iter().copied()).for_each(drop),
            2 => junk.splice(0..0, tif[..8].iter().copied()).for_each(drop),
            _ => {}
        }
        let _ = decode_pages(&junk, "junk.bin");
        // Flip bytes inside valid files: must decode or fail cleanly.
        for valid in [&png, &tif] {
            let mut bad = valid.clone();
            for _ in 0..3 {
                let i = (next() as usize) % bad.len();
                bad[i] ^= (next() as u8) | 1;
            }
            let _ = decode_pages(&bad, "flipped");
        }
    }
    let reason = expect_file_error(decode_pages(b"", "empty.png"), "empty.png");
    assert!(reason.contains("empty"), "{reason}");
    let reason = expect_file_error(decode_pages(b"GIF89a\x01\x00\x01\x00", "a.gif"), "a.gif");
    assert!(reason.contains("unsupported"), "{reason}");
    expect_file_error(decode_pages(b"hello world", "notes.txt"), "notes.txt");
}

/// CRC-32 (IEEE) as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn oversized_headers_are_refused_before_decoding() {
    // A PNG whose header claims 20000 x 20000 8-bit gray pixels (4e8 > 2^28).
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(20000u32.to_be_bytes());
    ihdr.extend(20000u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    for (len, chunk) in [(13u32, ihdr), (0, b"IDAT".to_vec()), (0, b"IEND".to_vec())] {
        bomb.extend(len.to_be_bytes());
        bomb.extend(&chunk);
        bomb.extend(crc32(&chunk).to_be_bytes());
    }
    let reason = expect_file_error(decode_pages(&bomb, "bomb.png"), "bomb.png");
    assert!(reason.contains("exceeds the limit") && reason.contains(&MAX_PIXELS_PER_PAGE.to_string()), "{reason}");

    // A little-endian TIFF whose only page claims 30000 x 30000 pixels.
    let entries: [(u16, u16, u32, u32); 8] = [
        (256, 4, 1, 30000),       // ImageWidth
        (257, 4, 1, 30000),       // ImageLength
        (258, 3, 1, 8),           // BitsPerSample
        (259, 3, 1, 1),           // Compression: none
        (262, 3, 1, 1),           // Photometric: BlackIsZero
        (273, 4, 1, 8),           // StripOffsets
        (278, 4, 1, 30000),       // RowsPerStrip
        (279, 4, 1, 900_000_000), // StripByteCounts
    ];
    let mut tif = b"II*\x00".to_vec();
    tif.extend(8u32.to_le_bytes());
    tif.extend((entries.len() as u16).to_le_bytes());
    for (tag, ty, count, value) in entries {
        tif.extend(tag.to_le_bytes());
        tif.extend(ty.to_le_bytes());
        tif.extend(count.to_le_bytes());
        tif.extend(value.to_le_bytes());
    }
    tif.extend(0u32.to_le_bytes());
    let reason = expect_file_error(decode_pages(&tif, "bomb.tif"), "bomb.tif");
    assert!(reason.contains("exceeds the limit"), "{reason}");
}

#[test]
fn file_helpers_read_write_and_name_the_file() {
    let dir = std::env::temp_dir().join(format!("unetseg-imageio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let mask = Raster::from_fn(6, 4, |x, _| if x < 3 { 0u8 } else { 255 });
    let mask_path = dir.join("mask.png");
    write_png_u8(&mask_path, &mask).unwrap();
    assert_eq!(read_mask(&mask_path).unwrap(), mask);

    let gray_path = dir.join("gray.png");
    let mut not_binary = mask.clone();
    not_binary.set(0, 0, 128);
    not_binary.set(5, 3, 1);
    write_png_u8(&gray_path, &not_binary).unwrap();
    let msg = read_mask(&gray_path).unwrap_err().to_string();
    assert!(msg.contains("gray.png") && msg.contains("2 of 24 pixels"), "{msg}");
    assert_eq!(read_gray8(&gray_path).unwrap(), not_binary);

    let labels = Raster::from_fn(3, 3, |x, y| (x * 3 + y) as u16 * 1000);
    let labels_path = dir.join("labels.png");
    write_png_u16(&labels_path, &labels).unwrap();
    assert_eq!(read_pages(&labels_path).unwrap(), vec![GrayImage::U16(labels)]);

    let stack_path = dir.join("stack.tif");
    std::fs::write(&stack_path, tiff_stack_u16(4, 3)).unwrap();
    assert_eq!(read_pages(&stack_path).unwrap().len(), 3);
    // read_gray8 takes the first page.
    assert_eq!(read_gray8(&stack_path).unwrap().dims(), (4, 3));

    let missing = dir.join("missing.png");
    let msg = read_gray8(&missing).unwrap_err().to_string();
    assert!(msg.contains("missing.png"), "{msg}");
    let msg = write_png_u8(&dir.join("no-such-dir").join("out.png"), &mask).unwrap_err().to_string();
    assert!(msg.contains("out.png"), "{msg}");

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn isbi_slice_reads_as_512_square() {
    let img =
        read_gray8(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/isbi2012/train/images/24.png")))
            .unwrap();
    assert_eq!(img.dims(), (512, 512));
    let mask =
        read_mask(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/isbi2012/train/masks/24.png")))
            .unwrap();
    assert_eq!(mask.dims(), (512, 512));
}
