//! The training loss against PyTorch and the border weight map against SciPy.
//! Fixture: tests/fixtures/train_loss/loss.json, made by make_fixture.py beside it
//! (PyTorch `F.cross_entropy`, SciPy `ndimage.label` + `distance_transform_edt`).

use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;
use unetseg::annotation::UNLABELLED_CLASS;
use unetseg::train::loss::{self, LossWeighting, Targets};
use unetseg::Raster;

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/train_loss/loss.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

/// Logits and class-id masks of the fixture.
fn logits_and_masks(f: &Value, device: &Device) -> (Tensor<4>, Vec<Raster<u8>>) {
    let shape = usizes(&f["shape"]);
    let (n, h, w) = (shape[0], shape[2], shape[3]);
    let logits = Tensor::from_data(TensorData::new(floats(&f["logits"]), [n, shape[1], h, w]), device);
    let target: Vec<u8> = usizes(&f["target"]).into_iter().map(|v| v as u8).collect();
    let masks = target.chunks(w * h).map(|c| Raster::new(w, h, c.to_vec()).unwrap()).collect();
    (logits, masks)
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

#[test]
fn plain_and_class_weighted_loss_match_pytorch() {
    let f = fixture();
    let device = Device::flex();
    let (logits, masks) = logits_and_masks(&f, &device);
    let refs: Vec<&Raster<u8>> = masks.iter().collect();

    let plain = Targets::new(&refs, 2, &LossWeighting::plain(2), &device).unwrap();
    let got = scalar(loss::cross_entropy(logits.clone(), &plain));
    assert!((got - f["plain"].as_f64().unwrap()).abs() < 1e-5, "plain {got}");

    let weighting = LossWeighting { class_weights: floats(&f["class_weights"]), border: false };
    let weighted = Targets::new(&refs, 2, &weighting, &device).unwrap();
    let got = scalar(loss::cross_entropy(logits, &weighted));
    assert!((got - f["class_weighted"].as_f64().unwrap()).abs() < 1e-5, "class weighted {got}");
}

#[test]
fn pixel_weighted_loss_matches_pytorch() {
    let f = fixture();
    let device = Device::flex();
    let (logits, masks) = logits_and_masks(&f, &device);
    let refs: Vec<&Raster<u8>> = masks.iter().collect();
    let mut targets = Targets::new(&refs, 2, &LossWeighting::plain(2), &device).unwrap();
    let shape = usizes(&f["shape"]);
    targets.weights =
        Tensor::from_data(TensorData::new(floats(&f["pixel_weights"]), [shape[0], 1, shape[2], shape[3]]), &device);
    let got = scalar(loss::cross_entropy(logits, &targets));
    assert!((got - f["pixel_weighted"].as_f64().unwrap()).abs() < 1e-5, "pixel weighted {got}");
}

#[test]
fn accuracy_counts_argmax_agreement() {
    let f = fixture();
    let device = Device::flex();
    let (logits, masks) = logits_and_masks(&f, &device);
    let refs: Vec<&Raster<u8>> = masks.iter().collect();
    let targets = Targets::new(&refs, 2, &LossWeighting::plain(2), &device).unwrap();
    let values = floats(&f["logits"]);
    let shape = usizes(&f["shape"]);
    let plane = shape[2] * shape[3];
    let expected = (0..shape[0] * plane)
        .filter(|&i| {
            let (n, p) = (i / plane, i % plane);
            let (l0, l1) = (values[n * 2 * plane + p], values[n * 2 * plane + plane + p]);
            usize::from(l1 > l0) == refs[n].data()[p] as usize
        })
        .count();
    assert_eq!(loss::correct_pixels(logits, &targets), expected);
}

/// The fixture's masks with every third pixel unlabelled.
fn with_unlabelled(masks: &[Raster<u8>]) -> Vec<Raster<u8>> {
    let mut masks = masks.to_vec();
    for mask in &mut masks {
        for (i, class) in mask.data_mut().iter_mut().enumerate() {
            if i % 3 == 0 {
                *class = UNLABELLED_CLASS;
            }
        }
    }
    masks
}

#[test]
fn unlabelled_pixels_are_left_out_of_the_loss_and_the_accuracy() {
    let f = fixture();
    let device = Device::flex();
    let (logits, masks) = logits_and_masks(&f, &device);
    let masks = with_unlabelled(&masks);
    let refs: Vec<&Raster<u8>> = masks.iter().collect();
    let (values, shape) = (floats(&f["logits"]), usizes(&f["shape"]));
    let plane = shape[2] * shape[3];
    // The plain mean of -log softmax over the labelled pixels, and their arg-max hits, in f64.
    let (mut sum, mut labelled, mut correct) = (0.0f64, 0usize, 0usize);
    for (n, mask) in refs.iter().enumerate() {
        for (p, &class) in mask.data().iter().enumerate() {
            if class == UNLABELLED_CLASS {
                continue;
            }
            let l = [values[n * 2 * plane + p] as f64, values[n * 2 * plane + plane + p] as f64];
            sum += (l[0].exp() + l[1].exp()).ln() - l[class as usize];
            labelled += 1;
            correct += usize::from(usize::from(l[1] > l[0]) == class as usize);
        }
    }
    for border in [false, true] {
        let weighting = LossWeighting { class_weights: vec![1.0, 1.0], border };
        let targets = Targets::new(&refs, 2, &weighting, &device).unwrap();
        assert_eq!(targets.labelled, labelled);
        let weights = weighting.pixel_weights(refs[0]).unwrap();
        assert!(refs[0].data().iter().zip(&weights).all(|(&c, &w)| (c == UNLABELLED_CLASS) == (w == 0.0)));
        if !border {
            let got = scalar(loss::cross_entropy(logits.clone(), &targets));
            assert!((got - sum / labelled as f64).abs() < 1e-5, "loss {got}, expected {}", sum / labelled as f64);
            assert_eq!(loss::correct_pixels(logits.clone(), &targets), correct);
        }
    }

    // No labelled pixel at all: a loss of 0 (not NaN) and no correct pixel.
    let none = Raster::filled(shape[3], shape[2], UNLABELLED_CLASS);
    let targets = Targets::new(&[&none, &none], 2, &LossWeighting::plain(2), &device).unwrap();
    assert_eq!(targets.labelled, 0);
    assert_eq!(scalar(loss::cross_entropy(logits.clone(), &targets)), 0.0);
    assert_eq!(loss::correct_pixels(logits, &targets), 0);
}

#[test]
fn border_weight_map_matches_scipy() {
    let f = fixture();
    let (w, h) = (f["mask_width"].as_u64().unwrap() as usize, f["mask_height"].as_u64().unwrap() as usize);
    let mask = Raster::new(w, h, usizes(&f["mask"]).into_iter().map(|v| v as u8).collect()).unwrap();
    let map = loss::border_weight_map(&mask, loss::BORDER_W0, loss::BORDER_SIGMA);
    let expected = floats(&f["border"]);
    for (i, (got, want)) in map.data().iter().zip(&expected).enumerate() {
        assert!((got - want).abs() < 1e-4, "pixel {i}: {got} vs {want}");
    }
    assert!(expected.iter().any(|&v| v > 5.0));
}

#[test]
fn border_weights_add_to_class_weights() {
    let mask = Raster::from_fn(9, 5, |x, _| u8::from(x != 4));
    let weighting = LossWeighting { class_weights: vec![1.0, 1.0], border: true };
    let weights = weighting.pixel_weights(&mask).unwrap();
    // The membrane column between the two cells is 1 px from each: 1 + 10 exp(-4/50).
    let expected = 1.0 + 10.0 * (-4.0f32 / 50.0).exp();
    assert!((weights[4] - expected).abs() < 1e-4, "{}", weights[4]);
    assert_eq!(weights[0], 1.0);
    let bad = LossWeighting { class_weights: vec![1.0], border: false };
    assert!(bad.pixel_weights(&mask).is_err());
}
