//! Fine-tuning a trained network on a user's annotations, one step at a time: what
//! the page's "Fine-tune" runs in its worker (and what runs natively in the tests).
//!
//! The annotations are 3-level masks ([`crate::annotation`]): they may be complete
//! masks or sparse scribbles. Every crop is centred near a labelled pixel drawn
//! uniformly from all the labelled pixels, so a few strokes on a large image are
//! sampled as often as a full mask; then the training's own augmentations, batch,
//! masked loss and optimiser step ([`super::batch`], [`super::step`]) run on it, with
//! Adam and a seeded random generator.

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::batch::batch;
use super::data::{self, Slice};
use super::labelled::{window_around, LabelledPixels};
use super::loss::{self, LossWeighting, Targets};
use super::step::{train_step, uses_gemm_layers, StepResult};
use crate::augment::AugmentRecipe;
use crate::model::{self, Precision, UNet};
use crate::{annotation, Error, Result};

/// How many times a step draws its crops again when augmentation left none of them a
/// labelled pixel, before it gives up.
const MAX_DRAWS: usize = 8;

/// The settings of a fine-tuning run (JSON from the page; fields left out take their
/// defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FineTuneOptions {
    /// Adam's learning rate.
    pub lr: f64,
    /// Crops per step.
    pub batch: usize,
    /// Input crop size in pixels (one the network accepts).
    pub crop: usize,
    /// Seed of the crop positions and augmentations.
    pub seed: u64,
    /// The augmentations of every crop.
    pub augment: AugmentRecipe,
    /// Loss weight of each class (membrane, cell); `None`: all 1.
    pub class_weights: Option<Vec<f32>>,
    /// Add the U-Net paper's border weight map to the loss.
    pub border_weights: bool,
}

impl Default for FineTuneOptions {
    /// Batch 4 of 256² crops, Adam at 1e-4, the original augmentations, plain loss, seed 0.
    fn default() -> Self {
        Self {
            lr: 1e-4,
            batch: 4,
            crop: 256,
            seed: 0,
            augment: AugmentRecipe::Original,
            class_weights: None,
            border_weights: false,
        }
    }
}

/// What one fine-tuning step did (sent to the page).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FineTuneStep {
    /// The step's number, from 1.
    pub step: usize,
    /// Its loss: the weighted mean cross-entropy over the labelled pixels of its batch.
    pub loss: f32,
    /// How many pixels of its batch were labelled.
    pub labelled: usize,
}

/// One annotated image and where its labelled pixels are.
struct Annotated {
    slice: Slice,
    /// Number of labelled pixels before this image's, in all the images before it.
    start: u64,
    labelled: LabelledPixels,
}

/// A network being fine-tuned on annotated images: its weights on an autodiff
/// device, Adam's state, the seeded generator and the annotations.
pub struct FineTuner {
    /// The network; `None` only if a step panicked half-way.
    net: Option<UNet>,
    optim: ModuleOptimizer,
    device: Device,
    rng: ChaCha8Rng,
    annotations: Vec<Annotated>,
    /// Labelled pixels in all the annotations.
    labelled: u64,
    options: FineTuneOptions,
    weighting: LossWeighting,
    /// Input and output crop sizes.
    sizes: (usize, usize),
    gemm_layers: bool,
    steps: usize,
    /// A batch drawn once when the run starts and never trained on as such: the
    /// loss on it ([`probe_loss`](Self::probe_loss)) shows whether the run is
    /// learning, free of the noise of each step's new crops. Always set after `new`.
    probe: Option<(Tensor<4>, Targets)>,
}

impl FineTuner {
    /// Starts fine-tuning the network of the weights file `weights` (`name` is used in
    /// errors) on `annotations` (images with 0/128/255 masks of their size) on
    /// `device` (autodiff is added). Fails, naming the file, on a mask of another
    /// size or with other values, and when no annotation has a labelled pixel, a
    /// crop size the network does not accept, or invalid options.
    pub fn new(
        weights: &[u8],
        name: &str,
        annotations: Vec<Slice>,
        options: FineTuneOptions,
        device: &Device,
    ) -> Result<Self> {
        if options.batch == 0 || !(options.lr.is_finite() && options.lr > 0.0) {
            return Err(Error::invalid(format!(
                "fine-tuning needs a batch of at least 1 and a learning rate above 0 (got {} and {})",
                options.batch, options.lr
            )));
        }
        options.augment.validate()?;
        let device = device.clone().autodiff();
        let net = model::load_from_bytes(weights, name, &device)?.train();
        let config = net.config().clone();
        let output = config.output_size(options.crop).ok_or_else(|| {
            Error::invalid(format!(
                "crop {} does not fit this network; the nearest size it accepts is {}",
                options.crop,
                config.valid_input_size_at_least(options.crop)
            ))
        })?;
        let class_weights = options.class_weights.clone().unwrap_or_else(|| vec![1.0; config.classes]);
        if class_weights.len() != config.classes {
            return Err(Error::invalid(format!(
                "the class weights need {} values, got {}",
                config.classes,
                class_weights.len()
            )));
        }
        let weighting = LossWeighting { class_weights, border: options.border_weights };
        let mut labelled = 0;
        let mut annotated = Vec::with_capacity(annotations.len());
        for slice in annotations {
            annotation::check(&slice.mask).map_err(|e| Error::file(&slice.name, e))?;
            let slice = data::pair(slice.name.clone(), slice.image, slice.mask, &slice.name)?;
            let image = Annotated { labelled: LabelledPixels::new(&slice.mask), slice, start: labelled };
            labelled += image.labelled.count();
            annotated.push(image);
        }
        if labelled == 0 {
            return Err(Error::invalid(
                "the annotations have no labelled pixel: paint some membrane (0) or cell (255) first",
            ));
        }
        let gemm_layers = uses_gemm_layers(&net, &device);
        let mut tuner = Self {
            net: Some(net),
            optim: AdamConfig::new().with_epsilon(1e-8).init(),
            device,
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            annotations: annotated,
            labelled,
            sizes: (options.crop, output),
            options,
            weighting,
            gemm_layers,
            steps: 0,
            probe: None,
        };
        tuner.probe = Some(tuner.draw_batch(0)?);
        Ok(tuner)
    }

    /// Whether the steps run through unetseg's gemm layers (the CPU) rather than burn's.
    pub fn uses_gemm_layers(&self) -> bool {
        self.gemm_layers
    }

    /// One step: a batch of augmented crops centred near labelled pixels, the masked
    /// loss, backward and Adam's update. Fails when the loss is not finite (the
    /// network then holds the diverged weights), and when augmentation leaves no crop
    /// of the batch a labelled pixel in several draws in a row. Reads the loss back
    /// synchronously: on WebGPU use [`step_async`](Self::step_async).
    pub fn step(&mut self) -> Result<FineTuneStep> {
        let (pending, loss) = self.update()?;
        self.finish(pending, loss.into_scalar::<f32>())
    }

    /// [`step`](Self::step) with the loss read back asynchronously, as the browser's
    /// WebGPU requires.
    pub async fn step_async(&mut self) -> Result<FineTuneStep> {
        let (pending, loss) = self.update()?;
        let data =
            loss.into_data_async().await.map_err(|e| Error::invalid(format!("reading the loss back failed: {e:?}")))?;
        let loss = data.iter::<f32>().next().ok_or_else(|| Error::invalid("the loss came back empty"))?;
        self.finish(pending, loss)
    }

    /// The mean masked loss of the current network on the batch drawn when the run
    /// started (the same crops every time), read back synchronously.
    pub fn probe_loss(&self) -> Result<f32> {
        Ok(self.probe_loss_tensor()?.into_scalar::<f32>())
    }

    /// [`probe_loss`](Self::probe_loss) read back asynchronously (WebGPU).
    pub async fn probe_loss_async(&self) -> Result<f32> {
        let data = self
            .probe_loss_tensor()?
            .into_data_async()
            .await
            .map_err(|e| Error::invalid(format!("reading the loss back failed: {e:?}")))?;
        let loss = data.iter::<f32>().next();
        loss.ok_or_else(|| Error::invalid("the loss came back empty"))
    }

    fn probe_loss_tensor(&self) -> Result<Tensor<1>> {
        let net = self.net.as_ref().ok_or_else(|| Error::invalid("an earlier fine-tuning step failed"))?;
        let (x, targets) = self.probe.as_ref().ok_or_else(|| Error::invalid("the fine-tuner has no probe batch"))?;
        let logits = if self.gemm_layers { net.forward_gemm(x.clone()) } else { net.forward(x.clone()) };
        Ok(loss::cross_entropy(logits, targets))
    }

    /// The update of one step, and its loss not yet read back.
    fn update(&mut self) -> Result<(FineTuneStep, Tensor<1>)> {
        let step = self.steps + 1;
        let (x, targets) = self.draw_batch(step)?;
        let net = self.net.take().ok_or_else(|| Error::invalid("an earlier fine-tuning step failed"))?;
        let StepResult { net, loss, .. } =
            train_step(net, &mut self.optim, self.options.lr, x, &targets, self.gemm_layers);
        self.net = Some(net);
        self.steps = step;
        Ok((FineTuneStep { step, loss: f32::NAN, labelled: targets.labelled }, loss))
    }

    /// A batch of augmented crops centred near labelled pixels (for step `step`, named
    /// in the error), drawn again when augmentation left none of them a labelled pixel.
    fn draw_batch(&mut self, step: usize) -> Result<(Tensor<4>, Targets)> {
        for _ in 0..MAX_DRAWS {
            let crops = (0..self.options.batch).map(|_| self.draw_crop()).collect::<Result<Vec<_>>>()?;
            let refs: Vec<&Slice> = crops.iter().collect();
            let net = self.net.as_ref().ok_or_else(|| Error::invalid("an earlier fine-tuning step failed"))?;
            let (x, targets) = batch(
                &refs,
                self.sizes,
                net.config(),
                &self.options.augment,
                &self.weighting,
                &mut self.rng,
                &self.device,
            )?;
            if targets.labelled > 0 {
                return Ok((x, targets));
            }
        }
        Err(Error::invalid(format!(
            "fine-tuning step {step}: {MAX_DRAWS} batches in a row had no labelled pixel left after augmentation; \
             annotate more pixels"
        )))
    }

    /// `pending` with its `loss` read back; an error when the loss is not finite.
    fn finish(&self, pending: FineTuneStep, loss: f32) -> Result<FineTuneStep> {
        if !loss.is_finite() {
            return Err(Error::invalid(format!(
                "the loss diverged at fine-tuning step {}; try a smaller learning rate",
                pending.step
            )));
        }
        Ok(FineTuneStep { loss, ..pending })
    }

    /// The current network for inference: without autodiff, on the device the
    /// fine-tuner was given, batch norm (if any) folded into the convolutions.
    pub fn network(&self) -> Result<UNet> {
        let net = self.net.as_ref().ok_or_else(|| Error::invalid("an earlier fine-tuning step failed"))?;
        Ok(net.valid().fold_batch_norm())
    }

    /// The current network ([`network`](Self::network)) as a weights file: the
    /// safetensors bytes with its config that [`model::to_bytes`] writes (f32), which
    /// `unetseg segment --weights` and the page load.
    pub fn weights(&self) -> Result<Vec<u8>> {
        model::to_bytes(&self.network()?, Precision::F32)
    }

    /// [`weights`](Self::weights) read back asynchronously, as the browser's WebGPU
    /// requires ([`model::to_bytes_async`]).
    pub async fn weights_async(&self) -> Result<Vec<u8>> {
        model::to_bytes_async(&self.network()?, Precision::F32).await
    }

    /// An input-sized window of one annotated image (and its annotation) around a
    /// labelled pixel drawn uniformly from all of them ([`window_around`]).
    fn draw_crop(&mut self) -> Result<Slice> {
        let k = self.rng.random_range(0..self.labelled);
        let index = self.annotations.partition_point(|a| a.start + a.labelled.count() <= k);
        let image = &self.annotations[index];
        let at = image.labelled.position(&image.slice.mask, k - image.start);
        window_around(&image.slice, at, self.sizes.0, &mut self.rng)
    }
}
