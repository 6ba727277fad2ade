//! The tensor-free half of tiled inference, driven by fake networks whose output
//! is known, with both border treatments: the tiles must cover every pixel, inputs
//! must be the min-max normalised image (mirrored past its border) at the right
//! place, and blending must put every prediction back where it came from.

use unetseg::augment::symmetric_index;
use unetseg::inference::tiling::{Edges, TileOptions, TilePlan};
use unetseg::inference::TileRunner;
use unetseg::model::{Padding, UNetConfig};
use unetseg::{GrayF32, GrayU8};

/// Runs the tile loop with `network(tile input, input size, output size)` standing in for the U-Net.
fn run_fake(
    config: &UNetConfig,
    image: &GrayU8,
    options: &TileOptions,
    network: impl Fn(&[f32], (usize, usize), (usize, usize)) -> Vec<f32>,
) -> GrayF32 {
    let mut runner = TileRunner::new(config, image, options).unwrap();
    let input_size = runner.plan().input_size();
    let output_size = runner.plan().output_size;
    let mut reported = Vec::new();
    while let Some(batch) = runner.next_batch() {
        assert_eq!(batch.shape, [batch.tiles.len(), 1, input_size.1, input_size.0]);
        let per_tile = input_size.0 * input_size.1;
        let out: Vec<f32> =
            batch.input.chunks(per_tile).flat_map(|tile| network(tile, input_size, output_size)).collect();
        runner.accept(batch.tiles, &out).unwrap();
        reported.push(runner.done());
    }
    assert_eq!(reported.last(), Some(&runner.total()));
    runner.finish().unwrap()
}

/// A network that returns the part of its input aligned with its output:
/// the whole input when same-padded, the input minus the margin when valid.
fn echo(config: &UNetConfig) -> impl Fn(&[f32], (usize, usize), (usize, usize)) -> Vec<f32> {
    let padding = config.padding;
    move |tile, (iw, ih), (ow, oh)| {
        let m = match padding {
            Padding::Same => 0,
            Padding::Valid => (iw - ow) / 2,
        };
        assert_eq!(ih - oh, iw - ow);
        (0..oh).flat_map(|y| (0..ow).map(move |x| tile[(y + m) * iw + x + m])).collect()
    }
}

/// A deterministic textured test image.
fn image(width: usize, height: usize) -> GrayU8 {
    GrayU8::from_fn(width, height, |x, y| ((x * 37 + y * 91 + (x * y) % 13) % 200 + 20) as u8)
}

fn configs() -> [UNetConfig; 2] {
    [UNetConfig::seed(), UNetConfig::compact()]
}

const SIZES: [(usize, usize); 6] = [(1, 1), (3, 2), (17, 300), (500, 333), (512, 512), (4096, 9)];

#[test]
fn echo_network_reassembles_the_normalised_image() {
    for config in configs() {
        for options in all_options(300) {
            for (w, h) in SIZES {
                let img = image(w, h);
                let got = run_fake(&config, &img, &options, echo(&config));
                let (lo, hi) = (*img.data().iter().min().unwrap() as f32, *img.data().iter().max().unwrap() as f32);
                for (i, (&g, &v)) in got.data().iter().zip(img.data()).enumerate() {
                    let want = if hi > lo { (v as f32 - lo) / (hi - lo) } else { 0.0 };
                    assert!((g - want).abs() < 1e-6, "{:?} {w}x{h} pixel {i}: {g} vs {want}", config.padding);
                }
            }
        }
    }
}

#[test]
fn constant_network_output_gives_a_constant_map() {
    for config in configs() {
        for (w, h) in SIZES {
            for options in all_options(300) {
                let got = run_fake(&config, &image(w, h), &options, |_, _, (ow, oh)| vec![0.7; ow * oh]);
                assert_eq!(got.dims(), (w, h));
                assert!(got.data().iter().all(|&p| (p - 0.7).abs() < 1e-6), "{w}x{h}");
            }
        }
    }
}

#[test]
fn tile_inputs_are_windows_of_the_symmetric_mirror_extension() {
    let config = UNetConfig::compact();
    let img = image(40, 23);
    for options in all_options(768) {
        let mut runner = TileRunner::new(&config, &img, &options).unwrap();
        let plan = runner.plan().clone();
        let scale = runner.scale();
        let batch = runner.next_batch().unwrap();
        let (iw, ih) = plan.input_size();
        let tile = plan.tile(0);
        for j in 0..ih {
            for i in 0..iw {
                let x = symmetric_index(tile.input_x + i as isize, 40);
                let y = symmetric_index(tile.input_y + j as isize, 23);
                assert_eq!(batch.input[j * iw + i], scale.apply(img.get(x, y) as f32));
            }
        }
    }
}

#[test]
fn tiles_cover_every_pixel_with_as_few_tiles_as_the_size_limit_allows() {
    for config in configs() {
        for options in all_options(300).into_iter().chain(all_options(768)) {
            for length in (1..3000).step_by(7).chain([4096]) {
                let plan = TilePlan::new(&config, length, 1, &options).unwrap();
                let axis = &plan.x;
                let max_tile = options.max_tile;
                assert!(plan.input_size().0 <= max_tile, "{length}: tile {:?}", plan.input_size());
                assert!(axis.coverage().iter().all(|&c| c >= 1), "{length}: {axis:?}");
                assert!(axis.starts.windows(2).all(|w| w[1] > w[0]), "{length}: {axis:?}");
                if axis.starts.len() > 1 {
                    // One tile fewer would not do, even with the largest allowed window.
                    let context = if config.padding == Padding::Valid { plan.shrink } else { 96 };
                    let largest = (1..=max_tile)
                        .rev()
                        .find(|&s| s >= 2 * context + 16 && config.output_size(s).is_some())
                        .unwrap();
                    let fewer = axis.starts.len() - 1;
                    if config.padding == Padding::Valid || options.edges == Edges::Mirror {
                        // Cores on the grid, each window losing its context on both sides.
                        let max_core = largest - 2 * context;
                        assert!((fewer - 1) * (max_core / 16 * 16) + max_core < length, "{length}: {axis:?}");
                    } else {
                        // Windows inside the grid-extended image, overlapping by 2 x context.
                        let reach = fewer * largest - 2 * context * (fewer - 1);
                        assert!(reach < length.div_ceil(16) * 16, "{length}: {axis:?}");
                    }
                }
            }
        }
    }
}

/// Both border treatments at tiles of at most `max_tile` px, three per batch.
fn all_options(max_tile: usize) -> [TileOptions; 2] {
    [Edges::ZeroPadding, Edges::Mirror].map(|edges| TileOptions { max_tile, batch: 3, edges, ..TileOptions::default() })
}
