//! `unetseg postprocess` end to end: outputs, step images, cells, errors.
//! The expected final image of slice 24 is the OpenCV fixture made by
//! tests/fixtures/postprocess/make_fixtures.py.

use std::process::{Command, Output};

use crate::support::{repo, scratch};
use unetseg::imageio::{read_gray8, read_pages, GrayImage};

fn unetseg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unetseg")).arg("postprocess").args(args).output().expect("runs the binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn writes_final_image_steps_labels_and_cells() {
    let dir = scratch("postprocess-full");
    let (out, steps, labels, cells, colours) = (
        dir.join("final.png"),
        dir.join("steps"),
        dir.join("labels.png"),
        dir.join("cells.csv"),
        dir.join("cells.png"),
    );
    let input = repo("data/isbi2012/train/masks/24.png");
    let run = unetseg(&[
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--steps-dir",
        steps.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--cells",
        cells.to_str().unwrap(),
        "--cells-image",
        colours.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "stderr: {}", text(&run.stderr));

    let expected = read_gray8(&repo("tests/fixtures/postprocess/mask24_final.png")).unwrap();
    assert_eq!(read_gray8(&out).unwrap(), expected, "final image differs from OpenCV's");

    let mut names: Vec<String> =
        std::fs::read_dir(&steps).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "1_grayscale.png",
            "2_threshold.png",
            "3_closing.png",
            "4_sure_background.png",
            "5_distance.png",
            "6_sure_foreground.png",
            "7_unknown.png",
            "8_markers.png",
            "8_watershed.png",
            "9_final.png"
        ]
    );
    assert_eq!(read_gray8(&steps.join("9_final.png")).unwrap(), expected);
    assert_eq!(read_gray8(&steps.join("1_grayscale.png")).unwrap(), read_gray8(&input).unwrap());

    let csv = std::fs::read_to_string(&cells).unwrap();
    let count = csv.lines().count() - 1;
    assert!(csv.starts_with("label,area,centroid_x,centroid_y,bbox_x0,bbox_y0,bbox_x1,bbox_y1\n"));
    assert!(count > 50, "only {count} cells");
    assert_eq!(text(&run.stdout).trim(), format!("{count} cells"));

    let pages = read_pages(&labels).unwrap();
    let GrayImage::U16(label_image) = &pages[0] else { panic!("labels are not 16-bit") };
    assert_eq!(label_image.data().iter().copied().max(), Some(count as u16));
    assert_eq!(label_image.dims(), expected.dims());
    // Cells are exactly the white pixels of the final image.
    for (&l, &v) in label_image.data().iter().zip(expected.data()) {
        assert_eq!(l > 0, v == 255);
    }
    assert!(colours.exists());
}

#[test]
fn fixed_threshold_and_exact_distance_run() {
    let dir = scratch("postprocess-options");
    let out = dir.join("final.png");
    let run = unetseg(&[
        repo("data/isbi2012/train/images/25.png").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threshold",
        "110",
        "--exact-distance",
        "--fg-fraction",
        "0.3",
    ]);
    assert!(run.status.success(), "stderr: {}", text(&run.stderr));
    let final_image = read_gray8(&out).unwrap();
    assert!(final_image.data().iter().all(|&v| v == 0 || v == 255));
    assert!(final_image.data().contains(&255));
}

#[test]
fn missing_or_corrupt_input_fails_naming_the_file() {
    let dir = scratch("postprocess-errors");
    let out = dir.join("final.png");
    let missing = dir.join("no-such-image.png");
    let run = unetseg(&[missing.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("no-such-image.png"), "stderr: {}", text(&run.stderr));

    let corrupt = dir.join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    let run = unetseg(&[corrupt.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("corrupt.png"), "stderr: {}", text(&run.stderr));
    assert!(!out.exists());
}

#[test]
fn bad_parameters_are_rejected() {
    let dir = scratch("postprocess-params");
    let out = dir.join("final.png");
    let input = repo("data/isbi2012/train/masks/26.png");
    for args in [["--threshold", "300"], ["--threshold", "mean"], ["--fg-fraction", "2"], ["--dilate-size", "0"]] {
        let run = unetseg(&[input.to_str().unwrap(), "--out", out.to_str().unwrap(), args[0], args[1]]);
        assert!(!run.status.success(), "{args:?} accepted");
        assert!(!text(&run.stderr).is_empty());
    }
    assert!(!out.exists());
}

#[test]
fn unwritable_output_fails_naming_it() {
    let dir = scratch("postprocess-unwritable");
    let out = dir.join("missing-folder").join("final.png");
    let run = unetseg(&[repo("data/isbi2012/train/masks/24.png").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("missing-folder"), "stderr: {}", text(&run.stderr));
}
