//! `unetseg train`: train a U-Net on images with membrane masks (or the page's 3-level
//! annotations), from scratch or from existing weights (`--init`).

use std::path::PathBuf;

use super::Preset;
use crate::augment::{AugmentRecipe, RobustParams};
use crate::device::DeviceChoice;
use crate::model::UNetConfig;
use crate::normalization::Normalization;
use crate::train::data::{parse_slice_range, Holdout};
use crate::train::{self, LrSchedule, OptimizerKind, TrainOptions};
use crate::{Error, Result};

/// Arguments of `unetseg train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Data folder: images/ + masks/ paired by file name, or train-volume.tif + train-labels.tif.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Hold out the last N slices for validation (default 3, as the original).
    #[arg(long, conflicts_with = "val_slices")]
    pub val: Option<usize>,
    /// Hold out slices A..B (0-based positions in name order, inclusive), e.g. 24..26.
    #[arg(long)]
    pub val_slices: Option<String>,
    /// Leave slices A..B (0-based, inclusive) out of training and validation alike: the
    /// test block to report on with `eval --slices A..B` (e.g. `--val-slices 21..23
    /// --test-slices 24..26`, so that nothing chosen by validation has seen them).
    #[arg(long)]
    pub test_slices: Option<String>,
    /// The augmentations: `original` (the original project's: flip, noise, brightness,
    /// elastic deformation, crop) or `robust` (those plus random scaling, gamma,
    /// contrast, blur and, with --invert-probability, inversion; see the range options).
    /// On resume, a new recipe for the rest of the run; the run's own when not given.
    #[arg(long, value_enum)]
    pub augment: Option<AugmentKind>,
    /// Robust recipe: scale factors MIN,MAX, log-uniform (default 0.5,2).
    #[arg(long)]
    pub scale_range: Option<String>,
    /// Robust recipe: gamma exponents MIN,MAX of v -> 255 (v/255)^gamma, log-uniform
    /// (default 0.5,2).
    #[arg(long)]
    pub gamma_range: Option<String>,
    /// Robust recipe: contrast factors MIN,MAX around the crop's mean, log-uniform
    /// (default 0.5,2).
    #[arg(long)]
    pub contrast_range: Option<String>,
    /// Robust recipe: the largest Gaussian blur sigma in pixels, uniform from 0
    /// (default 2).
    #[arg(long)]
    pub blur_max: Option<f64>,
    /// Robust recipe: the chance of inverting a crop's contrast (default 0: never).
    #[arg(long)]
    pub invert_probability: Option<f64>,
    /// How input images are scaled to [0, 1]: `minmax` (the original's) or
    /// `percentile` (0.5 % and 99.5 %, clipped); it travels with the weights (new runs
    /// only).
    #[arg(long, value_enum)]
    pub normalization: Option<Normalization>,
    /// Architecture preset (default compact).
    #[arg(long, value_enum)]
    pub model: Option<Preset>,
    /// Fine-tune: start from this weights file (e.g. weights/default.safetensors)
    /// instead of a random network. Its architecture and normalisation are kept, so
    /// --model, --base-channels, --batch-norm and --normalization may only repeat them.
    #[arg(long, value_name = "WEIGHTS", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Override the preset's channels of the first level.
    #[arg(long)]
    pub base_channels: Option<usize>,
    /// Batch normalisation after each convolution.
    #[arg(long)]
    pub batch_norm: bool,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// Learning rate (default 1e-3); on resume, a new rate for the rest of the run
    /// (e.g. a final stage at a lower rate).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule: constant, or cosine (half a cosine from --lr down to
    /// --lr-min over all --epochs); on resume, a new schedule for the epochs left, at
    /// the point the epoch count has reached (a cosine set at epoch 90 of 100 starts
    /// near its end).
    #[arg(long, value_enum)]
    pub lr_schedule: Option<ScheduleKind>,
    /// The rate a cosine schedule ends at (default: --lr / 100; implies cosine).
    #[arg(long)]
    pub lr_min: Option<f64>,
    /// Momentum of sgd (default 0.99) and rmsprop (default 0).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Total epochs (one epoch = every training slice once); on resume, the new total.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Crops per step.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Input crop size (572 for the seed preset, a multiple of 16 for compact).
    #[arg(long)]
    pub crop: Option<usize>,
    /// Random seed (initialisation, sampling, augmentation).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run directory (history, plots, checkpoints, best model).
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory (its options, its latest checkpoint).
    #[arg(long, conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Where the network trains (burn's Flex backend on the CPU, or wgpu); on resume,
    /// the run's own unless given.
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Stop cleanly after this many minutes.
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Loss weights of the classes membrane,cell (e.g. 2,1).
    #[arg(long)]
    pub class_weights: Option<String>,
    /// Add the U-Net paper's border weight map (w0 = 10, sigma = 5 px) to the loss;
    /// on resume, switches it on for the rest of the run (a fine-tuning stage).
    #[arg(long)]
    pub border_weights: bool,
    /// Validate every N epochs (and after the last); default 1, on resume the run's own.
    #[arg(long)]
    pub val_every: Option<usize>,
    /// Validate and export an exponential moving average of the weights with this
    /// decay per step (e.g. 0.99) instead of the latest weights; may be set on resume.
    #[arg(long, value_parser = parse_decay)]
    pub ema: Option<f64>,
    /// Stochastic weight averaging: keep the plain mean of the end-of-epoch weights
    /// from this epoch on (RUN_DIR/swa.safetensors), validate it after the last epoch
    /// and export it as RUN_DIR/swa-f16.safetensors; may be set on resume (epochs
    /// done before that are not in the mean).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub swa_from: Option<u64>,
    /// Hide the progress bar (the per-epoch lines are still printed).
    #[arg(long)]
    pub quiet: bool,
}

/// The recipes of `--augment`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AugmentKind {
    /// The original project's augmentations.
    Original,
    /// The original's plus scaling, gamma, contrast, blur and optional inversion.
    Robust,
}

/// The schedules of `--lr-schedule`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// The base rate throughout.
    Constant,
    /// Half a cosine from `--lr` down to `--lr-min`.
    Cosine,
}

fn parse_class_weights(text: &str) -> Result<Vec<f32>> {
    Ok(super::non_negative_numbers("--class-weights", text)?.into_iter().map(|w| w as f32).collect())
}

/// The schedule named by `--lr-schedule`/`--lr-min` for base rate `lr`, or `None`
/// when neither is given.
fn lr_schedule(args: &TrainArgs, lr: f64) -> Result<Option<LrSchedule>> {
    match (args.lr_schedule, args.lr_min) {
        (None, None) => Ok(None),
        (Some(ScheduleKind::Constant), None) => Ok(Some(LrSchedule::Constant)),
        (Some(ScheduleKind::Constant), Some(_)) => Err(Error::invalid("--lr-min needs --lr-schedule cosine")),
        (_, min) => {
            let min = min.unwrap_or(lr / 100.0);
            if !(min >= 0.0 && min <= lr) {
                return Err(Error::invalid(format!("--lr-min {min} must be between 0 and the learning rate {lr}")));
            }
            Ok(Some(LrSchedule::Cosine { min }))
        }
    }
}

/// Parses a range `MIN,MAX` of option `option` (two numbers >= 0).
fn parse_range(option: &str, text: &str) -> Result<(f64, f64)> {
    match super::non_negative_numbers(option, text)?[..] {
        [min, max] => Ok((min, max)),
        _ => Err(Error::invalid(format!("{option}: expected MIN,MAX, got '{text}'"))),
    }
}

/// The recipe named by `--augment` and the range options, or `None` when none is given.
fn augment_recipe(args: &TrainArgs) -> Result<Option<AugmentRecipe>> {
    let ranges = [
        ("--scale-range", args.scale_range.is_some()),
        ("--gamma-range", args.gamma_range.is_some()),
        ("--contrast-range", args.contrast_range.is_some()),
        ("--blur-max", args.blur_max.is_some()),
        ("--invert-probability", args.invert_probability.is_some()),
    ];
    let recipe = match args.augment {
        None => None,
        Some(AugmentKind::Original) => Some(AugmentRecipe::Original),
        Some(AugmentKind::Robust) => {
            let mut params = RobustParams::default();
            if let Some(text) = &args.scale_range {
                (params.scale_min, params.scale_max) = parse_range("--scale-range", text)?;
            }
            if let Some(text) = &args.gamma_range {
                (params.gamma_min, params.gamma_max) = parse_range("--gamma-range", text)?;
            }
            if let Some(text) = &args.contrast_range {
                (params.contrast_min, params.contrast_max) = parse_range("--contrast-range", text)?;
            }
            params.blur_sigma_max = args.blur_max.unwrap_or(params.blur_sigma_max);
            params.invert_probability = args.invert_probability.unwrap_or(params.invert_probability);
            params.validate()?;
            return Ok(Some(AugmentRecipe::Robust(params)));
        }
    };
    if let Some((option, _)) = ranges.iter().find(|(_, given)| *given) {
        return Err(Error::invalid(format!("{option} needs --augment robust")));
    }
    Ok(recipe)
}

/// Parses `--test-slices`.
fn test_slices(args: &TrainArgs) -> Result<Option<(usize, usize)>> {
    args.test_slices
        .as_deref()
        .map(|text| parse_slice_range(text).map_err(|e| Error::invalid(format!("--test-slices: {e}"))))
        .transpose()
}

/// The network of a new run: the architecture options' (the preset's, compact by
/// default), or with `--init` the weights file's, which those options may only repeat.
fn run_model(args: &TrainArgs) -> Result<UNetConfig> {
    let Some(init) = &args.init else {
        let mut model = args.model.unwrap_or(Preset::Compact).config();
        if let Some(base) = args.base_channels {
            model = model.with_base_channels(base);
        }
        model.batch_norm = args.batch_norm;
        model.normalization = args.normalization.unwrap_or_default();
        model.validate()?;
        return Ok(model);
    };
    let bytes = std::fs::read(init).map_err(|e| Error::file(init, format!("cannot read: {e}")))?;
    let model = crate::model::read_config(&bytes, &init.display().to_string())?;
    let preset_differs = args.model.is_some_and(|preset| {
        let c = preset.config();
        (c.depth, c.padding, c.in_channels, c.classes) != (model.depth, model.padding, model.in_channels, model.classes)
    });
    let conflicts = [
        ("--model", preset_differs),
        ("--base-channels", args.base_channels.is_some_and(|b| b != model.base_channels)),
        ("--batch-norm", args.batch_norm && !model.batch_norm),
        ("--normalization", args.normalization.is_some_and(|n| n != model.normalization)),
    ];
    if let Some((option, _)) = conflicts.iter().find(|(_, differs)| *differs) {
        let config = serde_json::to_string(&model).map_err(Error::invalid)?;
        return Err(Error::file(
            init,
            format!("--init fine-tunes this network as it is ({config}); {option} asks for another: leave it out"),
        ));
    }
    Ok(model)
}

/// The options of a new run from the command line.
fn new_run(args: &TrainArgs, data: PathBuf, out: PathBuf) -> Result<TrainOptions> {
    let model = run_model(args)?;
    let holdout = match (&args.val_slices, args.val) {
        (Some(range), _) => Holdout::parse_range(range).map_err(|e| Error::invalid(format!("--val-slices: {e}")))?,
        (None, n) => Holdout::Last(n.unwrap_or(3)),
    };
    let crop = args.crop.unwrap_or(if model.margin() > 0 { 572 } else { 256 });
    let lr = args.lr.unwrap_or(1e-3);
    Ok(TrainOptions {
        data,
        holdout,
        test_slices: test_slices(args)?,
        augment: augment_recipe(args)?.unwrap_or_default(),
        optimizer: args.optimizer,
        lr,
        lr_schedule: lr_schedule(args, lr)?.unwrap_or_default(),
        momentum: args.momentum,
        epochs: args.epochs.unwrap_or(100),
        batch: args.batch,
        crop,
        seed: args.seed,
        out,
        device: args.device.unwrap_or_default(),
        max_minutes: args.max_minutes,
        class_weights: match &args.class_weights {
            Some(text) => parse_class_weights(text)?,
            None => vec![1.0; model.classes],
        },
        border_weights: args.border_weights,
        val_every: args.val_every.unwrap_or(1),
        ema: args.ema,
        swa_from: args.swa_from.map(|e| e as usize),
        progress: !args.quiet,
        model,
        init: args.init.clone(),
    })
}

/// Parses an averaging decay in `[0, 1)`.
fn parse_decay(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(d) if (0.0..1.0).contains(&d) => Ok(d),
        _ => Err(format!("'{text}' is not a decay in [0, 1), e.g. 0.99")),
    }
}

/// Runs the subcommand.
pub fn run(args: TrainArgs) -> Result<()> {
    let (options, resume) = match (&args.resume, &args.data, &args.out) {
        (Some(dir), _, _) => {
            let path = dir.join("run.json");
            let text = std::fs::read_to_string(&path).map_err(|e| Error::file(&path, format!("cannot read: {e}")))?;
            let mut options: TrainOptions =
                serde_json::from_str(&text).map_err(|e| Error::file(&path, format!("invalid run options: {e}")))?;
            options.out = dir.clone();
            options.epochs = args.epochs.unwrap_or(options.epochs);
            options.max_minutes = args.max_minutes;
            options.lr = args.lr.unwrap_or(options.lr);
            options.lr_schedule = lr_schedule(&args, options.lr)?.unwrap_or(options.lr_schedule);
            options.val_every = args.val_every.unwrap_or(options.val_every);
            options.ema = args.ema.or(options.ema);
            options.swa_from = args.swa_from.map(|e| e as usize).or(options.swa_from);
            options.border_weights |= args.border_weights;
            options.progress = !args.quiet;
            options.device = args.device.unwrap_or(options.device);
            options.augment = augment_recipe(&args)?.unwrap_or(options.augment);
            for (given, option) in [
                (args.test_slices.is_some(), "--test-slices"),
                (args.val_slices.is_some() || args.val.is_some(), "--val/--val-slices"),
                (args.normalization.is_some(), "--normalization"),
            ] {
                if given {
                    return Err(Error::invalid(format!("{option} cannot change on resume: the run keeps its own")));
                }
            }
            (options, true)
        }
        (None, Some(data), Some(out)) => (new_run(&args, data.clone(), out.clone())?, false),
        _ => return Err(Error::invalid("train needs --data and --out (or --resume RUN_DIR)")),
    };
    let summary = train::train(&options, resume)?;
    println!(
        "{} epochs done in {:.1} min{}",
        summary.epochs_done,
        summary.seconds / 60.0,
        if summary.stopped_early { " (stopped by --max-minutes)" } else { "" }
    );
    if let Some((epoch, v)) = summary.best {
        println!(
            "best: epoch {epoch}, val loss {:.4}, accuracy {:.4}, v_rand {:.4} -> {}",
            v.loss,
            v.accuracy,
            v.v_rand,
            options.out.join("best.safetensors").display()
        );
    }
    if let Some(swa) = summary.swa {
        let scores = swa
            .validation
            .map(|v| format!(": val loss {:.4}, accuracy {:.4}, v_rand {:.4}", v.loss, v.accuracy, v.v_rand))
            .unwrap_or_default();
        let epochs = match (swa.first_epoch, swa.last_epoch) {
            (first, last) if first == last => format!("epoch {first}"),
            (first, last) => format!("epochs {first}-{last}"),
        };
        println!("weight average of {epochs}{scores} -> {}", options.out.join("swa-f16.safetensors").display());
    }
    Ok(())
}
