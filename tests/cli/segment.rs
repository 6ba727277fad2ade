//! `unetseg segment` end to end with the built-in default weights: the five
//! result files per image (per page of a multi-page TIFF), a corrupt input
//! that is reported by name without stopping the others, and the two border
//! treatments against `unetseg forward`'s one pass over the whole slice.
//!
//! Inputs are crops of the committed held-out slice data/isbi2012/train/images/24.png,
//! written by the test itself.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use crate::support::npy;

use crate::support::scratch;
use npy::read_npy_f32;
use tiff::encoder::{colortype, TiffEncoder};
use unetseg::imageio::{read_pages, write_png_u8, GrayImage};
use unetseg::GrayU8;

fn slice_crop(x0: usize, y0: usize, w: usize, h: usize) -> GrayU8 {
    let slice =
        unetseg::imageio::read_gray8(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/isbi2012/train/images/24.png"))
            .unwrap();
    GrayU8::from_fn(w, h, |x, y| slice.get(x0 + x, y0 + y))
}

fn page(path: &Path) -> GrayImage {
    let mut pages = read_pages(path).unwrap();
    assert_eq!(pages.len(), 1, "{}", path.display());
    pages.remove(0)
}

/// Checks the five outputs of one image of `w` x `h`; returns the cell count of the CSV.
fn check_outputs(out: &Path, name: &str, w: usize, h: usize) -> usize {
    let GrayImage::U16(prob) = page(&out.join(format!("{name}.prob.png"))) else { panic!("prob.png is not 16-bit") };
    assert_eq!(prob.dims(), (w, h));
    let GrayImage::U8(cut) = page(&out.join(format!("{name}.cut.png"))) else { panic!("cut.png is not 8-bit") };
    for (&p, &c) in prob.data().iter().zip(cut.data()) {
        let cell = p as f32 / 65535.0 > 0.5;
        assert!(c == if cell { 255 } else { 0 } || (p as f32 / 65535.0 - 0.5).abs() < 1e-4);
    }
    // mask.png: the post-processed mask, the one the cells come from.
    let GrayImage::U8(mask) = page(&out.join(format!("{name}.mask.png"))) else { panic!("mask.png is not 8-bit") };
    assert_eq!(mask.dims(), (w, h));
    assert!(mask.data().iter().all(|&v| v == 0 || v == 255));
    assert!(!out.join(format!("{name}.post.png")).exists(), "post.png is mask.png now");
    let GrayImage::U16(labels) = page(&out.join(format!("{name}.labels.png"))) else {
        panic!("labels.png is not 16-bit")
    };
    assert_eq!(labels.dims(), (w, h));
    for (&l, &f) in labels.data().iter().zip(mask.data()) {
        assert_eq!(l > 0, f == 255, "labels must cover exactly the cells of mask.png");
    }
    let csv = std::fs::read_to_string(out.join(format!("{name}.cells.csv"))).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("label,area"));
    let cells = lines.count();
    assert_eq!(cells, *labels.data().iter().max().unwrap() as usize);
    cells
}

#[test]
fn an_image_path_is_all_it_takes() {
    let dir = scratch("segment-bare");
    let slice = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/isbi2012/train/images/24.png");
    let output =
        Command::new(env!("CARGO_BIN_EXE_unetseg")).current_dir(&dir).arg("segment").arg(&slice).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(check_outputs(&dir, "24", 512, 512) > 50, "an ISBI slice holds dozens of cells");
}

#[test]
fn tiled_and_whole_image_post_processing_write_the_same_files() {
    // A 700 x 600 mirror of slice 24 post-processed in 512-pixel tiles (four cores,
    // seams through cells) and on the whole image: every file byte for byte.
    let dir = scratch("segment-tiled");
    let slice = slice_crop(0, 0, 512, 512);
    let mirrored = GrayU8::from_fn(700, 600, |x, y| {
        slice.get(if x < 512 { x } else { 1023 - x }, if y < 512 { y } else { 1023 - y })
    });
    let input = dir.join("mirrored.png");
    write_png_u8(&input, &mirrored).unwrap();
    for mode in ["always", "never"] {
        let output = Command::new(env!("CARGO_BIN_EXE_unetseg"))
            .args(["segment", "--tiled", mode, "--out"])
            .arg(dir.join(mode))
            .arg(&input)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let cells = check_outputs(&dir.join("always"), "mirrored", 700, 600);
    assert!(cells > 100, "{cells}");
    for suffix in ["prob.png", "cut.png", "mask.png", "labels.png", "cells.csv", "RoiSet.zip"] {
        let read = |mode: &str| std::fs::read(dir.join(mode).join(format!("mirrored.{suffix}"))).unwrap();
        assert!(read("always") == read("never"), "{suffix} differs");
    }
}

#[test]
fn segments_images_and_reports_a_corrupt_one_by_name() {
    let dir = scratch("segment-mixed");
    let good = dir.join("crop.png");
    write_png_u8(&good, &slice_crop(100, 150, 120, 96)).unwrap();
    let corrupt = dir.join("broken.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    let out = dir.join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_unetseg"))
        .args(["segment"])
        .arg(&corrupt)
        .arg(&good)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a corrupt input must fail the run");
    assert!(stderr.contains("broken.png"), "{stderr}");
    assert!(stderr.contains("1 of 2 inputs"), "{stderr}");
    let cells = check_outputs(&out, "crop", 120, 96);
    assert!(stdout.contains("crop: 120x96") && stdout.contains(&format!("{cells} cells")), "{stdout}");
    assert!(!out.join("broken.prob.png").exists());
}

#[test]
fn multi_page_tiff_gives_one_result_per_page() {
    let dir = scratch("segment-tiff");
    let stack = dir.join("stack.tif");
    let mut buf = Cursor::new(Vec::new());
    let mut enc = TiffEncoder::new(&mut buf).unwrap();
    for k in 0..2 {
        let crop = slice_crop(40 + 200 * k, 300, 64, 48);
        enc.write_image::<colortype::Gray8>(64, 48, crop.data()).unwrap();
    }
    std::fs::write(&stack, buf.into_inner()).unwrap();
    let out = dir.join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_unetseg"))
        .args(["segment", "--threshold", "0.5", "--fg-fraction", "0.3"])
        .arg(&stack)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for name in ["stack_p000", "stack_p001"] {
        check_outputs(&out, name, 64, 48);
    }
    assert!(!out.join("stack.prob.png").exists());
}

#[test]
fn bad_threshold_is_refused() {
    for (threshold, reason) in [("300", "strictly between 0 and 1"), ("high", "neither 'otsu' nor a probability")] {
        let output = Command::new(env!("CARGO_BIN_EXE_unetseg"))
            .args(["segment", "x.png", "--out", "o", "--threshold", threshold])
            .output()
            .unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains(reason), "{threshold}");
    }
}

/// By default `segment` lets the network zero-pad at the image border, so on a whole
/// ISBI slice (one tile) its probability is the softmax of `forward`'s one pass, to
/// 16-bit rounding. `--edges mirror` changes the pixels near the border only.
#[test]
fn zero_padded_segment_is_the_whole_slice_forward_and_mirroring_changes_the_border() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (slice, weights) = (root.join("data/isbi2012/train/images/24.png"), root.join("weights/default.safetensors"));
    let dir = scratch("segment-edges");
    let run = |args: &[&std::ffi::OsStr]| {
        let output = Command::new(env!("CARGO_BIN_EXE_unetseg")).args(args).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    };
    let logits = dir.join("logits.npy");
    run(&[
        "forward".as_ref(),
        "--weights".as_ref(),
        weights.as_os_str(),
        "--input".as_ref(),
        slice.as_os_str(),
        "--out".as_ref(),
        logits.as_os_str(),
    ]);
    let (shape, values) = read_npy_f32(&logits);
    assert_eq!(shape, [2, 512, 512]);
    let (membrane, cell) = values.split_at(512 * 512);
    let probability = |out: &Path| {
        let GrayImage::U16(prob) = page(&out.join("24.prob.png")) else { panic!("prob.png is not 16-bit") };
        prob
    };
    for edges in ["zero", "mirror"] {
        let out = dir.join(edges);
        run(&[
            "segment".as_ref(),
            "--edges".as_ref(),
            edges.as_ref(),
            slice.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        let prob = probability(&out);
        let (mut border_gap, mut interior_gap) = (0.0f32, 0.0f32);
        for (i, &p) in prob.data().iter().enumerate() {
            let want = 1.0 / (1.0 + (membrane[i] - cell[i]).exp());
            let gap = (p as f32 / 65535.0 - want).abs();
            let (x, y) = (i % 512, i / 512);
            if (96..416).contains(&x) && (96..416).contains(&y) {
                interior_gap = interior_gap.max(gap);
            } else {
                border_gap = border_gap.max(gap);
            }
        }
        assert!(interior_gap < 1e-3, "{edges}: interior differs from forward by {interior_gap}");
        match edges {
            "zero" => assert!(border_gap < 1e-3, "zero: border differs from forward by {border_gap}"),
            _ => assert!(border_gap > 0.05, "mirror: border equals forward (largest gap {border_gap})"),
        }
    }
}
