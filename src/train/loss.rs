//! The training loss: pixel-wise softmax cross-entropy with optional class weights
//! and the U-Net paper's border weight map, plus pixel accuracy.
//!
//! Loss = `sum_x w(x) * -log softmax(logits(x))[class(x)] / sum_x w(x)`, which is
//! PyTorch's `nn.CrossEntropyLoss(weight=...)` (mean reduction) when `w` comes from
//! class weights alone, and its plain mean when every weight is 1. Unlabelled pixels
//! ([`annotation::UNLABELLED_CLASS`] in a class-id mask) have weight 0: the loss is the
//! weighted mean over the labelled pixels, and 0 when a batch has none.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

use crate::annotation;
use crate::postprocess::components::{connected_components, Connectivity};
use crate::postprocess::distance::exact_euclidean;
use crate::raster::{GrayF32, Raster};
use crate::{Error, Result};

/// The paper's `w0`: weight added at the narrowest gaps between two cells.
pub const BORDER_W0: f32 = 10.0;
/// The paper's `sigma` (pixels) of the border weight's fall-off.
pub const BORDER_SIGMA: f32 = 5.0;

/// How pixels are weighted in the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct LossWeighting {
    /// Weight of each class (index = class id); all ones for the plain loss.
    pub class_weights: Vec<f32>,
    /// Add the U-Net paper's border weight map (`w0 = 10`, `sigma = 5`) to membrane pixels.
    pub border: bool,
}

impl LossWeighting {
    /// Unweighted cross-entropy over `classes` classes (the original project's loss).
    pub fn plain(classes: usize) -> Self {
        Self { class_weights: vec![1.0; classes], border: false }
    }

    /// Per-pixel weights for a class-id mask (row-major, like the mask); 0 for
    /// unlabelled pixels ([`annotation::UNLABELLED_CLASS`]).
    pub fn pixel_weights(&self, mask: &Raster<u8>) -> Result<Vec<f32>> {
        let mut weights = Vec::with_capacity(mask.data().len());
        for &class in mask.data() {
            if class == annotation::UNLABELLED_CLASS {
                weights.push(0.0);
                continue;
            }
            let w = self.class_weights.get(class as usize).ok_or_else(|| {
                Error::invalid(format!("mask class {class} has no class weight ({} given)", self.class_weights.len()))
            })?;
            weights.push(*w);
        }
        if self.border {
            let border = border_weight_map(mask, BORDER_W0, BORDER_SIGMA);
            // The map is 0 away from membrane pixels (class 0), so unlabelled ones stay at 0.
            for (w, b) in weights.iter_mut().zip(border.data()) {
                *w += b;
            }
        }
        Ok(weights)
    }
}

/// The U-Net paper's separation weight `w0 * exp(-(d1 + d2)^2 / (2 sigma^2))` for every
/// membrane pixel (class 0) of a class-id mask, where `d1` and `d2` are the Euclidean
/// distances to the nearest and second-nearest cell (4-connected component of class 1).
/// Cell pixels, and membrane pixels with fewer than two cells in the image, get 0.
pub fn border_weight_map(mask: &Raster<u8>, w0: f32, sigma: f32) -> GrayF32 {
    let (w, h) = mask.dims();
    let cells = connected_components(&mask.map(|class| u8::from(class == 1)), Connectivity::Four);
    let (labels, count) = (cells.labels, cells.count);
    let labels = labels.data();
    let mut nearest = vec![f32::INFINITY; w * h];
    let mut second = vec![f32::INFINITY; w * h];
    for cell in 1..=count as i32 {
        // Distance to the nearest pixel of this cell: the cell's pixels are the zeros.
        let others = Raster::from_fn(w, h, |x, y| if labels[y * w + x] == cell { 0u8 } else { 255 });
        let dist = exact_euclidean(&others);
        for i in 0..w * h {
            let d = dist.data()[i];
            if d < nearest[i] {
                second[i] = nearest[i];
                nearest[i] = d;
            } else if d < second[i] {
                second[i] = d;
            }
        }
    }
    let two_sigma_sq = 2.0 * sigma * sigma;
    Raster::from_fn(w, h, |x, y| {
        let i = y * w + x;
        if mask.data()[i] != 0 || !second[i].is_finite() {
            0.0
        } else {
            let s = nearest[i] + second[i];
            w0 * (-(s * s) / two_sigma_sq).exp()
        }
    })
}

/// A batch of targets on a device: one-hot classes `[N, C, H, W]` and pixel weights `[N, 1, H, W]`.
pub struct Targets {
    /// One-hot encoding of the class ids (all zeros at unlabelled pixels).
    pub one_hot: Tensor<4>,
    /// Per-pixel loss weights (0 at unlabelled pixels).
    pub weights: Tensor<4>,
    /// How many pixels of the batch are labelled.
    pub labelled: usize,
}

impl Targets {
    /// Builds the targets of a batch of class-id masks (all the same size) with `classes` classes.
    pub fn new(masks: &[&Raster<u8>], classes: usize, weighting: &LossWeighting, device: &Device) -> Result<Self> {
        let first = masks.first().ok_or_else(|| Error::invalid("empty batch"))?;
        let (w, h) = first.dims();
        let mut one_hot = Vec::with_capacity(masks.len() * classes * w * h);
        let mut weights = Vec::with_capacity(masks.len() * w * h);
        let mut labelled = 0;
        for mask in masks {
            if mask.dims() != (w, h) {
                return Err(Error::invalid("the masks of a batch differ in size"));
            }
            for c in 0..classes {
                one_hot.extend(mask.data().iter().map(|&v| if v as usize == c { 1.0f32 } else { 0.0 }));
            }
            weights.extend(weighting.pixel_weights(mask)?);
            labelled += mask.data().iter().filter(|&&c| c != annotation::UNLABELLED_CLASS).count();
        }
        let n = masks.len();
        Ok(Self {
            one_hot: Tensor::from_data(TensorData::new(one_hot, [n, classes, h, w]), device),
            weights: Tensor::from_data(TensorData::new(weights, [n, 1, h, w]), device),
            labelled,
        })
    }
}

/// Weighted mean softmax cross-entropy of `logits` `[N, C, H, W]` against `targets` (a
/// scalar tensor): 0, not NaN, when every weight is 0 (no labelled pixel).
pub fn cross_entropy(logits: Tensor<4>, targets: &Targets) -> Tensor<1> {
    let log_p = log_softmax(logits, 1);
    let nll = (log_p * targets.one_hot.clone()).sum_dim(1).neg();
    let weighted = (nll * targets.weights.clone()).sum();
    weighted / targets.weights.clone().sum().clamp_min(f32::MIN_POSITIVE)
}

/// Number of labelled pixels whose arg-max class equals the target class.
pub fn correct_pixels(logits: Tensor<4>, targets: &Targets) -> usize {
    let predicted = logits.argmax(1);
    let truth = targets.one_hot.clone().argmax(1);
    let labelled = targets.one_hot.clone().sum_dim(1).greater_elem(0.5);
    predicted.equal(truth).bool_and(labelled).int().sum().into_scalar::<i64>() as usize
}
