//! Training of the U-Net: data ([`data`]), batches ([`batch`]), loss ([`loss`]), one
//! optimiser step ([`step`]), fine-tuning on annotations ([`finetune`], also in the
//! page: these five compile for wasm), the loop with
//! validation, checkpoints and best-model export ([`session`]), the optional
//! weight average ([`average`]), the learning-rate schedule ([`schedule`]), and the run's history and plots ([`history`], [`plot`]).
//!
//! A run directory holds `run.json` (the options), `history.csv`, the plots
//! `loss.svg` and `accuracy.svg` (`unetseg plot` redraws them from the history),
//! `checkpoint.safetensors` (the latest model), `state.json` (epochs done, best
//! score) and `best.safetensors` / `best-f16.safetensors`
//! (the best model by validation V_rand, ties broken by accuracy, exported for
//! inference: batch norm folded into the convolutions).
//!
//! A run may start from existing weights (`init`, `train --init`) instead of a random
//! network: fine-tuning, with the options of a new run.
//!
//! Resuming restores the weights, the history, the best score and the epoch count;
//! the optimiser's state (momentum, Adam moments) starts afresh. With `--ema`, the
//! weight average is kept in `average.safetensors` and resumed from there. With
//! `--swa-from`, the mean of the end-of-epoch weights is kept in `swa.safetensors`
//! (resumed from there) and, after the last epoch, validated and exported as
//! `swa-f16.safetensors`.

#[cfg(not(target_family = "wasm"))]
pub mod average;
pub mod batch;
pub mod data;
pub mod finetune;
#[cfg(not(target_family = "wasm"))]
pub mod history;
pub mod labelled;
pub mod loss;
#[cfg(not(target_family = "wasm"))]
pub mod plot;
pub mod schedule;
#[cfg(not(target_family = "wasm"))]
mod session;
pub mod step;
#[cfg(not(target_family = "wasm"))]
pub mod validate;

#[cfg(not(target_family = "wasm"))]
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[cfg(not(target_family = "wasm"))]
use crate::augment::AugmentRecipe;
#[cfg(not(target_family = "wasm"))]
use crate::device::DeviceChoice;
#[cfg(not(target_family = "wasm"))]
use crate::model::UNetConfig;

pub use finetune::{FineTuneOptions, FineTuneStep, FineTuner};
pub use schedule::LrSchedule;
#[cfg(not(target_family = "wasm"))]
pub use session::{train, SwaSummary, TrainSummary};

/// The optimisers of the original project (also `train --optimizer`).
#[cfg_attr(not(target_family = "wasm"), derive(clap::ValueEnum))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent, with momentum when given (the original used 0.99).
    Sgd,
    /// RMSprop (alpha 0.99, eps 1e-8, optional momentum), as PyTorch's defaults.
    Rmsprop,
    /// Adam (betas 0.9/0.999, eps 1e-8), as PyTorch's defaults.
    Adam,
}

/// Everything that defines a training run (saved as `RUN_DIR/run.json`).
#[cfg(not(target_family = "wasm"))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Data folder (`images/` + `masks/`, or ISBI multi-page TIFFs).
    pub data: PathBuf,
    /// Validation slices held out of training.
    pub holdout: data::Holdout,
    /// Slices left out of both training and validation (positions `first..=last` in
    /// name order): the test block a run's results are reported on (`--test-slices`).
    #[serde(default)]
    pub test_slices: Option<(usize, usize)>,
    /// The augmentations of every training crop (`--augment`; the original's for runs
    /// made before the option existed).
    #[serde(default)]
    pub augment: AugmentRecipe,
    /// Network architecture (ignored on resume: the checkpoint's config is used; with
    /// `init`, that file's).
    pub model: UNetConfig,
    /// Weights file the network starts from instead of a random initialisation
    /// (`--init`: fine-tuning); its config is `model`.
    #[serde(default)]
    pub init: Option<PathBuf>,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// How the learning rate changes over the epochs.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Momentum for SGD and RMSprop (`None`: none for RMSprop, 0.99 for SGD).
    pub momentum: Option<f64>,
    /// Total number of epochs (one epoch = every training slice once).
    pub epochs: usize,
    /// Crops per step.
    pub batch: usize,
    /// Input crop size in pixels (the output crop follows from the model).
    pub crop: usize,
    /// Seed of the initialisation, sampling and augmentation.
    pub seed: u64,
    /// Run directory.
    pub out: PathBuf,
    /// Device.
    pub device: DeviceChoice,
    /// Stop cleanly after this many minutes (checked between steps).
    pub max_minutes: Option<f64>,
    /// Loss weighting (class weights, border weight map).
    pub class_weights: Vec<f32>,
    /// Use the U-Net paper's border weight map.
    pub border_weights: bool,
    /// Validate every this many epochs (and after the last one).
    pub val_every: usize,
    /// Decay of the weight average that is validated and exported instead of the
    /// latest weights (`None`: no average). See [`average`].
    #[serde(default)]
    pub ema: Option<f64>,
    /// First epoch of the stochastic weight average (`None`: none). See [`average`].
    #[serde(default)]
    pub swa_from: Option<usize>,
    /// Show a progress bar.
    pub progress: bool,
}
