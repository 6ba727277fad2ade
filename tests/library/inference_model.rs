//! Tiled inference with real networks: tiles must reproduce one forward pass over
//! the whole (extended) image, whatever the tile size.
//!
//! The networks are the PyTorch import fixtures (tests/fixtures/pytorch/, made by
//! make_fixture.py there): seeded random weights whose logits are O(1), so that a
//! misplaced tile or a seam shows as a large difference.

use std::path::Path;
use std::task::{Context, Poll, Waker};

use burn::module::Param;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use unetseg::augment::symmetric_index;
use unetseg::import::import_state_dict;
use unetseg::inference::{predict_probability, predict_probability_async, Edges, MinMax, Network, TileOptions};
use unetseg::model::{UNet, UNetConfig};
use unetseg::{GrayF32, GrayU8};

fn fixture_model(file: &str, preset: UNetConfig, base: usize) -> UNet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch").join(file);
    import_state_dict(&path, &preset.with_base_channels(base), &Device::flex()).unwrap()
}

/// `compact`'s layers at base 2 (same padding).
fn same_model() -> UNet {
    fixture_model("same_base2.safetensors", UNetConfig::compact(), 2)
}

/// `seed`'s layers at base 4 (valid padding).
fn valid_model() -> UNet {
    fixture_model("valid_base4.pt", UNetConfig::seed(), 4)
}

fn image(width: usize, height: usize) -> GrayU8 {
    GrayU8::from_fn(width, height, |x, y| {
        let v = 128.0 + 60.0 * ((x as f32 / 7.0).sin() + (y as f32 / 11.0).cos()) + ((x * 31 + y * 17) % 9) as f32;
        v.clamp(0.0, 255.0) as u8
    })
}

/// Class-1 softmax of one forward pass over `pixels` (`w` x `h`, already normalised).
fn untiled_probability(model: &UNet, pixels: Vec<f32>, w: usize, h: usize) -> GrayF32 {
    let input = Tensor::<4>::from_data(TensorData::new(pixels, [1, 1, h, w]), &Device::flex());
    let p = softmax(model.forward(input), 1).narrow(1, 1, 1);
    let [_, _, oh, ow] = p.dims();
    GrayF32::new(ow, oh, p.into_data().try_to_vec::<f32>().unwrap()).unwrap()
}

fn spread(values: &[f32]) -> f32 {
    let (lo, hi) = values.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    hi - lo
}

#[test]
fn mirrored_same_padding_tiles_equal_the_untiled_forward_in_the_interior() {
    let model = same_model();
    let (w, h) = (320, 288);
    let img = image(w, h);
    let scale = MinMax::of(&img);
    let whole = untiled_probability(&model, img.data().iter().map(|&v| scale.apply(v as f32)).collect(), w, h);
    let options = TileOptions { max_tile: 256, batch: 3, edges: Edges::Mirror, ..TileOptions::default() };
    let mut calls = 0;
    let tiled = predict_probability(&model, &img, &options, |_, _| calls += 1).unwrap();
    assert!(calls >= 4, "expected several batches, got {calls}");
    // The untiled pass sees zero padding within the receptive-field margin (96 px)
    // of the image border, the mirrored tiles see the mirror image; further in, both
    // compute the same numbers.
    let mut interior = Vec::new();
    for y in 96..h - 96 {
        for x in 96..w - 96 {
            let d = (tiled.get(x, y) - whole.get(x, y)).abs();
            assert!(d < 1e-4, "({x}, {y}): tiled {} vs untiled {}", tiled.get(x, y), whole.get(x, y));
            interior.push(tiled.get(x, y));
        }
    }
    assert!(spread(&interior) > 0.05, "the probability is too flat to test anything");
    let border_gap = tiled.data().iter().zip(whole.data()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(border_gap > 1e-3, "mirroring should change the border pixels");
}

#[test]
fn zero_padding_tiles_equal_one_pass_over_the_image_extended_to_the_pooling_grid() {
    let model = same_model();
    // 320 x 288 is on the 16 px grid; 300 x 270 is extended (mirrored) to 304 x 272.
    for (w, h) in [(320, 288), (300, 270)] {
        let img = image(w, h);
        let scale = MinMax::of(&img);
        let (ew, eh) = (w.div_ceil(16) * 16, h.div_ceil(16) * 16);
        let extended: Vec<f32> = (0..eh)
            .flat_map(|y| (0..ew).map(move |x| (x, y)))
            .map(|(x, y)| scale.apply(img.get(symmetric_index(x as isize, w), symmetric_index(y as isize, h)) as f32))
            .collect();
        let whole = untiled_probability(&model, extended, ew, eh);
        let options = TileOptions { max_tile: 256, batch: 1, ..TileOptions::default() };
        let mut calls = 0;
        let tiled = predict_probability(&model, &img, &options, |_, _| calls += 1).unwrap();
        assert!(calls >= 4, "expected several tiles, got {calls}");
        assert_eq!(tiled.dims(), (w, h));
        for y in 0..h {
            for x in 0..w {
                let d = (tiled.get(x, y) - whole.get(x, y)).abs();
                assert!(d < 1e-4, "{w}x{h} ({x}, {y}): tiled {} vs one pass {}", tiled.get(x, y), whole.get(x, y));
            }
        }
        assert!(spread(tiled.data()) > 0.05, "the probability is too flat to test anything");
    }
}

#[test]
fn valid_padding_tiles_equal_one_pass_over_the_mirror_padded_image() {
    let model = valid_model();
    let (w, h) = (276, 260);
    let img = image(w, h);
    let scale = MinMax::of(&img);
    let m = 92isize;
    let (pw, ph) = (w + 184, h + 184);
    let padded: Vec<f32> = (0..ph as isize)
        .flat_map(|y| (0..pw as isize).map(move |x| (x, y)))
        .map(|(x, y)| scale.apply(img.get(symmetric_index(x - m, w), symmetric_index(y - m, h)) as f32))
        .collect();
    let whole = untiled_probability(&model, padded, pw, ph);
    assert_eq!(whole.dims(), (w, h));
    let options = TileOptions { max_tile: 300, batch: 2, ..TileOptions::default() };
    let tiled = predict_probability(&model, &img, &options, |_, _| {}).unwrap();
    for (i, (a, b)) in tiled.data().iter().zip(whole.data()).enumerate() {
        assert!((a - b).abs() < 1e-4, "pixel {i}: tiled {a} vs one pass {b}");
    }
    assert!(spread(whole.data()) > 0.01, "the probability is too flat to test anything");
}

#[test]
fn constant_logits_give_a_constant_probability_at_any_size() {
    let mut model = same_model();
    let device = Device::flex();
    model.conv_out.weight = Param::from_tensor(Tensor::zeros([2, 2, 1, 1], &device));
    model.conv_out.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.3f32, 1.1], [2]), &device)));
    let want = 1.0 / (1.0 + (-0.8f32).exp());
    for (w, h) in [(1, 1), (70, 45), (4096, 8)] {
        let p = predict_probability(&model, &image(w, h), &TileOptions::default(), |_, _| {}).unwrap();
        assert_eq!(p.dims(), (w, h));
        assert!(p.data().iter().all(|&v| (v - want).abs() < 1e-6), "{w}x{h}");
    }
}

#[test]
fn small_odd_and_wide_images_get_a_probability_per_pixel() {
    let same = same_model();
    let valid = valid_model();
    for (w, h) in [(1, 1), (5, 3), (33, 70), (4096, 12)] {
        for model in [&same, &valid] {
            let p = predict_probability(model, &image(w, h), &TileOptions::default(), |_, _| {}).unwrap();
            assert_eq!(p.dims(), (w, h));
            assert!(p.data().iter().all(|v| (0.0..=1.0).contains(v)), "{w}x{h}");
        }
    }
}

/// Polls a future to completion (the Flex backend never leaves it pending for long).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
        std::thread::yield_now();
    }
}

#[test]
fn async_prediction_equals_the_blocking_one() {
    let model = same_model();
    let img = image(150, 90);
    let options = TileOptions { max_tile: 256, batch: 2, ..TileOptions::default() };
    let blocking = predict_probability(&model, &img, &options, |_, _| {}).unwrap();
    // burn's network, whose read-back is awaited (as on WebGPU).
    let network = Network::Burn(model);
    let mut progress = Vec::new();
    let awaited =
        block_on(predict_probability_async(&network, &img, &options, |done, total| progress.push((done, total))))
            .unwrap();
    assert_eq!(blocking, awaited);
    let total = progress.last().unwrap().1;
    assert_eq!(progress.last().unwrap().0, total);
    assert!(progress.windows(2).all(|w| w[0].0 < w[1].0));
}
