//! The robust recipe and its building blocks on random inputs (proptest) and on an
//! ISBI slice: the original recipe is the original pipeline draw for draw; robust
//! samples have the right sizes and ranges, binary masks, and repeat with their
//! seed; neutral ranges give a plain flipped crop; resampling, tone curves and blur
//! stay within their inputs' values and are identities at neutral strengths.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use unetseg::augment::{
    contrast, crop_symmetric, flip, gamma, gaussian_blur, invert, resize, resize_nearest, robust_sample, scaled_window,
    scaled_window_nearest, training_sample, AugmentParams, AugmentRecipe, Flip, RobustParams,
};
use unetseg::normalization::Normalization;
use unetseg::{GrayU8, Raster};

use crate::support::isbi;

/// A random `w` x `h` raster of bytes, `w`, `h` in `1..max`.
fn image(max: usize) -> impl Strategy<Value = GrayU8> {
    (1..max, 1..max).prop_flat_map(|(w, h)| {
        proptest::collection::vec(any::<u8>(), w * h).prop_map(move |d| Raster::new(w, h, d).unwrap())
    })
}

fn binary(image: &GrayU8) -> GrayU8 {
    image.map(|v| if v < 128 { 0 } else { 255 })
}

fn range(image: &GrayU8) -> (u8, u8) {
    (*image.data().iter().min().unwrap(), *image.data().iter().max().unwrap())
}

/// No noise, brightness or elastic deformation.
fn still() -> AugmentParams {
    AugmentParams {
        gaussian_std_max: 0,
        uniform_low_max: 0,
        uniform_high_max: 0,
        brightness_max: 0,
        elastic_alpha: 0.0,
        ..AugmentParams::default()
    }
}

/// Every robust range at its neutral value.
fn neutral() -> RobustParams {
    RobustParams {
        scale_min: 1.0,
        scale_max: 1.0,
        gamma_min: 1.0,
        gamma_max: 1.0,
        contrast_min: 1.0,
        contrast_max: 1.0,
        blur_sigma_max: 0.0,
        invert_probability: 0.0,
    }
}

fn robust_ranges() -> impl Strategy<Value = RobustParams> {
    (0.3f64..1.0, 1.0f64..3.0, 0.4f64..1.0, 1.0f64..2.5, 0.3f64..1.0, 1.0f64..2.0, 0.0f64..3.0, 0.0f64..=1.0).prop_map(
        |(s0, s1, g0, g1, c0, c1, blur, invert)| RobustParams {
            scale_min: s0,
            scale_max: s1,
            gamma_min: g0,
            gamma_max: g1,
            contrast_min: c0,
            contrast_max: c1,
            blur_sigma_max: blur,
            invert_probability: invert,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_original_recipe_is_the_original_pipeline(img in image(40), seed: u64, output in 1usize..24, margin in 0usize..6) {
        let m = binary(&img);
        let input = output + 2 * margin;
        let original = training_sample(&img, &m, input, output, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        let recipe = AugmentRecipe::Original
            .sample(&img, &m, (input, output), Normalization::MinMax, &mut ChaCha8Rng::seed_from_u64(seed))
            .unwrap();
        prop_assert_eq!(recipe, original);
    }

    #[test]
    fn robust_samples_have_their_sizes_and_ranges_and_repeat(
        img in image(40), seed: u64, output in 1usize..24, margin in 0usize..6, params in robust_ranges(),
        percentile: bool,
    ) {
        let m = binary(&img);
        let input = output + 2 * margin;
        let normalization = if percentile { Normalization::Percentile } else { Normalization::MinMax };
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            robust_sample(&img, &m, (input, output), &AugmentParams::default(), &params, normalization, &mut rng).unwrap()
        };
        let (x, y) = run(seed);
        prop_assert_eq!(x.dims(), (input, input));
        prop_assert_eq!(y.dims(), (output, output));
        prop_assert!(x.data().iter().all(|v| (0.0..=1.0).contains(v)));
        prop_assert!(y.data().iter().all(|&v| v <= 1));
        prop_assert_eq!(run(seed), (x, y));
    }

    #[test]
    fn neutral_ranges_give_a_flipped_crop(img in image(30), seed: u64, side in 1usize..30) {
        // A square image as large as the crop: the only choice left is the flip.
        let img = crop_symmetric(&img, 0, 0, side, side).unwrap();
        let m = binary(&img.map(|v| v.wrapping_mul(3)));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (x, y) = robust_sample(&img, &m, (side, side), &still(), &neutral(), Normalization::MinMax, &mut rng).unwrap();
        let found = Flip::ALL.iter().any(|&how| {
            Normalization::MinMax.normalize(&flip(&img, how)) == x && flip(&m, how).map(|v| u8::from(v > 127)) == y
        });
        prop_assert!(found);
    }

    #[test]
    fn at_scale_one_the_mask_crop_is_centred_in_the_input_crop(
        bits in image(40), seed: u64, output in 1usize..30, margin in 0usize..10,
    ) {
        let bits = binary(&bits);
        let input = output + 2 * margin;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (x, y) =
            robust_sample(&bits, &bits, (input, output), &still(), &neutral(), Normalization::MinMax, &mut rng).unwrap();
        if x.data().contains(&1.0) {
            let centre = crop_symmetric(&x, margin as isize, margin as isize, output, output).unwrap();
            prop_assert_eq!(centre.map(|v| u8::from(v > 0.5)), y);
        } else {
            prop_assert!(y.data().iter().all(|&v| v == y.data()[0]));
        }
    }

    #[test]
    fn resampling_stays_within_the_source_values(img in image(24), w in 1usize..50, h in 1usize..50) {
        let (lo, hi) = range(&img);
        let resized = resize(&img, w, h).unwrap();
        prop_assert_eq!(resized.dims(), (w, h));
        prop_assert!(resized.data().iter().all(|v| (lo..=hi).contains(v)));
        let m = binary(&img);
        let nearest = resize_nearest(&m, w, h).unwrap();
        prop_assert!(nearest.data().iter().all(|v| m.data().contains(v)));
    }

    #[test]
    fn windows_at_scale_one_are_crops(img in image(20), x in -30i32..30, y in -30i32..30, w in 0usize..25, h in 0usize..25) {
        let crop = crop_symmetric(&img, x as isize, y as isize, w, h).unwrap();
        prop_assert_eq!(&scaled_window(&img, f64::from(x), f64::from(y), 1.0, w, h).unwrap(), &crop);
        prop_assert_eq!(scaled_window_nearest(&img, f64::from(x), f64::from(y), 1.0, w, h).unwrap(), crop);
    }

    #[test]
    fn scaled_masks_stay_binary(m in image(24), x in -10.0f64..10.0, y in -10.0f64..10.0, scale in 0.2f64..5.0) {
        let m = binary(&m);
        let window = scaled_window_nearest(&m, x, y, scale, 17, 13).unwrap();
        prop_assert!(window.data().iter().all(|&v| v == 0 || v == 255));
    }

    #[test]
    fn tone_curves_keep_the_order_of_values(img in image(16), g in 0.2f64..5.0, c in 0.0f64..3.0) {
        let mut order: Vec<usize> = (0..img.data().len()).collect();
        order.sort_by_key(|&i| img.data()[i]);
        for curved in [gamma(&img, g).unwrap(), contrast(&img, c).unwrap()] {
            prop_assert!(order.windows(2).all(|p| curved.data()[p[0]] <= curved.data()[p[1]]));
        }
        prop_assert_eq!(gamma(&img, 1.0).unwrap(), img.clone());
        prop_assert_eq!(contrast(&img, 1.0).unwrap(), img.clone());
        prop_assert_eq!(invert(&invert(&img)), img);
    }

    #[test]
    fn blur_stays_within_the_source_values(img in image(24), sigma in 0.0f64..4.0) {
        let (lo, hi) = range(&img);
        let blurred = gaussian_blur(&img, sigma).unwrap();
        prop_assert_eq!(blurred.dims(), img.dims());
        prop_assert!(blurred.data().iter().all(|v| (lo..=hi).contains(v)));
    }
}

#[test]
fn robust_crops_of_an_isbi_slice_vary_with_the_seed_and_keep_both_classes() {
    let img = unetseg::imageio::read_gray8(&isbi("images", "24")).unwrap();
    let m = unetseg::imageio::read_mask(&isbi("masks", "24")).unwrap();
    let recipe = AugmentRecipe::Robust(RobustParams { invert_probability: 0.5, ..RobustParams::default() });
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let samples: Vec<_> =
        (0..6).map(|_| recipe.sample(&img, &m, (256, 256), Normalization::MinMax, &mut rng).unwrap()).collect();
    for (x, y) in &samples {
        assert_eq!((x.dims(), y.dims()), ((256, 256), (256, 256)));
        let cells = y.data().iter().filter(|&&v| v == 1).count() as f64 / y.data().len() as f64;
        assert!((0.4..0.97).contains(&cells), "cell fraction {cells}");
    }
    assert!(samples.windows(2).all(|p| p[0] != p[1]));
    // The original recipe on the same slice gives the original pipeline's crop.
    let a =
        AugmentRecipe::Original.sample(&img, &m, (256, 256), Normalization::MinMax, &mut ChaCha8Rng::seed_from_u64(3));
    let b = training_sample(&img, &m, 256, 256, &mut ChaCha8Rng::seed_from_u64(3));
    assert_eq!(a.unwrap(), b.unwrap());
}

#[test]
fn bad_ranges_and_sizes_are_errors() {
    let img = Raster::filled(8, 8, 0u8);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let bad = RobustParams { scale_min: 3.0, scale_max: 2.0, ..RobustParams::default() };
    assert!(
        robust_sample(&img, &img, (8, 8), &AugmentParams::default(), &bad, Normalization::MinMax, &mut rng).is_err()
    );
    let ok = RobustParams::default();
    for sizes in [(10, 7), (4, 8), (4, 0)] {
        assert!(
            robust_sample(&img, &img, sizes, &AugmentParams::default(), &ok, Normalization::MinMax, &mut rng).is_err()
        );
    }
    let other = Raster::filled(8, 9, 0u8);
    assert!(
        robust_sample(&img, &other, (8, 8), &AugmentParams::default(), &ok, Normalization::MinMax, &mut rng).is_err()
    );
    assert!(AugmentRecipe::Robust(bad).validate().is_err());
}
