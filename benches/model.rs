//! The U-Net's speed and memory on the CPU (burn's Flex backend), each beside its
//! peer measured in the same run:
//!
//! 1. forward of `compact` on 1x1x512x512 (random weights; the read-back of the
//!    logits is included, it is what forces the computation) vs PyTorch and ONNX
//!    Runtime, 2 threads each;
//! 2. one training step of `compact`: batch 4 of 1x256x256, forward, softmax
//!    cross-entropy, backward, Adam (lr 1e-3, eps 1e-8), through unetseg's gemm layers
//!    (`UNet::forward_gemm`, what `train` uses on the CPU) and through burn's own layers
//!    (`UNet::forward`, `UNETSEG_TRAIN_LAYERS=burn`), vs PyTorch;
//! 3. peak resident memory (`/usr/bin/time -v`) and wall time of
//!    `unetseg segment` on a 4096x4096 image (slice 24 tiled 8x8, mirrored so
//!    that the seams look like tissue; `UNETSEG_BENCH_SIDE=16384` for 32x32 tiles,
//!    any multiple of 512), default weights, through the streamed pipeline
//!    (`--tiled always`, the default at that size) and holding every step whole
//!    (`--tiled never`), and whether the two wrote the same files.
//!
//! The peers come from scripts/bench_model_peers.py, run with the Python in
//! `UNETSEG_PEERS_PYTHON` (default: .venv-peers/, made by scripts/peers-venv.sh); without
//! it the peers are skipped. Statistics: median, min and p90 after warm-up runs.
//!
//!     cargo bench --bench model            # all three
//!     cargo bench --bench model -- forward # only the forward (also: train, memory, peers)
//!     cargo bench --bench model -- train-gemm   # one of the two training steps (or train-burn)
//!     cargo bench --bench model -- finetune     # the page's fine-tuning step, natively
//!
//! `finetune` times what the page's fine-tuning runs (`train::FineTuner`: the default
//! weights on slice 24 with its mask, batch 4 of 256x256 crops drawn near labelled
//! pixels, the original augmentations, Adam), set beside the page's own step from
//! `node tests/browser/bench.mjs --finetune N`; `RAYON_NUM_THREADS=1` gives the page's
//! one thread.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use serde_json::Value;
use unetseg::imageio::{read_gray8, write_png_u8};
use unetseg::model::{CpuUNet, UNet, UNetConfig};
use unetseg::train::data::Slice;
use unetseg::train::loss::{cross_entropy, LossWeighting, Targets};
use unetseg::train::{FineTuneOptions, FineTuner};
use unetseg::{GrayU8, Raster};

const FORWARD_WARMUP: usize = 3;
const FORWARD_RUNS: usize = 20;
const TRAIN_WARMUP: usize = 2;
const TRAIN_RUNS: usize = 10;

/// Median, min and p90 in milliseconds.
struct Stats {
    median: f64,
    min: f64,
    p90: f64,
}

impl Stats {
    fn of(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self { median: ms[ms.len() / 2], min: ms[0], p90: ms[ms.len() * 9 / 10] }
    }

    fn from_peer(value: &Value) -> Option<Self> {
        Some(Self {
            median: value["median_ms"].as_f64()?,
            min: value["min_ms"].as_f64()?,
            p90: value["p90_ms"].as_f64()?,
        })
    }

    fn line(&self, name: &str) -> String {
        format!("{name:<34} median {:>8.1} ms   min {:>8.1} ms   p90 {:>8.1} ms", self.median, self.min, self.p90)
    }
}

/// Milliseconds of each of `runs` calls of `f` after `warmup` calls.
fn time_runs(warmup: usize, runs: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..warmup {
        f();
    }
    Stats::of(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

/// The forward of the same random `compact` network through burn's Flex backend and
/// through the gemm engine [`CpuUNet`].
fn bench_forward() -> (Stats, Stats) {
    let device = Device::flex();
    let model = UNet::new(&UNetConfig::compact(), &device).expect("compact builds");
    let x = Tensor::<4>::random([1, 1, 512, 512], Distribution::Uniform(0.0, 1.0), &device);
    let burn = time_runs(FORWARD_WARMUP, FORWARD_RUNS, || {
        std::hint::black_box(model.forward(x.clone()).into_data());
    });
    let engine = CpuUNet::new(&model).expect("compact is same-padded");
    let pixels = x.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 input");
    let gemm = time_runs(FORWARD_WARMUP, FORWARD_RUNS, || {
        std::hint::black_box(engine.forward(&pixels, 512, 512).expect("forward"));
    });
    (burn, gemm)
}

/// One training step of `compact`, through the gemm layers when `gemm`, else through
/// burn's own layers.
fn bench_train_step(gemm: bool) -> Stats {
    let device = Device::flex().autodiff();
    let mut net = UNet::new(&UNetConfig::compact(), &device).expect("compact builds");
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let x = Tensor::<4>::random([4, 1, 256, 256], Distribution::Uniform(0.0, 1.0), &device);
    let masks: Vec<Raster<u8>> =
        (0..4).map(|k| Raster::from_fn(256, 256, |x, y| ((x * 7 + y * 13 + k) % 5 < 2) as u8)).collect();
    let mask_refs: Vec<&Raster<u8>> = masks.iter().collect();
    let targets = Targets::new(&mask_refs, 2, &LossWeighting::plain(2), &device).expect("targets");
    let mut step = || {
        let logits = if gemm { net.forward_gemm(x.clone()) } else { net.forward(x.clone()) };
        let loss = cross_entropy(logits, &targets);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(1e-3, net.clone(), grads);
        std::hint::black_box(loss.into_scalar::<f32>());
    };
    time_runs(TRAIN_WARMUP, TRAIN_RUNS, &mut step)
}

/// Fine-tuning steps of the default weights on slice 24 and its mask, as the page runs them.
fn bench_finetune_step() -> Stats {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("data/isbi2012/train");
    let slice = Slice {
        name: "24.png".into(),
        image: read_gray8(&data.join("images/24.png")).expect("slice 24"),
        mask: read_gray8(&data.join("masks/24.png")).expect("mask 24"),
    };
    let weights = std::fs::read(root.join("weights/default.safetensors")).expect("default weights");
    let options = FineTuneOptions { batch: 4, crop: 256, seed: 0, ..FineTuneOptions::default() };
    let mut tuner = FineTuner::new(&weights, "default.safetensors", vec![slice], options, &Device::flex())
        .expect("fine-tuner starts");
    let mut step = || {
        std::hint::black_box(tuner.step().expect("a step"));
    };
    time_runs(TRAIN_WARMUP, TRAIN_RUNS, &mut step)
}

/// Slice 24 repeated `copies x copies` times, every other copy mirrored, as a PNG in `dir`.
fn write_large_image(dir: &Path, copies: usize) -> PathBuf {
    let slice =
        read_gray8(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/isbi2012/train/images/24.png")).expect("slice 24");
    let (w, h) = slice.dims();
    let big = GrayU8::from_fn(copies * w, copies * h, |x, y| {
        let (tx, ty) = (x / w, y / h);
        let (sx, sy) = (x % w, y % h);
        slice.get(if tx % 2 == 1 { w - 1 - sx } else { sx }, if ty % 2 == 1 { h - 1 - sy } else { sy })
    });
    let path = dir.join(format!("tiled-{}.png", copies * w));
    write_png_u8(&path, &big).expect("write the large image");
    path
}

fn bench_segment_memory() {
    let side: usize = std::env::var("UNETSEG_BENCH_SIDE").ok().and_then(|v| v.parse().ok()).unwrap_or(4096);
    let size = format!("{side}x{side}");
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        println!("segment {size}: skipped (no /usr/bin/time)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("unetseg-bench-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let image = write_large_image(&dir, (side / 512).max(1));
    for tiled in ["always", "never"] {
        let start = Instant::now();
        let output = Command::new(time)
            .arg("-v")
            .arg(env!("CARGO_BIN_EXE_unetseg"))
            .arg("segment")
            .arg(&image)
            .args(["--tiled", tiled, "--out"])
            .arg(dir.join(tiled))
            .output()
            .expect("run unetseg segment");
        let wall = start.elapsed().as_secs_f64();
        let report = String::from_utf8_lossy(&output.stderr);
        let peak_kb = report
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        match (output.status.success(), peak_kb) {
            (true, Some(kb)) => println!(
                "segment {size} (default weights, --tiled {tiled}): peak RSS {:.0} MiB, wall {wall:.1} s ({})",
                kb / 1024.0,
                String::from_utf8_lossy(&output.stdout).trim()
            ),
            _ => println!("segment {size} --tiled {tiled} failed: {report}"),
        }
    }
    let files = |tiled: &str| {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(tiled))
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        files.sort();
        files
    };
    let names = files("always");
    let same = names == files("never")
        && names.iter().all(|name| {
            std::fs::read(dir.join("always").join(name)).ok() == std::fs::read(dir.join("never").join(name)).ok()
        });
    println!(
        "  the {} files of both ways are {}",
        names.len(),
        if same { "byte for byte the same" } else { "NOT the same" }
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The peers' JSON from scripts/bench_model_peers.py, or `None` without Python.
fn run_peers() -> Option<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("UNETSEG_PEERS_PYTHON")
        .unwrap_or_else(|_| root.join(".venv-peers/bin/python").display().to_string());
    let script = root.join("scripts/bench_model_peers.py");
    let output = Command::new(&python)
        .arg(script)
        .args(["--runs", &FORWARD_RUNS.to_string(), "--train-runs", &TRAIN_RUNS.to_string()])
        .output();
    match output {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout).ok(),
        Ok(out) => {
            println!("peers failed: {}", String::from_utf8_lossy(&out.stderr));
            None
        }
        Err(e) => {
            println!("peers skipped ({python}: {e})");
            None
        }
    }
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let peers = if wanted("peers") || wanted("forward") || wanted("train-gemm") || wanted("train-burn") {
        run_peers()
    } else {
        None
    };
    let peer = |key: &str| peers.as_ref().and_then(|p| Stats::from_peer(&p[key]));
    if let Some(p) = &peers {
        println!("peers: torch {} / onnxruntime {}, {} threads", p["torch"], p["onnxruntime"], p["threads"]);
    }
    if wanted("forward") {
        println!("forward, compact, 1x1x512x512 ({FORWARD_RUNS} runs after {FORWARD_WARMUP} warm-up)");
        let (burn, ours) = bench_forward();
        println!("  {}", burn.line("unetseg, burn Flex backend"));
        println!("  {}", ours.line("unetseg, CpuUNet (gemm, default)"));
        for (name, key) in [("PyTorch", "torch_forward_512"), ("ONNX Runtime", "onnxruntime_forward_512")] {
            if let Some(p) = peer(key) {
                println!("  {}   unetseg/peer {:.2}", p.line(name), ours.median / p.median);
            }
        }
    }
    if wanted("train-gemm") || wanted("train-burn") {
        println!("training step, compact, batch 4 x 1x256x256, Adam ({TRAIN_RUNS} runs after {TRAIN_WARMUP} warm-up)");
        let runs =
            [(true, "train-gemm", "unetseg, gemm layers (default)"), (false, "train-burn", "unetseg, burn layers")];
        let mut medians = Vec::new();
        for (gemm, filter, name) in runs {
            if wanted(filter) {
                let stats = bench_train_step(gemm);
                println!("  {}", stats.line(name));
                medians.push((name, stats.median));
            }
        }
        if let Some(p) = peer("torch_train_step_4x256") {
            let ratios: Vec<String> = medians.iter().map(|(name, m)| format!("{name} {:.2}", m / p.median)).collect();
            println!("  {}   unetseg/peer: {}", p.line("PyTorch"), ratios.join(", "));
        }
    }
    if wanted("finetune") {
        let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all cores".into());
        println!("fine-tuning step, default weights, batch 4 x 256x256 crops of slice 24 ({threads} threads)");
        println!("  {}", bench_finetune_step().line("unetseg, FineTuner (native)"));
    }
    if wanted("memory") {
        bench_segment_memory();
    }
}
