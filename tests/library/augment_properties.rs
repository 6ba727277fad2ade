//! Properties of the augmentations on random inputs (proptest): flips are
//! involutions, alpha 0 elastic deformation and pad-then-crop are
//! identities, masks stay binary, seeds repeat, normalised values lie in
//! [0, 1], the training pipeline's crops line up and have the right sizes, and
//! 3-level annotations keep their unlabelled pixels.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use unetseg::augment::{
    crop, crop_symmetric, flip, normalize_minmax, pad_symmetric, training_sample, training_sample_with, AugmentParams,
    AugmentRecipe, ElasticField, Flip, Padding, RobustParams,
};
use unetseg::normalization::Normalization;
use unetseg::{annotation, GrayU8, Raster};

/// A random `w` x `h` raster of bytes, `w`, `h` in `1..max`.
fn image(max: usize) -> impl Strategy<Value = GrayU8> {
    (1..max, 1..max).prop_flat_map(|(w, h)| {
        proptest::collection::vec(any::<u8>(), w * h).prop_map(move |d| Raster::new(w, h, d).unwrap())
    })
}

/// A random 0/255 mask, `w`, `h` in `1..max`.
fn mask(max: usize) -> impl Strategy<Value = GrayU8> {
    image(max).prop_map(|m| m.map(|v| if v < 128 { 0 } else { 255 }))
}

fn any_flip() -> impl Strategy<Value = Flip> {
    prop::sample::select(Flip::ALL.to_vec())
}

fn is_binary(m: &GrayU8) -> bool {
    m.data().iter().all(|&v| v == 0 || v == 255)
}

proptest! {
    #[test]
    fn flip_twice_is_identity(img in image(20), how in any_flip()) {
        prop_assert_eq!(flip(&flip(&img, how), how), img);
    }

    #[test]
    fn elastic_with_alpha_zero_is_identity(img in image(24), sigma in 0u32..8, pad in 0usize..10, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let field = ElasticField::random(img.width(), img.height(), 0.0, f64::from(sigma), pad, &mut rng).unwrap();
        prop_assert_eq!(field.warp_image(&img).unwrap(), img.clone());
        let m = img.map(|v| if v < 128 { 0 } else { 255 });
        prop_assert_eq!(field.warp_mask(&m).unwrap(), m);
    }

    #[test]
    fn padding_then_cropping_the_centre_is_identity(
        img in image(12), top in 0usize..30, bottom in 0usize..30, left in 0usize..30, right in 0usize..30,
    ) {
        let padded = pad_symmetric(&img, Padding { top, bottom, left, right }).unwrap();
        prop_assert_eq!(padded.dims(), (img.width() + left + right, img.height() + top + bottom));
        prop_assert_eq!(crop(&padded, left, top, img.width(), img.height()).unwrap(), img);
    }

    #[test]
    fn masks_stay_binary_under_geometric_ops(m in mask(24), how in any_flip(), pad in 0usize..40, seed: u64,
                                             x in -50isize..50, y in -50isize..50) {
        prop_assert!(is_binary(&flip(&m, how)));
        prop_assert!(is_binary(&pad_symmetric(&m, Padding::uniform(pad)).unwrap()));
        prop_assert!(is_binary(&crop_symmetric(&m, x, y, 17, 9).unwrap()));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let field = ElasticField::random(m.width(), m.height(), 34.0, 3.0, 20, &mut rng).unwrap();
        prop_assert!(is_binary(&field.warp_mask(&m).unwrap()));
    }

    #[test]
    fn minmax_lies_in_unit_range(img in image(20)) {
        let n = normalize_minmax(&img);
        prop_assert!(n.data().iter().all(|v| (0.0..=1.0).contains(v)));
        let (lo, hi) = (img.data().iter().min().unwrap(), img.data().iter().max().unwrap());
        if lo < hi {
            prop_assert!(n.data().contains(&0.0) && n.data().contains(&1.0));
        } else {
            prop_assert!(n.data().iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn training_samples_have_the_right_shape_range_and_repeat(
        img in image(40), seed: u64, output in 1usize..24, margin in 0usize..8,
    ) {
        let m = img.map(|v| if v < 100 { 0 } else { 255 });
        let input = output + 2 * margin;
        let run = |seed| training_sample(&img, &m, input, output, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        let (x, y) = run(seed);
        prop_assert_eq!(x.dims(), (input, input));
        prop_assert_eq!(y.dims(), (output, output));
        prop_assert!(x.data().iter().all(|v| (0.0..=1.0).contains(v)));
        prop_assert!(y.data().iter().all(|&v| v <= 1));
        let (x2, y2) = run(seed);
        prop_assert_eq!(x, x2);
        prop_assert_eq!(y, y2);
    }

    #[test]
    fn mask_crop_is_centred_in_the_input_crop(bits in mask(40), seed: u64, output in 1usize..30, margin in 0usize..10) {
        // With every strength at zero, the only randomness is the flip and the
        // crop position, so the input crop's centre must reproduce the mask crop.
        let still = AugmentParams {
            gaussian_std_max: 0, uniform_low_max: 0, uniform_high_max: 0, brightness_max: 0,
            elastic_alpha: 0.0, ..AugmentParams::default()
        };
        let input = output + 2 * margin;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (x, y) = training_sample_with(&bits, &bits, input, output, &still, &mut rng).unwrap();
        if x.data().contains(&1.0) {
            let centre = crop(&x, margin, margin, output, output).unwrap();
            prop_assert_eq!(centre.map(|v| u8::from(v > 0.5)), y);
        } else {
            // A constant input crop normalises to zeros; its mask is constant too.
            prop_assert!(y.data().iter().all(|&v| v == y.data()[0]));
        }
    }
}

#[test]
fn different_seeds_give_different_samples() {
    let img = Raster::from_fn(64, 64, |x, y| ((x * 7 + y * 13) % 256) as u8);
    let m = img.map(|v| if v < 128 { 0 } else { 255 });
    let a = training_sample(&img, &m, 48, 32, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    let b = training_sample(&img, &m, 48, 32, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
    assert_ne!(a.0, b.0);
}

#[test]
fn isbi_slice_gives_original_crop_sizes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/isbi2012/train");
    let img = unetseg::imageio::read_gray8(std::path::Path::new(&format!("{dir}/images/24.png"))).unwrap();
    let m = unetseg::imageio::read_mask(std::path::Path::new(&format!("{dir}/masks/24.png"))).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (x, y) = training_sample(&img, &m, 572, 388, &mut rng).unwrap();
    assert_eq!((x.dims(), y.dims()), ((572, 572), (388, 388)));
    // Both classes survive augmentation; ISBI masks are mostly cell interior.
    let cells = y.data().iter().filter(|&&v| v == 1).count() as f64 / y.data().len() as f64;
    assert!((0.5..0.95).contains(&cells), "cell fraction {cells}");
    // Same-padding networks: input and output crops of one size.
    let (x, y) = training_sample(&img, &m, 256, 256, &mut rng).unwrap();
    assert_eq!((x.dims(), y.dims()), ((256, 256), (256, 256)));
}

#[test]
fn bad_sizes_are_errors() {
    let img = Raster::filled(8, 8, 0u8);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert!(training_sample(&img, &img, 10, 7, &mut rng).is_err()); // odd difference
    assert!(training_sample(&img, &img, 4, 8, &mut rng).is_err()); // input < output
    assert!(training_sample(&img, &img, 4, 0, &mut rng).is_err());
    assert!(training_sample(&img, &Raster::filled(8, 9, 0u8), 8, 8, &mut rng).is_err());
    let empty = Raster::filled(0, 0, 0u8);
    assert!(training_sample(&empty, &empty, 8, 8, &mut rng).is_err());
}

/// ISBI slice 24 as a 3-level annotation: its mask with a 128 (unlabelled) band
/// across the middle, and a 128 column.
fn slice_24_annotation() -> (GrayU8, GrayU8) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/isbi2012/train");
    let img = unetseg::imageio::read_gray8(std::path::Path::new(&format!("{dir}/images/24.png"))).unwrap();
    let m = unetseg::imageio::read_mask(std::path::Path::new(&format!("{dir}/masks/24.png"))).unwrap();
    let annotation = Raster::from_fn(m.width(), m.height(), |x, y| {
        if (200..300).contains(&y) || (40..60).contains(&x) {
            annotation::UNLABELLED
        } else {
            m.get(x, y)
        }
    });
    (img, annotation)
}

#[test]
fn elastic_warping_keeps_the_three_levels_of_an_annotation() {
    let (_, annotation) = slice_24_annotation();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let field = ElasticField::random(annotation.width(), annotation.height(), 34.0, 4.0, 32, &mut rng).unwrap();
    let warped = field.warp_mask(&annotation).unwrap();
    let count = |m: &GrayU8, v: u8| m.data().iter().filter(|&&p| p == v).count();
    assert!(warped.data().iter().all(|&v| [0, 128, 255].contains(&v)));
    // The warp moves pixels but keeps the share of each level to a few percent.
    for level in [0, 128, 255] {
        let (before, after) = (count(&annotation, level) as f64, count(&warped, level) as f64);
        assert!((after / before - 1.0).abs() < 0.1, "level {level}: {before} -> {after}");
    }
    // A zero field leaves every pixel as it is.
    let (w, h) = annotation.dims();
    let zero = ElasticField::from_displacements(Raster::filled(w, h, 0.0), Raster::filled(w, h, 0.0), 0).unwrap();
    assert_eq!(zero.warp_mask(&annotation).unwrap(), annotation);
}

#[test]
fn both_recipes_carry_unlabelled_pixels_through_as_their_own_class() {
    let (img, annotation) = slice_24_annotation();
    let recipes = [AugmentRecipe::Original, AugmentRecipe::Robust(RobustParams::default())];
    for recipe in recipes {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut seen = [0usize; 3];
        for _ in 0..6 {
            let (_, classes) = recipe.sample(&img, &annotation, (256, 256), Normalization::MinMax, &mut rng).unwrap();
            for &c in classes.data() {
                match c {
                    0 => seen[0] += 1,
                    1 => seen[1] += 1,
                    annotation::UNLABELLED_CLASS => seen[2] += 1,
                    other => panic!("{recipe:?}: class {other}"),
                }
            }
        }
        assert!(seen.iter().all(|&n| n > 1000), "{recipe:?}: membrane, cell, unlabelled {seen:?}");
    }
}
