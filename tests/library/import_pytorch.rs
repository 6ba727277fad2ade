//! PyTorch import against logits that real PyTorch computed for the same weights.
//!
//! Fixtures (tests/fixtures/pytorch/, made by make_fixture.py there with torch
//! 2.x): the original CleanU_Net at reduced widths with seeded random weights,
//! - valid_base4.pt (torch.save of the state_dict; padding 0 like `seed`, base 4),
//!   valid_base4_input.png (204x204) and valid_base4_logits.npy ([2, 20, 20]);
//! - same_base2.safetensors (padding 1 like `compact`, base 2),
//!   same_base2_input.png (64x64) and same_base2_logits.npy ([2, 64, 64]).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use unetseg::imageio::read_gray8;
use unetseg::import::{expected_parameters, import_state_dict, infer_base_channels};
use unetseg::inference::MinMax;
use unetseg::model::{UNet, UNetConfig};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch").join(name)
}

/// Shape and values of a little-endian float32 C-order .npy file.
fn read_npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"), "{header}");
    let shape_text = header.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape: Vec<usize> =
        shape_text.split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().unwrap()).collect();
    let values = bytes[10 + header_len..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    (shape, values)
}

/// Logits of `model` on the fixture image, min-max normalised like the original.
fn logits(model: &UNet, image: &str) -> (Vec<usize>, Vec<f32>) {
    let image = read_gray8(&fixture(image)).unwrap();
    let scale = MinMax::of(&image);
    let pixels: Vec<f32> = image.data().iter().map(|&v| scale.apply(v.into())).collect();
    let input = Tensor::<4>::from_data(TensorData::new(pixels, [1, 1, image.height(), image.width()]), &Device::flex());
    let out = model.forward(input);
    let shape = out.dims()[1..].to_vec();
    (shape, out.into_data().try_to_vec::<f32>().unwrap())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn check_against_torch(state_dict: &str, preset: UNetConfig, base: usize, stem: &str) {
    let path = fixture(state_dict);
    assert_eq!(infer_base_channels(&path).unwrap(), base);
    let model = import_state_dict(&path, &preset.with_base_channels(base), &Device::flex()).unwrap();
    let (shape, ours) = logits(&model, &format!("{stem}_input.png"));
    let (torch_shape, torch) = read_npy_f32(&fixture(&format!("{stem}_logits.npy")));
    assert_eq!(shape, torch_shape);
    let spread = torch.iter().map(|v| v.abs()).fold(0.0, f32::max);
    assert!(spread > 0.1, "the fixture logits are too flat to test anything ({spread})");
    let diff = max_abs_diff(&ours, &torch);
    println!("{state_dict}: max |burn - torch| = {diff:e} (largest |logit| {spread})");
    assert!(diff < 1e-4, "{state_dict}: max |burn - torch| = {diff}");
}

#[test]
fn pt_state_dict_with_valid_convolutions_matches_torch() {
    check_against_torch("valid_base4.pt", UNetConfig::seed(), 4, "valid_base4");
}

#[test]
fn safetensors_state_dict_with_same_convolutions_matches_torch() {
    check_against_torch("same_base2.safetensors", UNetConfig::compact(), 2, "same_base2");
}

#[test]
fn wrong_width_reports_every_mismatched_shape_by_name() {
    let err = import_state_dict(&fixture("valid_base4.pt"), &UNetConfig::seed().with_base_channels(8), &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(err.contains("valid_base4.pt"), "{err}");
    for name in ["Conv_down1.conv.conv.0.weight", "Conv_up1.up.weight", "Conv_out.weight"] {
        assert!(err.contains(&format!("{name} has shape")), "{name} not reported: {err}");
    }
}

#[test]
fn missing_and_unexpected_names_are_listed() {
    // Base 2 at depth 4 expects no Conv_down5/Conv_up4 and fewer channels: the
    // file's extra level shows as unexpected names.
    let shallow = UNetConfig { depth: 4, ..UNetConfig::compact().with_base_channels(2) };
    let err = import_state_dict(&fixture("same_base2.safetensors"), &shallow, &Device::flex()).unwrap_err().to_string();
    assert!(err.contains("unexpected: ") && err.contains("Conv_down5.conv.conv.0.bias"), "{err}");
    let deeper = UNetConfig { depth: 6, ..UNetConfig::compact().with_base_channels(2) };
    let err = import_state_dict(&fixture("same_base2.safetensors"), &deeper, &Device::flex()).unwrap_err().to_string();
    assert!(
        err.contains("missing: ") && err.contains("Conv_down6.conv.conv.2.weight") && err.contains("Conv_up5.up.bias"),
        "{err}"
    );
}

#[test]
fn unknown_format_and_unreadable_files_are_errors() {
    let err = import_state_dict(&fixture("valid_base4_input.png"), &UNetConfig::seed(), &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("valid_base4_input.png"), "{err}");
    let err = infer_base_channels(&fixture("no_such_file.pt")).unwrap_err();
    assert!(err.to_string().contains("no_such_file.pt"), "{err}");
}

#[test]
fn expected_names_cover_the_fixture_exactly() {
    let names: Vec<String> =
        expected_parameters(&UNetConfig::compact().with_base_channels(2)).into_iter().map(|p| p.pytorch).collect();
    assert_eq!(names.len(), 46);
    assert!(names.contains(&"Conv_up4.conv.conv.2.weight".to_string()));
}
