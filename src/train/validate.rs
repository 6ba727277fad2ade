//! Validation of a network on whole slices: one forward pass per slice (mirror-padded
//! to a size the network accepts), loss, pixel accuracy and the ISBI V_rand.

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};

use super::data::Slice;
use super::loss::{self, LossWeighting, Targets};
use crate::model::UNet;
use crate::raster::{GrayU8, Raster};
use crate::{augment, metrics, Error, Result};

/// Mean validation numbers over a set of slices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Validation {
    /// Mean loss per slice.
    pub loss: f64,
    /// Pixel accuracy over all validation pixels.
    pub accuracy: f64,
    /// The challenge's V_rand of the validation slices as one stack (`metrics::stack_report`):
    /// at each threshold of the ISBI sweep the mean over the slices, then the best threshold.
    /// For 2 classes it scores the cell probability maps; otherwise the arg-max classes (a
    /// mask, the same at every threshold).
    pub v_rand: f64,
}

/// Logits `[1, classes, H, W]` of `model` for the whole `image` (H x W), from one
/// forward pass on the image, scaled by the network's normalisation and mirror-padded
/// to the smallest size the network accepts.
pub fn whole_image_logits(model: &UNet, image: &GrayU8, device: &Device) -> Result<Tensor<4>> {
    let config = model.config();
    let (w, h) = image.dims();
    let margin = config.margin();
    let in_w = config.valid_input_size_at_least(w + 2 * margin);
    let in_h = config.valid_input_size_at_least(h + 2 * margin);
    let offset = -(margin as isize);
    let padded = augment::crop_symmetric(&config.normalization.normalize(image), offset, offset, in_w, in_h)?;
    let x = Tensor::from_data(TensorData::new(padded.into_data(), [1, 1, in_h, in_w]), device);
    let logits = model.forward(x);
    Ok(logits.narrow(2, 0, h).narrow(3, 0, w))
}

/// Loss, accuracy and V_rand of `model` on `slices` (a network without autodiff on `device`).
pub fn validate(model: &UNet, slices: &[Slice], weighting: &LossWeighting, device: &Device) -> Result<Validation> {
    let classes = model.config().classes;
    let (mut loss_sum, mut correct, mut pixels) = (0.0, 0usize, 0usize);
    let mut scored = Vec::with_capacity(slices.len());
    for slice in slices {
        let logits = whole_image_logits(model, &slice.image, device)?;
        let truth = slice.classes();
        let targets = Targets::new(&[&truth], classes, weighting, device)?;
        loss_sum += f64::from(loss::cross_entropy(logits.clone(), &targets).into_scalar::<f32>());
        correct += loss::correct_pixels(logits.clone(), &targets);
        pixels += targets.labelled;
        let (w, h) = truth.dims();
        let slice_scores = if classes == 2 {
            // The ISBI scoring: V_rand of the cell probability map, best over thresholds.
            let cell = softmax(logits, 1).narrow(1, 1, 1);
            let probability: Vec<f32> = cell
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| Error::invalid(format!("cannot read the probabilities: {e:?}")))?;
            metrics::score_slice(&Raster::new(w, h, probability)?, &slice.mask)?
        } else {
            let predicted: Vec<i64> = logits
                .argmax(1)
                .into_data_as::<i64>()
                .try_to_vec::<i64>()
                .map_err(|e| Error::invalid(format!("cannot read the predicted classes: {e:?}")))?;
            let mask = Raster::from_fn(w, h, |x, y| if predicted[y * w + x] == 1 { 255u8 } else { 0 });
            metrics::score_slice(&mask, &slice.mask)?
        };
        scored.push(slice_scores);
    }
    let n = slices.len().max(1) as f64;
    let v_rand = metrics::stack_report(&scored).map_or(0.0, |stack| stack.v_rand);
    Ok(Validation { loss: loss_sum / n, accuracy: correct as f64 / pixels.max(1) as f64, v_rand })
}
