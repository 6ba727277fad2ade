//! `unetseg segment` and the formats people exchange: an OME-TIFF stack in (pixel
//! size reported and used for the physical areas), the ImageJ ROI set and the
//! multi-page label TIFF out, and a result file that cannot be written without the
//! others being lost.
//!
//! Inputs are crops of the committed held-out slice data/isbi2012/train/images/24.png
//! and the OME-TIFF fixture of tests/fixtures/imageio, written by tifffile.

use std::io::Cursor;
use std::path::Path;

use tiff::decoder::{Decoder, DecodingResult};
use tiff::encoder::{colortype, TiffEncoder};
use tiff::tags::Tag;
use unetseg::imageio::{read_gray8, read_pages, GrayImage};

use crate::support::{isbi, repo, scratch, stderr, unetseg};

/// A `w` x `h` crop of slice 24 at `(x0, y0)`.
fn crop(x0: usize, y0: usize, w: usize, h: usize) -> Vec<u8> {
    let slice = read_gray8(&isbi("images", "24")).unwrap();
    (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| slice.get(x0 + x, y0 + y)).collect()
}

/// Entries of a ZIP, by its end record.
fn zip_entries(path: &Path) -> usize {
    let bytes = std::fs::read(path).unwrap();
    let end = bytes.len() - 22;
    assert_eq!(&bytes[end..end + 4], b"PK\x05\x06", "{} ends in a ZIP end record", path.display());
    usize::from(u16::from_le_bytes([bytes[end + 10], bytes[end + 11]]))
}

/// The data lines of a CSV file.
fn csv_rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().skip(1).map(str::to_string).collect()
}

#[test]
fn an_ome_tiff_stack_gets_physical_areas_roi_sets_and_one_label_stack() {
    let dir = scratch("segment-ome");
    let (w, h) = (96, 80);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\">\
         <Image ID=\"Image:0\"><Pixels ID=\"Pixels:0\" DimensionOrder=\"XYCZT\" Type=\"uint8\" SizeX=\"{w}\" \
         SizeY=\"{h}\" SizeC=\"1\" SizeZ=\"2\" SizeT=\"1\" PhysicalSizeX=\"4\" PhysicalSizeXUnit=\"nm\" \
         PhysicalSizeY=\"4\" PhysicalSizeYUnit=\"nm\"><Channel ID=\"Channel:0:0\" SamplesPerPixel=\"1\"/>\
         <TiffData IFD=\"0\" PlaneCount=\"2\"/></Pixels></Image></OME>"
    );
    let mut bytes = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut bytes).unwrap();
    for (z, (x0, y0)) in [(100, 150), (300, 260)].into_iter().enumerate() {
        let mut image = encoder.new_image::<colortype::Gray8>(w as u32, h as u32).unwrap();
        if z == 0 {
            image.encoder().write_tag(Tag::ImageDescription, xml.as_str()).unwrap();
        }
        image.write_data(&crop(x0, y0, w, h)).unwrap();
    }
    let input = dir.join("em.ome.tif");
    std::fs::write(&input, bytes.into_inner()).unwrap();
    let out = dir.join("out");
    let output = unetseg(["segment".as_ref(), input.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut stack = Vec::new();
    for page in ["em.ome_p000", "em.ome_p001"] {
        assert!(stdout.contains(&format!("{page}: {w}x{h}, pixel 4 x 4 nm, ")), "{stdout}");
        let rows = csv_rows(&out.join(format!("{page}.cells.csv")));
        assert!(!rows.is_empty(), "{page}: a crop of an ISBI slice holds cells");
        for row in &rows {
            let fields: Vec<&str> = row.split(',').collect();
            let area: f64 = fields[1].parse().unwrap();
            assert_eq!(fields[9], "nm^2", "{row}");
            assert_eq!(fields[8].parse::<f64>().unwrap(), area * 16.0, "{row}");
        }
        assert_eq!(zip_entries(&out.join(format!("{page}.RoiSet.zip"))), rows.len(), "{page}: one ROI per cell");
        let Ok([GrayImage::U16(labels)]) =
            <[GrayImage; 1]>::try_from(read_pages(&out.join(format!("{page}.labels.png"))).unwrap())
        else {
            panic!("{page}.labels.png is one 16-bit page")
        };
        stack.push(labels);
    }
    // The stack: one 16-bit TIFF page per input page, equal to its labels.png.
    let tif = std::fs::read(out.join("em.ome.labels.tif")).unwrap();
    let mut decoder = Decoder::new(Cursor::new(tif)).unwrap();
    for (k, labels) in stack.iter().enumerate() {
        if k > 0 {
            decoder.next_image().unwrap();
        }
        assert_eq!(decoder.dimensions().unwrap(), (w as u32, h as u32));
        let DecodingResult::U16(page) = decoder.read_image().unwrap() else { panic!("page {k} is not 16-bit") };
        assert_eq!(page, labels.data(), "page {k}");
    }
    assert!(!decoder.more_images());
}

#[test]
fn the_pixel_size_of_a_tifffile_ome_pyramid_is_reported() {
    let dir = scratch("segment-ome-pyramid");
    let input = repo("tests/fixtures/imageio/ome_pyramid.ome.tif");
    let output = unetseg(["segment".as_ref(), input.as_os_str(), "--out".as_ref(), dir.as_os_str()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("ome_pyramid.ome_p000: 40x24, pixel 4 x 5 nm"), "{stdout}");
    assert!(stdout.contains("ome_pyramid.ome_p001: 40x24, pixel 4 x 5 nm"), "{stdout}");
    assert!(dir.join("ome_pyramid.ome.labels.tif").is_file());
}

#[test]
fn a_result_file_that_cannot_be_written_is_reported_and_the_others_are_kept() {
    let dir = scratch("segment-one-fails");
    let input = dir.join("crop.png");
    unetseg::imageio::write_png_u8(&input, &unetseg::GrayU8::new(64, 48, crop(40, 300, 64, 48)).unwrap()).unwrap();
    // Whole-image and streamed (each file under a temporary name until complete).
    for tiled in ["never", "always"] {
        let out = dir.join(tiled);
        // A folder where the ROI set should go.
        std::fs::create_dir_all(out.join("crop.RoiSet.zip")).unwrap();
        let args = ["segment", "--tiled", tiled, "--out"];
        let output = unetseg(args.iter().map(|a| a.as_ref()).chain([out.as_os_str(), input.as_os_str()]));
        assert!(!output.status.success());
        let message = stderr(&output);
        assert!(message.contains("crop.RoiSet.zip: cannot write"), "{tiled}: {message}");
        assert!(message.contains("1 result file(s) could not be written"), "{tiled}: {message}");
        for suffix in ["prob.png", "cut.png", "mask.png", "labels.png", "cells.csv"] {
            assert!(out.join(format!("crop.{suffix}")).is_file(), "{tiled}: crop.{suffix} is written all the same");
        }
        let names: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 6, "{tiled}: no partial file is left: {names:?}");
    }
}
