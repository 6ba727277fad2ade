//! The training loop: batches of augmented crops, optimiser steps, per-epoch
//! validation, history and plots, checkpoints, best-model export, resume and a
//! wall-clock limit.
//!
//! On the CPU, same-padded networks train through unetseg's gemm
//! layers ([`UNet::forward_gemm`]: the same gradients, several times faster); the
//! environment variable `UNETSEG_TRAIN_LAYERS=burn` forces burn's own layers, which
//! every other network and device uses.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, RmsPropConfig, SgdConfig};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::average::WeightAverage;
use super::batch::batch;
use super::data::{self, Slice};
use super::history::{self, EpochRecord};
use super::labelled::{window_around, LabelledPixels};
use super::loss::{self, LossWeighting};
use super::step::{train_step, uses_gemm_layers, StepResult};
use super::validate::{validate, Validation};
use super::{plot, OptimizerKind, TrainOptions};
use crate::annotation;
use crate::model::{self, Precision, UNet};
use crate::{Error, Result};

/// What a finished (or stopped) run achieved.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Epochs completed in total (including earlier sessions of a resumed run).
    pub epochs_done: usize,
    /// The best validation result so far and its epoch.
    pub best: Option<(usize, Validation)>,
    /// Whether `--max-minutes` stopped the run before its last epoch.
    pub stopped_early: bool,
    /// Wall-clock seconds of this session.
    pub seconds: f64,
    /// The stochastic weight average, when the run keeps one and it has begun.
    pub swa: Option<SwaSummary>,
}

/// The stochastic weight average of a run (`--swa-from`) after its session.
#[derive(Clone, Copy, Debug)]
pub struct SwaSummary {
    /// First epoch in the mean.
    pub first_epoch: usize,
    /// Last epoch in the mean.
    pub last_epoch: usize,
    /// Its validation scores (with validation slices only).
    pub validation: Option<Validation>,
}

/// Progress of a run, saved as `RUN_DIR/state.json` after every epoch.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct RunState {
    epochs_done: usize,
    best_epoch: Option<usize>,
    best_v_rand: f64,
    best_accuracy: f64,
    best_loss: f64,
    train_seconds: f64,
    /// Epochs in the stochastic weight average so far (the last `swa_epochs` done).
    #[serde(default)]
    swa_epochs: usize,
}

impl RunState {
    /// Whether `v` beats the best so far (V_rand first, ties broken by accuracy).
    fn improves(&self, v: &Validation) -> bool {
        self.best_epoch.is_none()
            || v.v_rand > self.best_v_rand
            || (v.v_rand == self.best_v_rand && v.accuracy > self.best_accuracy)
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Error::file(path, format!("invalid JSON: {e}")))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::file(path, e))?;
    std::fs::write(path, text).map_err(|e| Error::file(path, format!("cannot write: {e}")))
}

fn optimizer(options: &TrainOptions) -> ModuleOptimizer {
    match options.optimizer {
        OptimizerKind::Sgd => {
            let momentum = options.momentum.unwrap_or(0.99);
            let config = SgdConfig::new();
            if momentum > 0.0 {
                config.with_momentum(Some(MomentumConfig::new().with_momentum(momentum).with_dampening(0.0))).init()
            } else {
                config.init()
            }
        }
        OptimizerKind::Rmsprop => {
            RmsPropConfig::new().with_momentum(options.momentum.unwrap_or(0.0) as f32).with_epsilon(1e-8).init()
        }
        OptimizerKind::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
    }
}

/// Input and output crop sizes for `options.crop` and the model, or an error explaining why not.
fn crop_sizes(options: &TrainOptions, net: &model::UNetConfig) -> Result<(usize, usize)> {
    let output = net.output_size(options.crop).ok_or_else(|| {
        Error::invalid(format!(
            "--crop {} does not fit this network; the nearest size it accepts is {}",
            options.crop,
            net.valid_input_size_at_least(options.crop)
        ))
    })?;
    Ok((options.crop, output))
}

/// Writes `best.safetensors` (f32) and `best-f16.safetensors` for inference: batch norm,
/// if any, folded into the convolutions.
fn export_best(net: &UNet, out: &Path) -> Result<()> {
    let inference = net.valid().fold_batch_norm();
    model::save(&inference, out.join("best.safetensors"), Precision::F32)?;
    model::save(&inference, out.join("best-f16.safetensors"), Precision::F16)
}

/// The network that is validated and exported: the weight average if the run keeps
/// one, else the latest weights (without autodiff).
fn candidate(net: &UNet, average: Option<&WeightAverage>) -> UNet {
    match average {
        Some(average) => average.model().clone(),
        None => net.valid(),
    }
}

/// The slices of a run and its loss settings, read and checked before anything is
/// created or trained.
struct RunData {
    train: Vec<Slice>,
    /// For each training slice whose mask leaves pixels unlabelled (a page's sparse
    /// annotation), where its labelled pixels are: its crops are drawn around them.
    sparse: Vec<Option<LabelledPixels>>,
    val: Vec<Slice>,
    weighting: LossWeighting,
}

impl RunData {
    /// Reads, checks and splits the slices of `options.data`.
    fn load(options: &TrainOptions) -> Result<Self> {
        let (train, val) = options.holdout.split_excluding(data::load_slices(&options.data)?, options.test_slices)?;
        if let Some(s) = train.iter().find(|s| s.image.width().min(s.image.height()) < 2) {
            return Err(Error::file(&s.name, "is too small to train on"));
        }
        if let Some(s) = val.iter().find(|s| s.mask.data().contains(&annotation::UNLABELLED)) {
            return Err(Error::file(
                &s.name,
                "is held out for validation, but its mask has unlabelled pixels (128) and V_rand needs a \
                 complete mask: choose other slices with --val-slices, or --val 0",
            ));
        }
        let weighting = LossWeighting { class_weights: options.class_weights.clone(), border: options.border_weights };
        let sparse = train
            .iter()
            .map(|s| {
                let partial = s.mask.data().contains(&annotation::UNLABELLED);
                partial.then(|| LabelledPixels::new(&s.mask)).filter(|labelled| labelled.count() > 0)
            })
            .collect();
        Ok(Self { train, sparse, val, weighting })
    }
}

/// Sums over the steps of one epoch.
#[derive(Default)]
struct EpochSums {
    loss: f64,
    correct: usize,
    pixels: usize,
    steps: usize,
    /// The rate of the last step.
    lr: f64,
    /// Whether `--max-minutes` ended the epoch early.
    stopped: bool,
}

/// A run between epochs: its networks, optimiser and bookkeeping.
struct Run<'a> {
    options: &'a TrainOptions,
    /// The training device (with autodiff) and the plain one for validation.
    device: Device,
    base_device: Device,
    net: UNet,
    optim: ModuleOptimizer,
    state: RunState,
    records: Vec<EpochRecord>,
    /// `--ema`'s average, validated and exported instead of the latest weights.
    average: Option<WeightAverage>,
    /// `--swa-from`'s mean of the end-of-epoch weights.
    swa: Option<WeightAverage>,
    /// Input and output crop sizes.
    sizes: (usize, usize),
    steps_per_epoch: usize,
    /// Whether the steps run through the gemm layers (see [`super::step::uses_gemm_layers`]).
    gemm_layers: bool,
}

impl<'a> Run<'a> {
    /// Creates the run directory and a fresh network (or the one of `options.init`), or
    /// restores them on `resume`.
    fn open(options: &'a TrainOptions, resume: bool, data: &RunData) -> Result<Self> {
        let out = &options.out;
        let base_device = options.device.device()?;
        let device = base_device.clone().autodiff();
        base_device.seed(options.seed);
        let (net, state, records) = if resume {
            let state: RunState = read_json(&out.join("state.json"))?;
            let records = history::read(&out.join("history.csv"))?;
            (model::load(out.join("checkpoint.safetensors"), &device)?.train(), state, records)
        } else {
            std::fs::create_dir_all(out).map_err(|e| Error::file(out, format!("cannot create: {e}")))?;
            let net = match &options.init {
                Some(path) => model::load(path, &device)?.train(),
                None => UNet::new(&options.model, &device)?,
            };
            (net, RunState::default(), Vec::new())
        };
        let average_path = out.join("average.safetensors");
        let average = match options.ema {
            Some(_) if resume && average_path.exists() => {
                Some(WeightAverage::new(model::load(&average_path, &base_device)?))
            }
            Some(_) => Some(WeightAverage::new(net.valid())),
            None => None,
        };
        let swa = match options.swa_from {
            Some(_) if state.swa_epochs > 0 => {
                Some(WeightAverage::new(model::load(out.join("swa.safetensors"), &base_device)?))
            }
            _ => None,
        };
        let config = net.config();
        if data.weighting.class_weights.len() != config.classes {
            return Err(Error::invalid(format!(
                "--class-weights needs {} values, got {}",
                config.classes,
                data.weighting.class_weights.len()
            )));
        }
        let sizes = crop_sizes(options, config)?;
        write_json(&out.join("run.json"), options)?;
        let steps_per_epoch = data.train.len().div_ceil(options.batch);
        let optim = optimizer(options);
        let gemm_layers = uses_gemm_layers(&net, &device);
        Ok(Self {
            options,
            device,
            base_device,
            net,
            optim,
            state,
            records,
            average,
            swa,
            sizes,
            steps_per_epoch,
            gemm_layers,
        })
    }

    /// The network that is validated and exported (see [`candidate`]).
    fn candidate(&self) -> UNet {
        candidate(&self.net, self.average.as_ref())
    }

    /// Trains epoch `epoch` on every training slice once, in a fresh shuffled order,
    /// until `deadline` (seconds since `started`) passes. Takes the run and hands it
    /// back, so that each optimiser step owns the only handle on the network (burn then
    /// updates its tensors in place).
    fn train_epoch(
        mut self,
        epoch: usize,
        data: &RunData,
        bar: &ProgressBar,
        started: Instant,
        deadline: Option<f64>,
    ) -> Result<(Self, EpochSums)> {
        let options = self.options;
        let config = self.net.config().clone();
        // A fresh stream per epoch keeps resumed runs reproducible.
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_mul(0x9E37_79B9).wrapping_add(epoch as u64));
        let mut order: Vec<usize> = (0..data.train.len()).collect();
        order.shuffle(&mut rng);
        let mut sums = EpochSums { lr: options.lr, ..EpochSums::default() };
        for (step, chunk) in order.chunks(options.batch).enumerate() {
            if deadline.is_some_and(|d| started.elapsed().as_secs_f64() > d) {
                sums.stopped = true;
                break;
            }
            // Sparse annotations: a window around one of their labelled pixels, which the
            // augmentations then crop as they crop a whole slice.
            let windows = chunk
                .iter()
                .map(|&i| {
                    let slice = &data.train[i];
                    let window = |labelled: &LabelledPixels| {
                        let at = labelled.draw(&slice.mask, &mut rng);
                        window_around(slice, at, self.sizes.0, &mut rng)
                    };
                    data.sparse[i].as_ref().map(window).transpose()
                })
                .collect::<Result<Vec<_>>>()?;
            let slices: Vec<&Slice> =
                chunk.iter().zip(&windows).map(|(&i, window)| window.as_ref().unwrap_or(&data.train[i])).collect();
            let (x, targets) =
                batch(&slices, self.sizes, &config, &options.augment, &data.weighting, &mut rng, &self.device)?;
            // Steps done over steps in the whole run.
            let progress =
                ((epoch - 1) * self.steps_per_epoch + step) as f64 / (options.epochs * self.steps_per_epoch) as f64;
            sums.lr = options.lr_schedule.rate(options.lr, progress);
            let StepResult { net, loss, logits } =
                train_step(self.net, &mut self.optim, sums.lr, x, &targets, self.gemm_layers);
            self.net = net;
            if let (Some(average), Some(decay)) = (&mut self.average, options.ema) {
                average.blend_in(&self.net, decay);
            }
            let step_loss = f64::from(loss.into_scalar::<f32>());
            if !step_loss.is_finite() {
                return Err(Error::invalid(format!("the loss diverged (epoch {epoch}); try a smaller --lr")));
            }
            let step_correct = loss::correct_pixels(logits, &targets);
            let step_pixels = targets.labelled;
            sums.loss += step_loss;
            sums.correct += step_correct;
            sums.pixels += step_pixels;
            sums.steps += 1;
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch}/{} loss {step_loss:.4} acc {:.4}",
                options.epochs,
                step_correct as f64 / step_pixels.max(1) as f64
            ));
        }
        Ok((self, sums))
    }

    /// After the steps of epoch `epoch`: validation (when due), the history line and
    /// plots, the best model, the checkpoint, the averages and the state, all saved.
    fn end_epoch(
        &mut self,
        epoch: usize,
        sums: &EpochSums,
        data: &RunData,
        bar: &ProgressBar,
        seconds: f64,
    ) -> Result<()> {
        let options = self.options;
        let out = &options.out;
        let last = epoch == options.epochs || sums.stopped;
        let candidate = self.candidate();
        let validation = if !data.val.is_empty() && (epoch % options.val_every.max(1) == 0 || last) {
            Some(validate(&candidate, &data.val, &data.weighting, &self.base_device)?)
        } else {
            None
        };
        let record = EpochRecord {
            epoch,
            train_loss: sums.loss / sums.steps as f64,
            train_acc: sums.correct as f64 / sums.pixels.max(1) as f64,
            val_loss: validation.map(|v| v.loss),
            val_acc: validation.map(|v| v.accuracy),
            val_v_rand: validation.map(|v| v.v_rand),
        };
        let line = format!(
            "epoch {epoch}: lr {:.3e}, train loss {:.4} acc {:.4}{}",
            sums.lr,
            record.train_loss,
            record.train_acc,
            validation
                .map(|v| format!(" | val loss {:.4} acc {:.4} v_rand {:.4}", v.loss, v.accuracy, v.v_rand))
                .unwrap_or_default()
        );
        // Printed above the bar, and also when the bar is hidden (--quiet, no terminal).
        bar.suspend(|| eprintln!("{line}"));
        self.records.push(record);
        self.state.epochs_done = epoch;
        self.state.train_seconds = seconds;
        if let Some(v) = validation.filter(|v| self.state.improves(v)) {
            self.state.best_epoch = Some(epoch);
            self.state.best_v_rand = v.v_rand;
            self.state.best_accuracy = v.accuracy;
            self.state.best_loss = v.loss;
            export_best(&candidate, out)?;
        }
        model::save(&self.net, out.join("checkpoint.safetensors"), Precision::F32)?;
        if self.average.is_some() {
            model::save(&candidate, out.join("average.safetensors"), Precision::F32)?;
        }
        if options.swa_from.is_some_and(|from| epoch >= from) {
            let mean = self.swa.get_or_insert_with(|| WeightAverage::new(self.net.valid()));
            mean.add_to_mean(&self.net, self.state.swa_epochs);
            self.state.swa_epochs += 1;
            model::save(mean.model(), out.join("swa.safetensors"), Precision::F32)?;
        }
        history::write(&out.join("history.csv"), &self.records)?;
        plot::write_plots(out, &self.records)?;
        write_json(&out.join("state.json"), &self.state)
    }

    /// After the session's last epoch: the export of a run without validation, and the
    /// stochastic weight average's validation and export.
    fn finish(self, data: &RunData, stopped_early: bool, seconds: f64) -> Result<TrainSummary> {
        let out = &self.options.out;
        if data.val.is_empty() && self.state.epochs_done > 0 {
            // Without validation the latest model (or average) is the best one available.
            export_best(&self.candidate(), out)?;
        }
        let swa = match &self.swa {
            Some(mean) => {
                let epochs = (self.state.epochs_done + 1 - self.state.swa_epochs, self.state.epochs_done);
                Some(finish_swa(mean, epochs, &data.val, &data.weighting, &self.base_device, out)?)
            }
            None => None,
        };
        let state = &self.state;
        let best = state.best_epoch.map(|e| {
            (e, Validation { loss: state.best_loss, accuracy: state.best_accuracy, v_rand: state.best_v_rand })
        });
        Ok(TrainSummary { epochs_done: state.epochs_done, best, stopped_early, seconds, swa })
    }
}

/// A progress bar over the `steps` left, hidden without `options.progress`.
fn progress_bar(options: &TrainOptions, steps: usize) -> Result<ProgressBar> {
    let bar = if options.progress { ProgressBar::new(steps as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps, eta {eta} | {msg}")
            .map_err(Error::invalid)?
            .progress_chars("=> "),
    );
    Ok(bar)
}

/// Runs (or resumes, when `resume` is set) the training described by `options`.
pub fn train(options: &TrainOptions, resume: bool) -> Result<TrainSummary> {
    let started = Instant::now();
    if options.epochs == 0 || options.batch == 0 {
        return Err(Error::invalid("--epochs and --batch must be at least 1"));
    }
    options.augment.validate()?;
    let data = RunData::load(options)?;
    let mut run = Run::open(options, resume, &data)?;
    eprintln!("layers: {}", if run.gemm_layers { "unetseg's gemm layers (CPU)" } else { "burn's" });
    let remaining = options.epochs.saturating_sub(run.state.epochs_done);
    let bar = progress_bar(options, remaining * run.steps_per_epoch)?;
    let deadline = options.max_minutes.map(|m| m * 60.0);
    let earlier_seconds = run.state.train_seconds;
    let mut stopped_early = false;
    while run.state.epochs_done < options.epochs && !stopped_early {
        let epoch = run.state.epochs_done + 1;
        let (next, sums) = run.train_epoch(epoch, &data, &bar, started, deadline)?;
        run = next;
        stopped_early = sums.stopped;
        if sums.steps == 0 {
            break;
        }
        run.end_epoch(epoch, &sums, &data, &bar, earlier_seconds + started.elapsed().as_secs_f64())?;
    }
    bar.finish_and_clear();
    run.finish(&data, stopped_early, started.elapsed().as_secs_f64())
}

/// Validates the stochastic weight average of `epochs` (first and last, inclusive) after the session and exports it
/// for inference as `swa-f16.safetensors` (batch norm folded).
fn finish_swa(
    mean: &WeightAverage,
    (first_epoch, last_epoch): (usize, usize),
    val_slices: &[Slice],
    weighting: &LossWeighting,
    device: &Device,
    out: &Path,
) -> Result<SwaSummary> {
    let validation =
        if val_slices.is_empty() { None } else { Some(validate(mean.model(), val_slices, weighting, device)?) };
    model::save(&mean.model().clone().fold_batch_norm(), out.join("swa-f16.safetensors"), Precision::F16)?;
    Ok(SwaSummary { first_epoch, last_epoch, validation })
}
