//! Input normalisation travels with the weights: files without the field (the shipped
//! default among them) are min-max, a percentile network keeps its choice through a
//! weights file, and tiled inference scales its tiles by the network's choice;
//! min-max is the augment module's `normalize_minmax` bit for bit.

use burn::tensor::Device;
use proptest::prelude::*;
use unetseg::augment::normalize_minmax;
use unetseg::inference::{TileOptions, TileRunner};
use unetseg::model::{self, Precision, UNet, UNetConfig};
use unetseg::normalization::Normalization;
use unetseg::{GrayU8, Raster};

#[test]
fn weights_without_the_field_and_the_shipped_default_are_min_max() {
    let mut json = serde_json::to_value(UNetConfig::compact()).unwrap();
    assert_eq!(json["normalization"], "minmax");
    json.as_object_mut().unwrap().remove("normalization");
    let config: UNetConfig = serde_json::from_value(json).unwrap();
    assert_eq!(config.normalization, Normalization::MinMax);
    let shipped = model::read_config(model::default_weights_bytes(), "default").unwrap();
    assert_eq!(shipped.normalization, Normalization::MinMax);
}

#[test]
fn a_percentile_network_keeps_its_normalisation_through_a_weights_file() {
    let device = Device::flex();
    let config = UNetConfig { normalization: Normalization::Percentile, ..UNetConfig::compact().with_base_channels(2) };
    let net = UNet::new(&config, &device).unwrap();
    let bytes = model::to_bytes(&net, Precision::F16).unwrap();
    assert_eq!(model::load_from_bytes(&bytes, "mem", &device).unwrap().config(), &config);
}

#[test]
fn tiles_are_scaled_by_the_networks_normalisation() {
    // A 16-bit image with a few hot pixels: min-max squeezes the rest, percentiles do not.
    let mut image: Raster<u16> = Raster::from_fn(48, 32, |x, y| 1000 + ((x * 37 + y * 11) % 200) as u16);
    image.set(5, 5, 65535);
    image.set(40, 20, 60000);
    for normalization in [Normalization::MinMax, Normalization::Percentile] {
        let config = UNetConfig { normalization, ..UNetConfig::compact() };
        let mut runner = TileRunner::new(&config, &image, &TileOptions::default()).unwrap();
        assert_eq!(runner.scale(), normalization.range_of(&image));
        let batch = runner.next_batch().unwrap();
        assert_eq!(batch.shape, [1, 1, 32, 48], "one tile");
        assert_eq!(batch.input, normalization.normalize(&image).into_data());
    }
    let percentile = Normalization::Percentile.range_of(&image);
    assert!(percentile.max < 1200.0, "{percentile:?}");
    assert_eq!(Normalization::MinMax.range_of(&image).max, 65535.0);
}

/// A random `w` x `h` raster of bytes, `w`, `h` in `1..max`.
fn image(max: usize) -> impl Strategy<Value = GrayU8> {
    (1..max, 1..max).prop_flat_map(|(w, h)| {
        proptest::collection::vec(any::<u8>(), w * h).prop_map(move |d| Raster::new(w, h, d).unwrap())
    })
}

proptest! {
    #[test]
    fn min_max_is_normalize_minmax_bit_for_bit(img in image(30)) {
        prop_assert_eq!(Normalization::MinMax.normalize(&img), normalize_minmax(&img));
    }

    #[test]
    fn percentiles_lie_in_the_unit_range_and_hold_the_middle_of_the_image(img in image(30)) {
        let range = Normalization::Percentile.range_of(&img);
        let full = Normalization::MinMax.range_of(&img);
        prop_assert!(full.min <= range.min && range.max <= full.max);
        let n = Normalization::Percentile.normalize(&img);
        prop_assert!(n.data().iter().all(|v| (0.0..=1.0).contains(v)));
        let mut sorted: Vec<u8> = img.data().to_vec();
        sorted.sort_unstable();
        let at = |q: f64| f32::from(sorted[(q * (sorted.len() - 1) as f64).round() as usize]);
        if at(0.995) > at(0.005) {
            prop_assert_eq!((range.min, range.max), (at(0.005), at(0.995)));
        } else {
            prop_assert_eq!(range, full);
        }
    }
}
