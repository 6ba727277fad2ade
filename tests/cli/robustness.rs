//! `unetseg robustness` on 128x128 crops of the held-out slices 24 and 25 with the
//! built-in weights: one row per shift in order, the unshifted row first and equal to
//! `eval`'s stack V_rand, as JSON and as a table; `--write-shifts` writes the shifted
//! slices that the rows score; bad arguments fail cleanly.

use std::path::{Path, PathBuf};

use serde_json::Value;
use unetseg::imageio::{read_gray8, write_png_u8};
use unetseg::GrayU8;

use crate::support::{isbi, scratch, stderr, unetseg};

/// The rows of the check, in order.
const SHIFTS: [&str; 10] = [
    "none",
    "scale-0.5x",
    "scale-2x",
    "gamma-0.6",
    "gamma-1.6",
    "noise-15",
    "blur-1.5",
    "jpeg-30",
    "contrast-0.5",
    "invert",
];

/// A data folder `name` with the top-left 128x128 of slices 24 and 25 and their masks.
fn crops(name: &str) -> PathBuf {
    let dir = scratch(&format!("robustness-{name}"));
    for kind in ["images", "masks"] {
        std::fs::create_dir_all(dir.join(kind)).unwrap();
        for slice in ["24", "25"] {
            let full = read_gray8(&isbi(kind, slice)).unwrap();
            let crop = GrayU8::from_fn(128, 128, |x, y| full.get(x, y));
            write_png_u8(&dir.join(kind).join(format!("{slice}.png")), &crop).unwrap();
        }
    }
    dir
}

/// Runs `command` (`robustness` or `eval`) on the folder with `extra` arguments.
fn run(command: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let (images, masks) = (dir.join("images"), dir.join("masks"));
    let mut args = vec![command, "--images", images.to_str().unwrap(), "--masks", masks.to_str().unwrap()];
    args.extend_from_slice(extra);
    unetseg(args)
}

#[test]
fn every_shift_is_a_row_and_the_unshifted_one_is_evals_score() {
    let dir = crops("json");
    let output = run("robustness", &dir, &["--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["slices"], serde_json::json!(["24", "25"]));
    let rows = doc["shifts"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["shift"].as_str().unwrap()).collect();
    assert_eq!(names, SHIFTS);
    let unshifted = rows[0]["v_rand"].as_f64().unwrap();
    for row in rows {
        let v_rand = row["v_rand"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v_rand), "{row}");
        assert_eq!(row["stack"]["v_rand"].as_f64(), Some(v_rand));
        assert!((row["v_rand_change"].as_f64().unwrap() - (v_rand - unshifted)).abs() < 1e-12);
        assert!(row["stack"]["pixel_accuracy"].as_f64().is_some() && !row["description"].as_str().unwrap().is_empty());
    }
    // The network has learnt dark membranes: inverted slices score far lower.
    assert!(rows[9]["v_rand"].as_f64().unwrap() < unshifted, "{}", rows[9]);

    let eval = run("eval", &dir, &["--json"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let eval: Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(eval["stack"]["v_rand"].as_f64(), Some(unshifted));
    assert_eq!(eval["stack"], rows[0]["stack"]);
}

#[test]
fn the_table_has_a_header_and_one_line_per_shift_and_slices_pick_a_block() {
    let dir = crops("table");
    let output = run("robustness", &dir, &["--slices", "1..1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1 + SHIFTS.len(), "{stdout}");
    assert!(lines[0].starts_with("shift") && lines[0].contains("v_rand") && lines[0].contains("change"));
    for (line, name) in lines[1..].iter().zip(SHIFTS) {
        assert_eq!(line.split_whitespace().next(), Some(name), "{line}");
    }
    assert_eq!(lines[1].split_whitespace().nth(2), Some("+0.0000"));

    let output = run("robustness", &dir, &["--slices", "1..2"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("holds only 2 images"), "{}", stderr(&output));
}

#[test]
fn write_shifts_writes_the_slices_each_row_scores() {
    let dir = crops("write");
    let out = scratch("robustness-write-out");
    let output = run("robustness", &dir, &["--write-shifts", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let written =
        |shift: &str, kind: &str, slice: &str| read_gray8(&out.join(shift).join(kind).join(format!("{slice}.png")));
    let mut folders: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    folders.sort();
    let mut expected: Vec<&str> = SHIFTS[1..].to_vec();
    expected.sort();
    assert_eq!(folders, expected);
    for slice in ["24", "25"] {
        let (image, mask) = (
            read_gray8(&dir.join("images").join(format!("{slice}.png"))).unwrap(),
            read_gray8(&dir.join("masks").join(format!("{slice}.png"))).unwrap(),
        );
        for shift in &SHIFTS[1..] {
            let (shifted, shifted_mask) =
                (written(shift, "images", slice).unwrap(), written(shift, "masks", slice).unwrap());
            let side = match *shift {
                "scale-0.5x" => 64,
                "scale-2x" => 256,
                _ => 128,
            };
            assert_eq!((shifted.dims(), shifted_mask.dims()), ((side, side), (side, side)), "{shift}");
            if side == 128 {
                assert_eq!(shifted_mask, mask, "{shift}");
            }
        }
        assert_eq!(written("invert", "images", slice).unwrap(), image.map(|v| 255 - v));
        let (big, big_mask) =
            (written("scale-2x", "images", slice).unwrap(), written("scale-2x", "masks", slice).unwrap());
        assert!(big_mask.data().iter().all(|&v| v == 0 || v == 255));
        // Nearest neighbour at 2x: every 2x2 block of the mask is one pixel of the original.
        assert_eq!(GrayU8::from_fn(128, 128, |x, y| big_mask.get(2 * x, 2 * y)), mask);
        assert_eq!(big.dims(), (256, 256));
    }

    // `eval` of a written folder gives the row of its shift.
    let rows = run("robustness", &dir, &["--json"]);
    assert!(rows.status.success(), "{}", stderr(&rows));
    let rows: Value = serde_json::from_slice(&rows.stdout).unwrap();
    for shift in ["invert", "scale-2x", "noise-15"] {
        let eval = run("eval", &out.join(shift), &["--json"]);
        assert!(eval.status.success(), "{}", stderr(&eval));
        let eval: Value = serde_json::from_slice(&eval.stdout).unwrap();
        let row = rows["shifts"].as_array().unwrap().iter().find(|r| r["shift"] == shift).unwrap();
        assert_eq!(eval["stack"], row["stack"], "{shift}");
    }

    let output = run("robustness", &dir, &["--write-shifts", out.to_str().unwrap(), "--json"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--json"), "{}", stderr(&output));
}
