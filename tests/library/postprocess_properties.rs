//! Properties of each post-processing step, checked against brute-force
//! references on small random images (no fixtures).

use proptest::prelude::*;
use unetseg::postprocess::components::{connected_components, label_components_into, Connectivity};
use unetseg::postprocess::distance::{exact_euclidean, opencv_chamfer5, NO_ZERO_DISTANCE};
use unetseg::postprocess::morphology::{close, dilate, erode};
use unetseg::postprocess::threshold::{binarize, otsu_level};
use unetseg::postprocess::watershed::{watershed, WATERSHED_LINE};
use unetseg::postprocess::{self, DistanceKind, PostprocessParams, Threshold};
use unetseg::{GrayU8, Labels};

/// Random gray images from 1x1 to `max` x `max`.
fn gray_image(max: usize) -> impl Strategy<Value = GrayU8> {
    (1..=max, 1..=max).prop_flat_map(|(w, h)| {
        proptest::collection::vec(any::<u8>(), w * h).prop_map(move |data| GrayU8::new(w, h, data).unwrap())
    })
}

/// Random 0/255 images where roughly `percent_on` % of the pixels are 255.
fn binary_image(max: usize, percent_on: u32) -> impl Strategy<Value = GrayU8> {
    (1..=max, 1..=max).prop_flat_map(move |(w, h)| {
        proptest::collection::vec(0..100u32, w * h).prop_map(move |draws| {
            let data = draws.into_iter().map(|d| if d < percent_on { 255 } else { 0 }).collect();
            GrayU8::new(w, h, data).unwrap()
        })
    })
}

/// Between-class variance of the split `<= level` / `> level`, up to a constant factor.
fn between_class_variance(image: &GrayU8, level: u8) -> f64 {
    let (mut n0, mut n1, mut s0, mut s1) = (0.0, 0.0, 0.0, 0.0);
    for &v in image.data() {
        if v <= level {
            n0 += 1.0;
            s0 += f64::from(v);
        } else {
            n1 += 1.0;
            s1 += f64::from(v);
        }
    }
    if n0 == 0.0 || n1 == 0.0 {
        return 0.0;
    }
    n0 * n1 * (s0 / n0 - s1 / n1).powi(2)
}

/// Pixels of a `w` x `h` image that 4- or 8-neighbour pixel `(x, y)`.
fn neighbours(x: usize, y: usize, w: usize, h: usize, connectivity: Connectivity) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for dy in -1i64..=1 {
        for dx in -1i64..=1 {
            if (dx == 0 && dy == 0) || (connectivity == Connectivity::Four && dx != 0 && dy != 0) {
                continue;
            }
            let (nx, ny) = (x as i64 + dx, y as i64 + dy);
            if nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h {
                out.push((nx as usize, ny as usize));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn fixed_threshold_matches_reference(image in gray_image(12), level in any::<u8>(), invert in any::<bool>()) {
        let out = binarize(&image, level, invert);
        for (&v, &o) in image.data().iter().zip(out.data()) {
            let above = v > level;
            prop_assert_eq!(o, if above != invert { 255 } else { 0 });
        }
    }

    #[test]
    fn otsu_level_maximises_between_class_variance(image in gray_image(12)) {
        let level = otsu_level(&image);
        let best = (0..=255u8).map(|t| between_class_variance(&image, t)).fold(0.0, f64::max);
        let ours = between_class_variance(&image, level);
        prop_assert!(ours >= best * (1.0 - 1e-9), "level {} gives {} < best {}", level, ours, best);
    }

    #[test]
    fn dilation_and_erosion_match_brute_force(image in gray_image(9), size in 1usize..6) {
        let (w, h) = image.dims();
        let (d, e) = (dilate(&image, size), erode(&image, size));
        let a = (size / 2) as i64;
        for y in 0..h {
            for x in 0..w {
                let (mut max, mut min) = (0u8, 255u8);
                for wy in -a..(size as i64 - a) {
                    for wx in -a..(size as i64 - a) {
                        let (sx, sy) = (x as i64 + wx, y as i64 + wy);
                        if sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h {
                            let v = image.get(sx as usize, sy as usize);
                            max = max.max(v);
                            min = min.min(v);
                        }
                    }
                }
                prop_assert_eq!(d.get(x, y), max);
                prop_assert_eq!(e.get(x, y), min);
            }
        }
    }

    #[test]
    fn closing_is_extensive_and_1x1_is_identity(image in binary_image(12, 50), half in 0usize..3) {
        prop_assert_eq!(close(&image, 1), image.clone());
        let closed = close(&image, 2 * half + 1);
        for (&v, &c) in image.data().iter().zip(closed.data()) {
            prop_assert!(c >= v);
        }
    }

    #[test]
    fn exact_distance_equals_brute_force(image in binary_image(14, 80)) {
        let (w, h) = image.dims();
        let zeros: Vec<(usize, usize)> = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).filter(|&(x, y)| image.get(x, y) == 0).collect();
        let exact = exact_euclidean(&image);
        for y in 0..h {
            for x in 0..w {
                let expected = zeros
                    .iter()
                    .map(|&(zx, zy)| (x as f64 - zx as f64).powi(2) + (y as f64 - zy as f64).powi(2))
                    .fold(f64::INFINITY, f64::min);
                let expected = if zeros.is_empty() { NO_ZERO_DISTANCE } else { expected.sqrt() as f32 };
                prop_assert_eq!(exact.get(x, y), expected, "at ({}, {})", x, y);
            }
        }
    }

    #[test]
    fn chamfer_is_zero_exactly_on_zero_pixels_and_close_to_euclidean(image in binary_image(16, 85)) {
        let chamfer = opencv_chamfer5(&image);
        let exact = exact_euclidean(&image);
        let has_zero = image.data().contains(&0);
        for ((&v, &c), &e) in image.data().iter().zip(chamfer.data()).zip(exact.data()) {
            if v == 0 {
                prop_assert_eq!(c, 0.0);
            } else if !has_zero {
                prop_assert_eq!(c, NO_ZERO_DISTANCE);
            } else {
                prop_assert!(c >= 1.0);
                // The 5x5 chamfer stays within 2 % of the Euclidean distance.
                prop_assert!((c - e).abs() <= 0.02 * e + 1e-5, "chamfer {} vs euclidean {}", c, e);
            }
        }
    }

    #[test]
    fn components_are_connected_maximal_and_numbered_like_opencv(image in binary_image(14, 45), eight in any::<bool>()) {
        let connectivity = if eight { Connectivity::Eight } else { Connectivity::Four };
        let (w, h) = image.dims();
        let comps = connected_components(&image, connectivity);
        // Background is 0, foreground labelled; touching pixels share labels.
        for y in 0..h {
            for x in 0..w {
                let l = comps.labels.get(x, y);
                prop_assert_eq!(l == 0, image.get(x, y) == 0);
                for (nx, ny) in neighbours(x, y, w, h, connectivity) {
                    if l != 0 && image.get(nx, ny) != 0 {
                        prop_assert_eq!(comps.labels.get(nx, ny), l);
                    }
                }
            }
        }
        // Numbering: by first pixel (4-connectivity) or first 2x2 block (8-connectivity),
        // with every label 1..=count used.
        let mut first: Vec<Option<(usize, usize)>> = vec![None; comps.count];
        for y in 0..h {
            for x in 0..w {
                let l = comps.labels.get(x, y);
                if l > 0 {
                    let key = if eight { (y / 2, x / 2) } else { (y, x) };
                    let slot = &mut first[l as usize - 1];
                    *slot = Some(slot.map_or(key, |k| k.min(key)));
                }
            }
        }
        let keys: Vec<(usize, usize)> = first.into_iter().map(|k| k.expect("every label is used")).collect();
        prop_assert!(keys.windows(2).all(|p| p[0] < p[1]), "labels out of order: {:?}", keys);
        // Each component is connected: flooding from its first pixel reaches all of it.
        for label in 1..=comps.count as i32 {
            let pixels: Vec<usize> = (0..w * h).filter(|&i| comps.labels.data()[i] == label).collect();
            let mut seen = vec![false; w * h];
            let mut stack = vec![pixels[0]];
            seen[pixels[0]] = true;
            let mut reached = 0;
            while let Some(i) = stack.pop() {
                reached += 1;
                for (nx, ny) in neighbours(i % w, i / w, w, h, connectivity) {
                    let j = ny * w + nx;
                    if !seen[j] && comps.labels.data()[j] == label {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            prop_assert_eq!(reached, pixels.len());
        }
    }

    #[test]
    fn watershed_floods_from_every_seed(
        image in gray_image(14),
        seeds in proptest::collection::vec((0..100u32, 1..5i32), 14 * 14),
    ) {
        let (w, h) = image.dims();
        let markers = Labels::from_fn(w, h, |x, y| {
            let (draw, label) = seeds[y * w + x];
            if draw < 8 { label } else { 0 }
        });
        let out = watershed(&image, &markers).unwrap();
        for y in 0..h {
            for x in 0..w {
                let (m, o) = (markers.get(x, y), out.get(x, y));
                let on_frame = x == 0 || y == 0 || x + 1 == w || y + 1 == h;
                if on_frame {
                    prop_assert_eq!(o, WATERSHED_LINE);
                    continue;
                }
                let around: Vec<i32> = neighbours(x, y, w, h, Connectivity::Four).into_iter().map(|(nx, ny)| out.get(nx, ny)).collect();
                if m > 0 {
                    // Seeds keep their label.
                    prop_assert_eq!(o, m);
                } else if o > 0 {
                    // A flooded pixel joins a basin it touches.
                    prop_assert!(around.contains(&o));
                } else if o == WATERSHED_LINE {
                    // A line pixel separates two different basins.
                    let mut labels: Vec<i32> = around.iter().copied().filter(|&l| l > 0).collect();
                    labels.sort_unstable();
                    labels.dedup();
                    prop_assert!(labels.len() >= 2, "line at ({}, {}) touches {:?}", x, y, labels);
                } else {
                    // Only pixels no basin can reach stay unlabelled.
                    prop_assert_eq!(o, 0);
                    prop_assert!(around.iter().all(|&l| l <= 0));
                }
            }
        }
    }

    #[test]
    fn pipeline_steps_are_consistent(image in gray_image(16), fraction in 0.0f32..=1.0, exact in any::<bool>()) {
        let params = PostprocessParams {
            fg_fraction: fraction,
            distance: if exact { DistanceKind::Exact } else { DistanceKind::OpenCvChamfer5 },
            ..PostprocessParams::default()
        };
        let s = postprocess::run(&image, &params).unwrap();
        prop_assert_eq!(s.threshold_level, otsu_level(&image));
        prop_assert_eq!(&s.binary, &binarize(&image, s.threshold_level, true));
        prop_assert_eq!(&s.closing, &s.binary);
        prop_assert_eq!(s.max_distance, s.distance.data().iter().copied().fold(0.0, f32::max));
        for i in 0..image.data().len() {
            let fg = s.distance.data()[i] > s.foreground_threshold;
            prop_assert_eq!(s.sure_foreground.data()[i] == 255, fg);
            prop_assert_eq!(s.unknown.data()[i] == 255, s.sure_background.data()[i] == 255 && !fg);
            prop_assert_eq!(s.markers.data()[i] == 0, s.unknown.data()[i] == 255);
            prop_assert_eq!(s.markers.data()[i] >= 2, fg);
            prop_assert_eq!(s.final_mask.data()[i] == 255, s.watershed.data()[i] == 1);
        }
        // Every sure-foreground component survives the watershed.
        for label in 2..s.foreground_components as i32 + 2 {
            let interior_seed = (0..image.data().len()).any(|i| {
                let (x, y) = (i % image.width(), i / image.width());
                s.markers.data()[i] == label && x > 0 && y > 0 && x + 1 < image.width() && y + 1 < image.height()
            });
            if interior_seed {
                prop_assert!(s.watershed.data().contains(&label));
            }
        }
    }
}

#[test]
fn mismatched_sizes_are_errors() {
    let gray = GrayU8::filled(4, 3, 0);
    let err = watershed(&gray, &Labels::filled(3, 4, 0)).unwrap_err();
    assert!(err.to_string().contains("4x3"), "{err}");
    let mut labels = Labels::filled(3, 4, 0);
    assert!(label_components_into(&gray, Connectivity::Eight, &mut labels, 1).is_err());
    let mut labels = Labels::filled(4, 3, 0);
    assert!(label_components_into(&gray, Connectivity::Four, &mut labels, 0).is_err());
    assert_eq!(label_components_into(&gray, Connectivity::Four, &mut labels, 1).unwrap(), 0);
}

#[test]
fn invalid_parameters_and_empty_images_are_errors() {
    let image = GrayU8::filled(4, 4, 9);
    let bad = [
        PostprocessParams { closing_size: 0, ..PostprocessParams::default() },
        PostprocessParams { dilate_size: 0, ..PostprocessParams::default() },
        PostprocessParams { fg_fraction: 1.5, ..PostprocessParams::default() },
        PostprocessParams { fg_fraction: f32::NAN, ..PostprocessParams::default() },
    ];
    for params in bad {
        assert!(postprocess::run(&image, &params).is_err(), "{params:?} accepted");
    }
    let empty = GrayU8::new(0, 0, vec![]).unwrap();
    assert!(postprocess::run(&empty, &PostprocessParams::default()).is_err());
}

#[test]
fn fixed_level_and_no_inversion_reach_the_binary_step() {
    let image = GrayU8::new(4, 1, vec![10, 100, 101, 250]).unwrap();
    let params = PostprocessParams { threshold: Threshold::Fixed(100), invert: false, ..PostprocessParams::default() };
    let s = postprocess::run(&image, &params).unwrap();
    assert_eq!(s.threshold_level, 100);
    assert_eq!(s.binary.data(), &[0, 0, 255, 255]);
}

#[test]
fn tiny_images_are_all_frame() {
    for (w, h) in [(1, 1), (2, 5), (5, 2), (1, 7)] {
        let s = postprocess::run(&GrayU8::filled(w, h, 200), &PostprocessParams::default()).unwrap();
        assert!(s.watershed.data().iter().all(|&l| l == WATERSHED_LINE));
        assert!(s.final_mask.data().iter().all(|&v| v == 0));
    }
}

#[test]
fn every_step_renders_at_the_image_size() {
    use unetseg::postprocess::render::{label_color, Step, StepImage};
    let image = GrayU8::from_fn(9, 7, |x, y| if x == 4 || y == 3 { 0 } else { 255 });
    let s = postprocess::run(&image, &PostprocessParams::default()).unwrap();
    let mut stems: Vec<&str> = Step::ALL.iter().map(|s| s.file_stem()).collect();
    stems.sort_unstable();
    stems.dedup();
    assert_eq!(stems.len(), 10);
    for step in Step::ALL {
        let rendered = s.render(step);
        assert_eq!(rendered.dims(), (9, 7), "{}", step.title());
        let rgba = rendered.to_rgba();
        assert_eq!(rgba.len(), 9 * 7 * 4);
        assert!(rgba.chunks_exact(4).all(|p| p[3] == 255));
    }
    assert_eq!(s.render(Step::Final), StepImage::Gray(s.final_mask.clone()));
    // Distance: 0 is dark blue, the maximum dark red.
    let StepImage::Rgb(distance) = s.render(Step::Distance) else { panic!("distance is not in colour") };
    let far = (0..63).max_by(|&a, &b| s.distance.data()[a].total_cmp(&s.distance.data()[b])).unwrap();
    assert_eq!(distance.data()[far], [128, 0, 0]);
    let zero = s.distance.data().iter().position(|&d| d == 0.0).unwrap();
    assert_eq!(distance.data()[zero], [0, 0, 128]);
    // Labels: unlabelled black, lines white, labels coloured and stable.
    assert_eq!(label_color(0), [0, 0, 0]);
    assert_eq!(label_color(WATERSHED_LINE), [255, 255, 255]);
    assert_ne!(label_color(1), label_color(2));
    let StepImage::Rgb(markers) = s.render(Step::Markers) else { panic!("markers are not in colour") };
    for (&m, &c) in s.markers.data().iter().zip(markers.data()) {
        assert_eq!(c, label_color(m));
    }
}
