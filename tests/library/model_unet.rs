//! Shapes, size arithmetic and parameter counts of the U-Net presets.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use unetseg::model::{Padding, UNet, UNetConfig};

fn ramp(n: usize, size: usize, device: &Device) -> Tensor<4> {
    let data: Vec<f32> = (0..n * size * size).map(|i| (i % 251) as f32 / 250.0).collect();
    Tensor::from_data(TensorData::new(data, [n, 1, size, size]), device)
}

#[test]
fn seed_preset_is_the_original_clean_unet() {
    let seed = UNetConfig::seed();
    assert_eq!((seed.depth, seed.base_channels, seed.padding, seed.batch_norm), (5, 64, Padding::Valid, false));
    assert_eq!(seed.output_size(572), Some(388));
    assert_eq!(seed.margin(), 92);
    assert_eq!(seed.output_size(571), None);
    assert_eq!(seed.output_size(100), None);
    assert_eq!(seed.valid_input_size_at_least(500), 508);
    assert_eq!(seed.valid_input_size_at_least(572), 572);
    // CleanU_Net has 31,030,658 parameters (sum of p.numel() of the PyTorch model).
    assert_eq!(seed.parameter_count(), 31_030_658);
    let model = UNet::new(&seed, &Device::flex()).unwrap();
    assert_eq!(model.num_params(), seed.parameter_count());
}

#[test]
fn compact_preset_has_the_seed_layout_with_same_padding() {
    let compact = UNetConfig::compact();
    assert_eq!(compact, UNetConfig { base_channels: 16, padding: Padding::Same, ..UNetConfig::seed() });
    assert_eq!(compact.output_size(512), Some(512));
    assert_eq!(compact.output_size(520), None);
    assert_eq!(compact.valid_input_size_at_least(500), 512);
    assert_eq!(compact.margin(), 0);
    let model = UNet::new(&compact, &Device::flex()).unwrap();
    assert_eq!(model.num_params(), compact.parameter_count());
    let with_norm = UNetConfig { batch_norm: true, ..compact };
    let model = UNet::new(&with_norm, &Device::flex()).unwrap();
    // burn also counts the running mean and variance, as many values as scale and shift.
    let norm_params = with_norm.parameter_count() - compact.parameter_count();
    assert_eq!(norm_params, 2 * (2 * (16 + 32 + 64 + 128 + 256) + 2 * (128 + 64 + 32 + 16)));
    assert_eq!(model.num_params(), with_norm.parameter_count() + norm_params);
}

#[test]
fn seed_layout_maps_572_to_388() {
    let device = Device::flex();
    let config = UNetConfig::seed().with_base_channels(2);
    let model = UNet::new(&config, &device).unwrap();
    assert_eq!(model.forward(ramp(1, 572, &device)).dims(), [1, 2, 388, 388]);
}

#[test]
fn compact_layout_keeps_the_size() {
    let device = Device::flex();
    let config = UNetConfig::compact().with_base_channels(4);
    let model = UNet::new(&config, &device).unwrap();
    let logits = model.forward(ramp(2, 64, &device));
    assert_eq!(logits.dims(), [2, 2, 64, 64]);
    let values = logits.into_data().try_to_vec::<f32>().unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
}

#[test]
fn invalid_configs_are_rejected() {
    let device = Device::flex();
    assert!(UNet::new(&UNetConfig { depth: 0, ..UNetConfig::compact() }, &device).is_err());
    assert!(UNet::new(&UNetConfig::compact().with_base_channels(0), &device).is_err());
}

#[test]
fn folding_batch_norm_keeps_the_inference_outputs() {
    let device = Device::flex();
    let config = UNetConfig { batch_norm: true, ..UNetConfig::compact().with_base_channels(4) };
    let trained = UNet::new(&config, &device.clone().autodiff()).unwrap();
    // Two training-mode passes move the running statistics away from 0 and 1.
    for _ in 0..2 {
        let _ = trained.forward(ramp(2, 32, &device.clone().autodiff()));
    }
    let with_norm = trained.valid();
    let expected = with_norm.forward(ramp(1, 32, &device)).into_data().try_to_vec::<f32>().unwrap();
    let folded = with_norm.fold_batch_norm();
    assert!(!folded.config().batch_norm);
    assert_eq!(folded.num_params(), UNetConfig { batch_norm: false, ..config }.parameter_count());
    let got = folded.forward(ramp(1, 32, &device)).into_data().try_to_vec::<f32>().unwrap();
    let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "largest difference {worst}");
}
