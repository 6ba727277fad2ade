//! `unetseg train` end to end: bad data is refused before training, and a tiny
//! run (base_channels 4, 64x64 crops of the committed slices) lowers its loss and
//! writes its history, plots, checkpoints and best model; resume continues it.

use std::path::{Path, PathBuf};

use crate::support::{scratch, unetseg};
use unetseg::imageio::{read_gray8, write_png_u8};
use unetseg::Raster;

/// A fresh data folder `name` with empty `images/` and `masks/`.
fn data_dir(name: &str) -> PathBuf {
    let dir = scratch(&format!("train-{name}"));
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::create_dir_all(dir.join("masks")).unwrap();
    dir
}

/// Copies the top-left `size` x `size` of committed slice `slice` into `dir` as `name`.
fn add_slice(dir: &Path, slice: &str, name: &str, size: usize) {
    for kind in ["images", "masks"] {
        let full = read_gray8(&Path::new("data/isbi2012/train").join(kind).join(format!("{slice}.png"))).unwrap();
        let crop = Raster::from_fn(size, size, |x, y| full.get(x, y));
        write_png_u8(&dir.join(kind).join(name), &crop).unwrap();
    }
}

fn train_error(data: &Path) -> String {
    let out = data.join("run");
    let o = unetseg(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--val",
        "0",
        "--epochs",
        "1",
        "--quiet",
    ]);
    assert!(!o.status.success());
    assert!(!out.join("checkpoint.safetensors").exists(), "nothing may be trained on bad data");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_data_is_refused_before_training_with_the_file_named() {
    let empty = data_dir("empty");
    assert!(train_error(&empty).contains("images"));

    let missing = data_dir("missing");
    add_slice(&missing, "24", "a.png", 64);
    std::fs::remove_file(missing.join("masks/a.png")).unwrap();
    let err = train_error(&missing);
    assert!(err.contains("a.png") && err.contains("no mask"), "{err}");

    let mismatch = data_dir("mismatch");
    add_slice(&mismatch, "24", "a.png", 64);
    write_png_u8(&mismatch.join("masks/a.png"), &Raster::filled(32, 64, 255)).unwrap();
    let err = train_error(&mismatch);
    assert!(err.contains("masks/a.png") && err.contains("32x64"), "{err}");

    // 0, 128 (unlabelled) and 255 are the values of a training mask; 77 is none of them.
    let gray = data_dir("gray");
    add_slice(&gray, "24", "a.png", 64);
    write_png_u8(&gray.join("masks/a.png"), &Raster::from_fn(64, 64, |x, _| [0, 128, 255, 77][x % 4])).unwrap();
    let err = train_error(&gray);
    assert!(err.contains("masks/a.png") && err.contains("77 (1024 pixels, the first at x 3, y 0)"), "{err}");

    for dir in [empty, missing, mismatch, gray] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// `unetseg train` with `args` after `--data DATA --out RUN --quiet`.
fn train_run(data: &Path, run: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["train", "--data", data.to_str().unwrap(), "--out", run.to_str().unwrap(), "--quiet"];
    all.extend(args);
    unetseg(&all)
}

#[test]
fn init_fine_tunes_the_default_weights_on_a_3_level_annotation() {
    let data = data_dir("init");
    add_slice(&data, "24", "a.png", 128);
    add_slice(&data, "25", "b.png", 128);
    add_slice(&data, "26", "z.png", 128);
    // b.png's mask becomes the page's annotation: its left half unlabelled (128).
    let mask = read_gray8(&data.join("masks/b.png")).unwrap();
    let annotation = Raster::from_fn(128, 128, |x, y| if x < 64 { 128 } else { mask.get(x, y) });
    write_png_u8(&data.join("masks/b.png"), &annotation).unwrap();
    let weights = crate::support::repo("weights/default.safetensors");
    let weights = weights.to_str().unwrap();

    // At a learning rate of 1e-12 the weights stay the default ones to float rounding,
    // so the validation loss after the epoch is the default network's on z.png (a
    // network trained from random weights would be far from it).
    let run = data.join("run");
    let common = ["--val", "1", "--epochs", "1", "--batch", "2", "--crop", "128"];
    let o = train_run(&data, &run, &[&common[..], &["--init", weights, "--lr", "1e-12"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = history(&run);
    assert_eq!(rows.len(), 1);
    let val_loss: f64 = rows[0][3].parse().unwrap();
    let device = burn::tensor::Device::flex();
    let default = unetseg::model::load(weights, &device).unwrap();
    let z = unetseg::train::data::Slice {
        name: "z.png".into(),
        image: read_gray8(&data.join("images/z.png")).unwrap(),
        mask: read_gray8(&data.join("masks/z.png")).unwrap(),
    };
    let plain = unetseg::train::loss::LossWeighting::plain(2);
    let expected = unetseg::train::validate::validate(&default, &[z], &plain, &device).unwrap().loss;
    assert!((val_loss - expected).abs() < 1e-4, "val loss {val_loss}, the default network's {expected}");
    let options: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(options["init"].as_str(), Some(weights));
    assert_eq!(unetseg::model::load(run.join("best.safetensors"), &device).unwrap().config(), default.config());

    // The weights' architecture wins: asking for another is refused, as is --init on resume.
    for (extra, option) in [("--batch-norm", "--batch-norm"), ("--model=seed", "--model")] {
        let o = train_run(&data, &data.join("refused"), &[&common[..], &["--init", weights, extra]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("default.safetensors") && err.contains(option), "{err}");
    }
    // V_rand needs complete masks: an annotation may train but not validate.
    let o = train_run(&data, &data.join("refused"), &["--val-slices", "1..1", "--init", weights]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("b.png") && err.contains("unlabelled"), "{err}");
    let o = unetseg(&["train", "--resume", run.to_str().unwrap(), "--init", weights, "--quiet"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--init") && err.contains("--resume"), "{err}");
    std::fs::remove_dir_all(data).unwrap();
}

#[test]
fn sparse_scribbles_are_found_in_a_large_slice() {
    // Three short strokes in a 512² annotation, the rest unlabelled: a blind 64² crop
    // holds one of them about once in 20, so most steps would have nothing to learn
    // from (loss 0). Crops are drawn around labelled pixels instead: every step of
    // every epoch has a loss.
    let data = data_dir("sparse");
    add_slice(&data, "24", "a.png", 512);
    let mask = read_gray8(&data.join("masks/a.png")).unwrap();
    let stroke = |x: usize, y: usize| (y == 400 && (380..400).contains(&x)) || (x == 100 && (20..40).contains(&y));
    let scribbles = Raster::from_fn(512, 512, |x, y| if stroke(x, y) { mask.get(x, y) } else { 128 });
    write_png_u8(&data.join("masks/a.png"), &scribbles).unwrap();
    let run = data.join("run");
    let args = ["--val", "0", "--epochs", "6", "--batch", "1", "--crop", "64", "--base-channels", "4", "--seed", "5"];
    let o = train_run(&data, &run, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let losses: Vec<f64> = history(&run).iter().map(|row| row[1].parse().unwrap()).collect();
    assert_eq!(losses.len(), 6);
    assert!(losses.iter().all(|&l| l > 0.0 && l.is_finite()), "train losses {losses:?}");
    std::fs::remove_dir_all(data).unwrap();
}

fn history(run: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(run.join("history.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("epoch,train_loss,train_acc,val_loss,val_acc,val_v_rand"));
    lines.map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

#[test]
fn a_tiny_run_lowers_the_loss_writes_its_files_and_resumes() {
    let data = data_dir("smoke");
    for (slice, name) in [("24", "00.png"), ("25", "01.png"), ("26", "02.png")] {
        add_slice(&data, slice, name, 96);
    }
    let run = data.join("run");
    let o = unetseg(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--val",
        "1",
        "--model",
        "compact",
        "--base-channels",
        "4",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--epochs",
        "8",
        "--batch",
        "2",
        "--crop",
        "64",
        "--seed",
        "3",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for file in [
        "history.csv",
        "loss.svg",
        "accuracy.svg",
        "checkpoint.safetensors",
        "best.safetensors",
        "best-f16.safetensors",
        "run.json",
        "state.json",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let rows = history(&run);
    assert_eq!(rows.len(), 8);
    let loss = |row: &Vec<String>| row[1].parse::<f64>().unwrap();
    let first: f64 = rows[..2].iter().map(loss).sum::<f64>();
    let last: f64 = rows[6..].iter().map(loss).sum::<f64>();
    assert!(last < first, "training loss did not go down: {rows:?}");
    assert!(rows.iter().all(|r| r[5].parse::<f64>().is_ok()), "every epoch validated: {rows:?}");
    let device = burn::tensor::Device::flex();
    let best = unetseg::model::load(run.join("best.safetensors"), &device).unwrap();
    assert_eq!(best.config().base_channels, 4);

    let o = unetseg(&["train", "--resume", run.to_str().unwrap(), "--epochs", "9", "--lr", "0.001", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = history(&run);
    assert_eq!(rows.len(), 9);
    assert_eq!(rows[8][0], "9");
    let options: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(options["lr"], 0.001);
    assert_eq!(options["epochs"], 9);
    assert!(!run.join("average.safetensors").exists());

    // A cosine schedule set on resume decays the rate towards --lr-min over the epochs left.
    let o = unetseg(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--epochs",
        "10",
        "--lr-schedule",
        "cosine",
        "--lr-min",
        "0.0001",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lr: f64 = stderr.split("epoch 10: lr ").nth(1).and_then(|t| t.split(',').next()).unwrap().parse().unwrap();
    // The last step of 10 epochs of 1 step each starts at progress 0.9.
    let expected = 1e-4 + 0.5 * 9e-4 * (1.0 + (0.9 * std::f64::consts::PI).cos());
    assert!((lr - expected).abs() < 1e-7, "lr {lr} expected {expected}: {stderr}");
    let options: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(options["lr_schedule"], serde_json::json!({"kind": "cosine", "min": 0.0001}));
    let o = unetseg(&["train", "--resume", run.to_str().unwrap(), "--lr-min", "0.5", "--quiet"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--lr-min"));

    // A weight average can be switched on when resuming; it is saved and resumed too.
    // So can the border weight map (a fine-tuning stage).
    for (epochs, extra) in [("11", None), ("12", Some("--border-weights"))] {
        let mut args = vec!["train", "--resume", run.to_str().unwrap(), "--epochs", epochs, "--ema", "0.9", "--quiet"];
        args.extend(extra);
        let o = unetseg(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(history(&run).len(), 12);
    let options: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!((options["ema"].as_f64(), options["border_weights"].as_bool()), (Some(0.9), Some(true)));
    let average = unetseg::model::load(run.join("average.safetensors"), &device).unwrap();
    assert_eq!(average.config().base_channels, 4);
    let o = unetseg(&["train", "--resume", run.to_str().unwrap(), "--ema", "1.5", "--quiet"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("decay"));
    std::fs::remove_dir_all(data).unwrap();
}

/// Logits of `net` on a fixed 1x1x32x32 ramp.
fn ramp_logits(net: &unetseg::model::UNet) -> Vec<f32> {
    let device = burn::tensor::Device::flex();
    let pixels: Vec<f32> = (0..32 * 32).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
    let x = burn::tensor::Tensor::<4>::from_data(burn::tensor::TensorData::new(pixels, [1, 1, 32, 32]), &device);
    net.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

#[test]
fn the_weight_average_is_the_mean_of_its_epochs_and_resumes() {
    let data = data_dir("swa");
    for (slice, name) in [("24", "00.png"), ("25", "01.png"), ("26", "02.png")] {
        add_slice(&data, slice, name, 96);
    }
    let run = data.join("run");
    let device = burn::tensor::Device::flex();
    let load = |name: &str| unetseg::model::load(run.join(name), &device).unwrap();
    let run_arg = run.to_str().unwrap();
    let o = unetseg(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        run_arg,
        "--val",
        "1",
        "--base-channels",
        "4",
        "--lr",
        "0.01",
        "--epochs",
        "2",
        "--batch",
        "2",
        "--crop",
        "64",
        "--swa-from",
        "2",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("weight average of epoch 2: val loss"), "{stdout}");
    // One epoch in the mean: it is that epoch's network.
    let epoch2 = load("checkpoint.safetensors");
    assert_eq!(ramp_logits(&load("swa.safetensors")), ramp_logits(&epoch2));
    std::fs::copy(run.join("checkpoint.safetensors"), data.join("epoch2.safetensors")).unwrap();

    let o = unetseg(&["train", "--resume", run_arg, "--epochs", "3", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("weight average of epochs 2-3: val loss"));
    let epoch3 = load("checkpoint.safetensors");
    assert_ne!(ramp_logits(&epoch3), ramp_logits(&epoch2), "epoch 3 must have trained");
    // Resumed, the mean covers both epochs: the same network as blending the two.
    let blended = data.join("blend.safetensors");
    let o = unetseg(&[
        "blend",
        "--weights",
        data.join("epoch2.safetensors").to_str().unwrap(),
        run.join("checkpoint.safetensors").to_str().unwrap(),
        "--precision",
        "f32",
        "--out",
        blended.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mean = ramp_logits(&load("swa.safetensors"));
    let expected = ramp_logits(&unetseg::model::load(&blended, &device).unwrap());
    for (a, b) in mean.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    // The exported copy is the same network in f16.
    for (a, b) in ramp_logits(&load("swa-f16.safetensors")).iter().zip(&mean) {
        assert!((a - b).abs() < 0.05 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let o = unetseg(&["train", "--resume", run_arg, "--swa-from", "0", "--quiet"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--swa-from"));
    std::fs::remove_dir_all(data).unwrap();
}

#[test]
fn a_robust_run_with_a_test_block_keeps_its_recipe_on_resume() {
    let data = data_dir("robust");
    for (slice, name) in [("21", "00.png"), ("22", "01.png"), ("23", "02.png"), ("24", "03.png")] {
        add_slice(&data, slice, name, 96);
    }
    let run = data.join("run");
    let run_arg = run.to_str().unwrap();
    let base = ["--data", data.to_str().unwrap(), "--base-channels", "4", "--batch", "2", "--crop", "64", "--quiet"];
    let train = |extra: &[&str]| {
        let mut args = vec!["train"];
        args.extend_from_slice(extra);
        unetseg(args)
    };
    // Ranges need the robust recipe; validation and test blocks may not overlap.
    let o = train(&[&base[..], &["--out", run_arg, "--scale-range", "0.6,1.8"]].concat());
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--augment robust"));
    let o = train(&[&base[..], &["--out", run_arg, "--val-slices", "1..2", "--test-slices", "2..3"]].concat());
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("test slices 2..3"));

    // Validation on slice 1 (not at the end), slice 3 left out of both.
    let o = train(
        &[
            &base[..],
            &[
                "--out",
                run_arg,
                "--val-slices",
                "1..1",
                "--test-slices",
                "3..3",
                "--augment",
                "robust",
                "--scale-range",
                "0.6,1.8",
                "--invert-probability",
                "0.25",
                "--normalization",
                "percentile",
                "--epochs",
                "1",
            ],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let options = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap()
    };
    let saved = options();
    assert_eq!(saved["test_slices"], serde_json::json!([3, 3]));
    assert_eq!(saved["holdout"], serde_json::json!({"Range": [1, 1]}));
    assert_eq!(saved["augment"]["recipe"], "robust");
    assert_eq!(
        (saved["augment"]["scale_min"].as_f64(), saved["augment"]["scale_max"].as_f64()),
        (Some(0.6), Some(1.8))
    );
    assert_eq!(saved["augment"]["gamma_max"].as_f64(), Some(2.0));
    assert_eq!(saved["augment"]["invert_probability"].as_f64(), Some(0.25));
    let device = burn::tensor::Device::flex();
    let best = unetseg::model::load(run.join("best.safetensors"), &device).unwrap();
    assert_eq!(best.config().normalization, unetseg::normalization::Normalization::Percentile);
    assert!(history(&run)[0][5].parse::<f64>().is_ok(), "validated");

    // Resumed, the run keeps its recipe and blocks; --augment switches the recipe.
    let o = train(&["--resume", run_arg, "--epochs", "2", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(options()["augment"], saved["augment"]);
    assert_eq!(options()["test_slices"], saved["test_slices"]);
    let o = train(&["--resume", run_arg, "--epochs", "3", "--augment", "original", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(options()["augment"], serde_json::json!({"recipe": "original"}));
    assert_eq!(history(&run).len(), 3);
    let o = train(&["--resume", run_arg, "--test-slices", "2..2", "--quiet"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("cannot change on resume"));
    std::fs::remove_dir_all(data).unwrap();
}
