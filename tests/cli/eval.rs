//! `unetseg eval` end to end with the built-in default weights on crops of the
//! held-out slices data/isbi2012/train/{images,masks}/{24,25}.png (cropped by
//! the test itself): per-image and mean metrics and the stack value (the challenge's
//! rule), as a table and as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use unetseg::imageio::{read_gray8, write_png_u8};
use unetseg::GrayU8;

use crate::support::metric_keys;
use crate::support::{repo, scratch, unetseg};
use metric_keys::METRIC_KEYS as KEYS;

/// A fresh data folder `name` with empty `images/` and `masks/`.
fn data_dir(name: &str) -> PathBuf {
    let dir = scratch(&format!("eval-{name}"));
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::create_dir_all(dir.join("masks")).unwrap();
    dir
}

/// Writes the top-left 96x80 of `data/{images,masks}/{n}.png` into `dir`.
fn crop_pair(dir: &Path, n: &str) {
    let data = repo("data/isbi2012/train");
    for kind in ["images", "masks"] {
        let full = read_gray8(&data.join(kind).join(format!("{n}.png"))).unwrap();
        let crop = GrayU8::from_fn(96, 80, |x, y| full.get(x, y));
        write_png_u8(&dir.join(kind).join(format!("{n}.png")), &crop).unwrap();
    }
}

fn eval(dir: &Path, json: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unetseg"));
    cmd.arg("eval").arg("--images").arg(dir.join("images")).arg("--masks").arg(dir.join("masks"));
    if json {
        cmd.arg("--json");
    }
    cmd.output().unwrap()
}

#[test]
fn json_has_every_image_the_mean_and_the_stack_with_the_metrics_keys() {
    let dir = data_dir("json");
    crop_pair(&dir, "24");
    crop_pair(&dir, "25");
    let output = eval(&dir, true);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let images = doc["images"].as_array().unwrap();
    let names: Vec<&str> = images.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["24", "25"]);
    for key in KEYS {
        let values: Vec<f64> = images.iter().map(|i| i[key].as_f64().unwrap()).collect();
        assert!(values.iter().all(|v| (0.0..=1.0).contains(v)), "{key}: {values:?}");
        let mean = doc["mean"][key].as_f64().unwrap();
        assert!((mean - (values[0] + values[1]) / 2.0).abs() < 1e-12, "{key}");
    }
    assert_eq!(doc["mean"].as_object().unwrap().len(), KEYS.len());
    // The stack: one threshold for both images, so at most the mean of their best scores;
    // its pixel scores are the means.
    let stack = &doc["stack"];
    assert_eq!(stack.as_object().unwrap().len(), KEYS.len());
    for key in ["v_rand", "v_info"] {
        assert!(stack[key].as_f64().unwrap() <= doc["mean"][key].as_f64().unwrap() + 1e-12, "{key}");
    }
    for key in ["pixel_accuracy", "iou_cell", "dice_membrane"] {
        assert!((stack[key].as_f64().unwrap() - doc["mean"][key].as_f64().unwrap()).abs() < 1e-12, "{key}");
    }
}

/// The held-out slices 24-26 (never trained on, picked with `--slices` out of the 27
/// shipped ones) through `eval` with the built-in weights: a floor under what their
/// probability maps score as a stack (pixel accuracy 0.9316, V_rand 0.989, see
/// weights/README.md), so that a broken network, engine or weights file fails here
/// while float-level differences do not.
#[test]
fn default_weights_segment_the_held_out_slices_well() {
    let data = repo("data/isbi2012/train");
    let output = unetseg([
        "eval".as_ref(),
        "--images".as_ref(),
        data.join("images").as_os_str(),
        "--masks".as_ref(),
        data.join("masks").as_os_str(),
        "--slices".as_ref(),
        "24..26".as_ref(),
        "--json".as_ref(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = doc["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["24", "25", "26"]);
    let (accuracy, v_rand) =
        (doc["stack"]["pixel_accuracy"].as_f64().unwrap(), doc["stack"]["v_rand"].as_f64().unwrap());
    assert!(accuracy > 0.925 && v_rand > 0.97, "pixel accuracy {accuracy}, V_rand {v_rand}");
}

#[test]
fn table_lists_each_image_then_the_mean_and_the_stack() {
    let dir = data_dir("table");
    crop_pair(&dir, "24");
    let output = eval(&dir, false);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].contains("pixel_acc") && lines[0].contains("v_rand"));
    assert!(lines[1].starts_with("24 ") && lines[2].starts_with("mean ") && lines[3].starts_with("stack "));
    // A stack of one image is that image.
    assert_eq!(
        lines[1].split_whitespace().skip(1).collect::<Vec<_>>(),
        lines[3].split_whitespace().skip(1).collect::<Vec<_>>()
    );
}

#[test]
fn an_image_without_a_mask_is_named() {
    let dir = data_dir("nomask");
    crop_pair(&dir, "24");
    std::fs::copy(dir.join("images/24.png"), dir.join("images/lonely.png")).unwrap();
    let output = eval(&dir, false);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lonely.png") && stderr.contains("no mask named lonely"), "{stderr}");
}
