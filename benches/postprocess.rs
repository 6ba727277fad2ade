//! Time of the whole 9-step post-processing (`postprocess::run`) on 512x512
//! slices, median of many runs, one thread, and of the tiled one
//! (`postprocess::tiled::run_tiled`, default layout and 128-pixel cores) on slice 24
//! and on a 4096x4096 mirror of it. Run side by side with OpenCV:
//!
//!     cargo bench --bench postprocess
//!     .venv-peers/bin/python scripts/bench_postprocess_opencv.py
//!
//! Reading the PNG is not timed (neither is it in the OpenCV script).

use std::path::Path;
use std::time::Instant;

use unetseg::imageio::read_gray8;
use unetseg::postprocess::tiled::{run_tiled, TileLayout};
use unetseg::postprocess::{self, DistanceKind, PostprocessParams};
use unetseg::GrayU8;

const WARMUP: usize = 20;
const RUNS: usize = 300;

/// Milliseconds of each of `RUNS` calls of `f`, sorted.
fn timings(mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..WARMUP {
        f();
    }
    let mut ms: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exact = PostprocessParams { distance: DistanceKind::Exact, ..PostprocessParams::default() };
    let cases = [
        (
            "mask 24 (data/isbi2012/train/masks/24.png)",
            "data/isbi2012/train/masks/24.png",
            PostprocessParams::default(),
        ),
        (
            "raw image 24 (data/isbi2012/train/images/24.png)",
            "data/isbi2012/train/images/24.png",
            PostprocessParams::default(),
        ),
        ("mask 24, exact distance", "data/isbi2012/train/masks/24.png", exact),
    ];
    println!("unetseg postprocess::run, {RUNS} runs after {WARMUP} warm-up runs, one thread");
    for (name, rel, params) in cases {
        let gray = read_gray8(&root.join(rel)).unwrap_or_else(|e| panic!("{e}"));
        let ms = timings(|| {
            std::hint::black_box(postprocess::run(std::hint::black_box(&gray), &params).expect("valid input"));
        });
        println!("{name}: median {:.2} ms, min {:.2} ms, p90 {:.2} ms", ms[RUNS / 2], ms[0], ms[RUNS * 9 / 10]);
    }
    let slice = read_gray8(&root.join("data/isbi2012/train/images/24.png")).unwrap_or_else(|e| panic!("{e}"));
    let (w, h) = slice.dims();
    let big = GrayU8::from_fn(8 * w, 8 * h, |x, y| {
        let (sx, sy) = (x % w, y % h);
        slice.get(if (x / w) % 2 == 1 { w - 1 - sx } else { sx }, if (y / h) % 2 == 1 { h - 1 - sy } else { sy })
    });
    let params = PostprocessParams::default();
    let small = TileLayout { core: 128, ..TileLayout::default() };
    for (name, gray, runs) in [("raw image 24", &slice, 30), ("raw image 24 mirrored to 4096x4096", &big, 3)] {
        let once = |f: &dyn Fn()| {
            let ms: Vec<f64> = (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            ms.iter().copied().fold(f64::INFINITY, f64::min)
        };
        let whole = once(&|| drop(std::hint::black_box(postprocess::run(gray, &params).expect("valid"))));
        let tiled =
            once(&|| drop(std::hint::black_box(run_tiled(gray, &params, &TileLayout::default()).expect("valid"))));
        let tiled_small = once(&|| drop(std::hint::black_box(run_tiled(gray, &params, &small).expect("valid"))));
        println!(
            "{name}, best of {runs}: whole {whole:.1} ms, tiled (512-px cores) {tiled:.1} ms, tiled (128-px cores) {tiled_small:.1} ms"
        );
    }
}
