//! The fine-tuner the page runs (`train::FineTuner`), natively on the CPU from the
//! shipped default weights: the loss on a fixed batch (and on the tuner's own probe
//! batch) falls, sparse scribbles are
//! found and trained on, annotations without a labelled pixel or with other values
//! are refused, and the exported weights load back to the same logits.

use burn::tensor::{Device, Tensor};
use unetseg::annotation::{self, UNLABELLED};
use unetseg::augment::invert;
use unetseg::model::{self, UNet};
use unetseg::train::data::Slice;
use unetseg::train::loss::{self, LossWeighting, Targets};
use unetseg::train::validate::whole_image_logits;
use unetseg::train::{FineTuneOptions, FineTuner};
use unetseg::{GrayU8, Raster};

use crate::support::isbi;

/// The top-left `size`² of shipped slice `slice` with its contrast inverted (a shift the
/// default weights fail on), and its mask.
fn inverted_slice(slice: &str, size: usize) -> (GrayU8, GrayU8) {
    let crop = |kind| {
        let full = unetseg::imageio::read_gray8(&isbi(kind, slice)).unwrap();
        Raster::from_fn(size, size, |x, y| full.get(x, y))
    };
    (invert(&crop("images")), crop("masks"))
}

fn options() -> FineTuneOptions {
    FineTuneOptions { lr: 1e-3, batch: 2, crop: 64, seed: 1, ..FineTuneOptions::default() }
}

fn tuner(slices: Vec<Slice>) -> unetseg::Result<FineTuner> {
    FineTuner::new(model::default_weights_bytes(), "default.safetensors", slices, options(), &Device::flex())
}

/// The masked loss of `net` on the whole of `image` against `mask` (0/128/255).
fn whole_loss(net: &UNet, image: &GrayU8, mask: &GrayU8) -> f32 {
    let device = Device::flex();
    let logits = whole_image_logits(net, image, &device).unwrap();
    let targets = Targets::new(&[&annotation::classes(mask)], 2, &LossWeighting::plain(2), &device).unwrap();
    loss::cross_entropy(logits, &targets).into_scalar::<f32>()
}

fn default_net() -> UNet {
    model::load_from_bytes(model::default_weights_bytes(), "default.safetensors", &Device::flex()).unwrap()
}

#[test]
fn twenty_steps_lower_the_loss_on_a_fixed_batch() {
    let (image, mask) = inverted_slice("24", 128);
    let slice = Slice { name: "24.png".into(), image: image.clone(), mask: mask.clone() };
    let mut tuner = tuner(vec![slice]).unwrap();
    assert!(tuner.uses_gemm_layers(), "the CPU trains through the gemm layers");
    let before = whole_loss(&default_net(), &image, &mask);
    let probe_before = tuner.probe_loss().unwrap();
    let steps: Vec<_> = (0..20).map(|_| tuner.step().unwrap()).collect();
    let after = whole_loss(&tuner.network().unwrap(), &image, &mask);
    assert!(after < 0.8 * before, "loss on the slice {before} -> {after}; steps {steps:?}");
    // The probe batch (drawn once, the same crops each time) sees the same fall.
    let probe_after = tuner.probe_loss().unwrap();
    assert!(probe_after < 0.8 * probe_before, "loss on the probe batch {probe_before} -> {probe_after}");
    assert_eq!(tuner.probe_loss().unwrap(), probe_after, "the probe batch does not change");
    assert_eq!(steps.iter().map(|s| s.step).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    // A full mask: every pixel of each 64² crop pair is labelled.
    assert!(steps.iter().all(|s| s.loss.is_finite() && s.labelled == 2 * 64 * 64), "{steps:?}");
    let json = serde_json::to_value(steps[0]).unwrap();
    assert!(json["loss"].is_number() && json["labelled"] == 2 * 64 * 64, "{json}");
}

#[test]
fn sparse_scribbles_are_found_and_trained_on() {
    // Three short strokes of true labels in a 512² slice, the rest unlabelled: a
    // uniformly placed 64² crop would miss them most of the time.
    let (image, mask) = inverted_slice("25", 512);
    let stroke = |x: usize, y: usize| (y == 400 && (380..420).contains(&x)) || (x == 100 && (20..60).contains(&y));
    let scribbles =
        Raster::from_fn(
            512,
            512,
            |x, y| if stroke(x, y) || (x + y == 300 && x < 30) { mask.get(x, y) } else { UNLABELLED },
        );
    let labelled = scribbles.data().iter().filter(|&&v| v != UNLABELLED).count();
    let mut tuner =
        tuner(vec![Slice { name: "25.png".into(), image: image.clone(), mask: scribbles.clone() }]).unwrap();
    let before = whole_loss(&default_net(), &image, &scribbles);
    let steps: Vec<_> = (0..20).map(|_| tuner.step().unwrap()).collect();
    assert!(steps.iter().all(|s| s.loss.is_finite() && s.labelled > 0 && s.labelled <= 2 * labelled), "{steps:?}");
    let after = whole_loss(&tuner.network().unwrap(), &image, &scribbles);
    assert!(after < before, "loss on the scribbles {before} -> {after}");
}

#[test]
fn annotations_without_labels_or_with_other_values_are_refused() {
    let (image, mask) = inverted_slice("24", 64);
    let unlabelled = Slice { name: "blank.png".into(), image: image.clone(), mask: Raster::filled(64, 64, UNLABELLED) };
    let err = tuner(vec![unlabelled]).err().expect("no labelled pixel").to_string();
    assert!(err.contains("no labelled pixel"), "{err}");
    let odd = Slice { name: "odd.png".into(), image: image.clone(), mask: mask.map(|v| if v == 0 { 77 } else { v }) };
    let err = tuner(vec![odd]).err().expect("value 77").to_string();
    assert!(err.contains("odd.png") && err.contains("77 ("), "{err}");
    let small = Slice { name: "small.png".into(), image, mask: Raster::filled(32, 64, 255) };
    let err = tuner(vec![small]).err().expect("size mismatch").to_string();
    assert!(err.contains("small.png") && err.contains("32x64"), "{err}");
}

#[test]
fn exported_weights_load_back_to_the_same_logits() {
    let (image, mask) = inverted_slice("26", 96);
    let mut tuner = tuner(vec![Slice { name: "26.png".into(), image: image.clone(), mask }]).unwrap();
    for _ in 0..3 {
        tuner.step().unwrap();
    }
    let device = Device::flex();
    let bytes = tuner.weights().unwrap();
    let loaded = model::load_from_bytes(&bytes, "fine-tuned.safetensors", &device).unwrap();
    assert_eq!(loaded.config(), default_net().config());
    let logits = |net: &UNet| -> Vec<f32> {
        let t: Tensor<4> = whole_image_logits(net, &image, &device).unwrap();
        t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    };
    let (tuned, reloaded, default) = (logits(&tuner.network().unwrap()), logits(&loaded), logits(&default_net()));
    let max_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(max_diff(&tuned, &reloaded) < 1e-5, "{}", max_diff(&tuned, &reloaded));
    assert!(max_diff(&tuned, &default) > 1e-3, "three steps changed the network");
}

/// Polls `future` to completion: on the CPU its awaits are all ready at once.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
    }
}

#[test]
fn the_asynchronous_step_and_export_the_page_uses_equal_the_blocking_ones() {
    let (image, mask) = inverted_slice("26", 96);
    let slices = || vec![Slice { name: "26.png".into(), image: image.clone(), mask: mask.clone() }];
    let (mut blocking, mut awaited) = (tuner(slices()).unwrap(), tuner(slices()).unwrap());
    for _ in 0..2 {
        assert_eq!(blocking.step().unwrap(), block_on(awaited.step_async()).unwrap());
    }
    let (bytes, awaited_bytes) = (blocking.weights().unwrap(), block_on(awaited.weights_async()).unwrap());
    let device = Device::flex();
    let logits = |bytes: &[u8]| -> Vec<f32> {
        let net = model::load_from_bytes(bytes, "fine-tuned.safetensors", &device).unwrap();
        let t: Tensor<4> = whole_image_logits(&net, &image, &device).unwrap();
        t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    };
    assert_eq!(bytes.len(), awaited_bytes.len());
    assert_eq!(logits(&bytes), logits(&awaited_bytes));
}
