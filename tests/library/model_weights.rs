//! The weights file: round trips in f32 and f16, clear errors on bad files, and the
//! shipped weights.

use burn::tensor::{Device, Tensor, TensorData};
use unetseg::model::{self, Precision, UNet, UNetConfig};
use unetseg::train::validate::whole_image_logits;
use unetseg::Raster;

use crate::support::{isbi, repo};

fn input(device: &Device) -> Tensor<4> {
    let data: Vec<f32> = (0..32 * 32).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
    Tensor::from_data(TensorData::new(data, [1, 1, 32, 32]), device)
}

fn logits(model: &UNet, device: &Device) -> Vec<f32> {
    model.forward(input(device)).into_data().try_to_vec::<f32>().unwrap()
}

fn small_model(device: &Device) -> UNet {
    UNet::new(&UNetConfig::compact().with_base_channels(4), device).unwrap()
}

/// Rewrites the `unetseg_config` metadata of a weights file with `edit`.
fn with_edited_config(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let meta = header.get_mut("__metadata__").unwrap();
    let mut config: serde_json::Value = serde_json::from_str(meta["unetseg_config"].as_str().unwrap()).unwrap();
    edit(&mut config);
    meta["unetseg_config"] = serde_json::Value::String(config.to_string());
    let mut text = header.to_string().into_bytes();
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

#[test]
fn f32_round_trip_gives_identical_logits() {
    let device = Device::flex();
    let model = small_model(&device);
    let bytes = model::to_bytes(&model, Precision::F32).unwrap();
    let loaded = model::load_from_bytes(&bytes, "mem.safetensors", &device).unwrap();
    assert_eq!(loaded.config(), model.config());
    assert_eq!(logits(&loaded, &device), logits(&model, &device));
}

#[test]
fn f16_round_trip_gives_close_logits_at_half_the_size() {
    let device = Device::flex();
    let model = small_model(&device);
    let full = model::to_bytes(&model, Precision::F32).unwrap();
    let half = model::to_bytes(&model, Precision::F16).unwrap();
    assert!(half.len() * 10 < full.len() * 6, "f16 {} vs f32 {}", half.len(), full.len());
    let loaded = model::load_from_bytes(&half, "half.safetensors", &device).unwrap();
    let (a, b) = (logits(&model, &device), logits(&loaded, &device));
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-2, "largest logit difference {worst}");
    assert_ne!(a, b, "f16 storage should round the weights");
}

#[test]
fn save_and_load_through_a_file() {
    let device = Device::flex();
    let model = small_model(&device);
    let path = std::env::temp_dir().join(format!("unetseg-model-weights-{}.safetensors", std::process::id()));
    model::save(&model, &path, Precision::F32).unwrap();
    let loaded = model::load(&path, &device).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(logits(&loaded, &device), logits(&model, &device));
}

#[test]
fn corrupt_and_foreign_files_give_errors_naming_the_file() {
    let device = Device::flex();
    let bytes = model::to_bytes(&small_model(&device), Precision::F32).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.safetensors", Vec::new()),
        ("truncated.safetensors", bytes[..bytes.len() / 2].to_vec()),
        ("garbage.safetensors", b"\xff\xff\xff\xff\xff\xff\xff\x7fnot a header".to_vec()),
        ("header-only.safetensors", bytes[..100].to_vec()),
        ("noconfig.safetensors", with_edited_config(&bytes, |c| *c = serde_json::json!({"depth": "five"}))),
    ];
    for (name, data) in cases {
        let err = model::load_from_bytes(&data, name, &device).err().expect(name).to_string();
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn shape_mismatch_between_config_and_tensors_is_an_error() {
    let device = Device::flex();
    let bytes = model::to_bytes(&small_model(&device), Precision::F32).unwrap();
    let wider = with_edited_config(&bytes, |c| c["base_channels"] = 8.into());
    let err = model::load_from_bytes(&wider, "wider.safetensors", &device).err().unwrap().to_string();
    assert!(err.contains("wider.safetensors"), "{err}");
    let shallower = with_edited_config(&bytes, |c| c["depth"] = 4.into());
    let err = model::load_from_bytes(&shallower, "shallower.safetensors", &device).err().unwrap().to_string();
    assert!(err.contains("shallower.safetensors"), "{err}");
}

#[test]
fn the_default_weights_load_as_the_compact_preset() {
    let device = Device::flex();
    let model = model::load_from_bytes(model::default_weights_bytes(), "default", &device).unwrap();
    assert_eq!(model.config(), &UNetConfig::compact());
    assert!(model::default_weights_bytes().len() <= 10 << 20);
}

#[test]
fn the_robust_weights_load_as_compact_without_batch_norm_and_segment_a_slice() {
    let device = Device::flex();
    let model = model::load(repo("weights/robust.safetensors"), &device).unwrap();
    assert_eq!(model.config(), &UNetConfig::compact());
    // The top-left 128² of held-out slice 25: the 0.5 cut agrees with the mask.
    let crop = |kind| {
        let full = unetseg::imageio::read_gray8(&isbi(kind, "25")).unwrap();
        Raster::from_fn(128, 128, |x, y| full.get(x, y))
    };
    let (image, mask) = (crop("images"), crop("masks"));
    let logits = whole_image_logits(&model, &image, &device).unwrap();
    let values = logits.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let (membrane, cell) = values.split_at(128 * 128);
    let agree = (0..128 * 128).filter(|&i| (cell[i] > membrane[i]) == (mask.data()[i] > 127)).count();
    assert!(agree as f64 > 0.85 * (128.0 * 128.0), "{agree} of {} pixels agree", 128 * 128);
}
