//! `unetseg blend`: the weighted average of networks of one architecture, and the
//! errors that name the file at fault. (That it equals a run's own weight average
//! is checked in `cli_train.rs`.)

use std::path::Path;
use std::process::Output;

use crate::support::{scratch, unetseg};
use burn::tensor::{Device, Tensor, TensorData};
use unetseg::model::{self, Precision, UNet, UNetConfig};

/// `unetseg blend` of `files` (with `--ratios` when given) into an f32 file `out`.
fn blend(files: &[&Path], ratios: Option<&str>, out: &Path) -> Output {
    let mut args: Vec<&str> = vec!["blend", "--weights"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    if let Some(r) = ratios {
        args.extend(["--ratios", r]);
    }
    args.extend(["--precision", "f32", "--out", out.to_str().unwrap()]);
    unetseg(&args)
}

/// Logits of `net` on a fixed 1x1x48x48 ramp.
fn ramp_logits(net: &UNet) -> Vec<f32> {
    let pixels: Vec<f32> = (0..48 * 48).map(|i| ((i * 29) % 97) as f32 / 96.0).collect();
    let x = Tensor::<4>::from_data(TensorData::new(pixels, [1, 1, 48, 48]), &Device::flex());
    net.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn save_random(path: &Path, base_channels: usize) -> UNet {
    let net = UNet::new(&UNetConfig::compact().with_base_channels(base_channels), &Device::flex()).unwrap();
    model::save(&net, path, Precision::F32).unwrap();
    net
}

#[test]
fn blending_a_network_with_itself_gives_it_back() {
    let dir = scratch("blend-self");
    let out = dir.join("out.safetensors");
    let default = Path::new("weights/default.safetensors");
    let o = blend(&[default, default], Some("0.3,0.7"), &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let device = Device::flex();
    let (got, want) = (model::load(&out, &device).unwrap(), model::load(default, &device).unwrap());
    assert_eq!(got.config(), want.config());
    for (a, b) in ramp_logits(&got).iter().zip(&ramp_logits(&want)) {
        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ratios_weigh_the_networks() {
    let dir = scratch("blend-ratios");
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    let net_a = save_random(&a, 2);
    save_random(&b, 2);
    let out = dir.join("out.safetensors");
    let o = blend(&[&a, &b], Some("2,0"), &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1.000 x"), "ratios are rescaled to sum 1");
    let got = model::load(&out, &Device::flex()).unwrap();
    assert_eq!(ramp_logits(&got), ramp_logits(&net_a));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_inputs_are_refused_naming_the_file() {
    let dir = scratch("blend-bad");
    let (small, wide) = (dir.join("small.safetensors"), dir.join("wide.safetensors"));
    save_random(&small, 2);
    save_random(&wide, 4);
    let out = dir.join("out.safetensors");
    let missing = dir.join("missing.safetensors");
    let not_weights = dir.join("notes.safetensors");
    std::fs::write(&not_weights, b"not a weights file").unwrap();
    for (files, ratios, needle) in [
        (vec![small.as_path(), &wide], None, "wide.safetensors: a different architecture"),
        (vec![small.as_path(), &missing], None, "missing.safetensors"),
        (vec![not_weights.as_path()], None, "notes.safetensors"),
        (vec![small.as_path(), &small], Some("1"), "--ratios has 1 values for 2"),
        (vec![small.as_path(), &small], Some("1,-2"), "--ratios: '-2' is not a number >= 0"),
    ] {
        let o = blend(&files, ratios, &out);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && stderr.contains(needle), "{files:?} {ratios:?}: {stderr}");
        assert!(!out.exists(), "nothing is written on error");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
