//! `unetseg import-pytorch` then `unetseg forward`, end to end, against the logits
//! PyTorch computed (fixtures in tests/fixtures/pytorch/, made by make_fixture.py
//! there), and `forward`'s refusal of sizes the network cannot take.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::npy;

use crate::support::{scratch, unetseg};
use npy::read_npy_f32;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch").join(name)
}

/// `unetseg import-pytorch --state-dict STATE_DICT --preset PRESET [EXTRA...] --out WEIGHTS`.
fn import(state_dict: &Path, preset: &str, extra: &[&str], weights: &Path) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "import-pytorch".as_ref(),
        "--state-dict".as_ref(),
        state_dict.as_os_str(),
        "--preset".as_ref(),
        preset.as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend([std::ffi::OsStr::new("--out"), weights.as_os_str()]);
    unetseg(&args)
}

/// `unetseg forward --weights WEIGHTS --input INPUT --out OUT`.
fn forward(weights: &Path, input: &Path, out: &Path) -> Output {
    unetseg(&[
        "forward".as_ref(),
        "--weights".as_ref(),
        weights.as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

fn import_then_forward(state_dict: &str, preset: &str, stem: &str) {
    let dir = scratch(&format!("import-{stem}"));
    let weights = dir.join("imported.safetensors");
    let out = dir.join("logits.npy");
    let import = import(&fixture(state_dict), preset, &[], &weights);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let input = fixture(&format!("{stem}_input.png"));
    let forward = forward(&weights, &input, &out);
    assert!(forward.status.success(), "{}", String::from_utf8_lossy(&forward.stderr));
    let (shape, ours) = read_npy_f32(&out);
    let (torch_shape, torch) = read_npy_f32(&fixture(&format!("{stem}_logits.npy")));
    assert_eq!(shape, torch_shape);
    let diff = ours.iter().zip(&torch).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "max |unetseg - torch| = {diff}");
}

#[test]
fn imported_pt_runs_like_torch() {
    import_then_forward("valid_base4.pt", "seed", "valid_base4");
}

#[test]
fn imported_safetensors_runs_like_torch() {
    import_then_forward("same_base2.safetensors", "compact", "same_base2");
}

#[test]
fn forward_names_the_sizes_the_network_takes() {
    let dir = scratch("import-badsize");
    let weights = dir.join("imported.safetensors");
    let import = import(&fixture("valid_base4.pt"), "seed", &[], &weights);
    assert!(import.status.success());
    // A 64x64 image is below the valid network's smallest input (188).
    let input = fixture("same_base2_input.png");
    let out = dir.join("logits.npy");
    let forward = forward(&weights, &input, &out);
    assert!(!forward.status.success());
    let stderr = String::from_utf8_lossy(&forward.stderr);
    assert!(
        stderr.contains("same_base2_input.png") && stderr.contains("188, 204, 220") && stderr.contains("nearest: 188"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn import_with_a_wrong_preset_width_fails_naming_the_tensors() {
    let dir = scratch("import-badwidth");
    let out = dir.join("w.safetensors");
    let import = import(&fixture("same_base2.safetensors"), "compact", &["--base-channels", "16"], &out);
    assert!(!import.status.success());
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(
        stderr.contains("Conv_down1.conv.conv.0.weight has shape [2, 1, 3, 3], expected [16, 1, 3, 3]"),
        "{stderr}"
    );
    assert!(!out.exists());
}
