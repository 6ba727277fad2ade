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
    /// Mean V_rand (thinned) per slice: for 2 classes, of the cell probability map, best
    /// over the thresholds 0.0..1.0 (the ISBI scoring); otherwise of the arg-max classes.
    pub v_rand: f64,
}

/// Logits `[1, classes, H, W]` of `model` for the whole `image` (H x W), from one
/// forward pass on the image mirror-padded to the smallest size the network accepts.
pub fn whole_image_logits(model: &UNet, image: &GrayU8, device: &Device) -> Result<Tensor<4>> {
    let config = model.config();
    let (w, h) = image.dims();
    let margin = config.margin();
    let in_w = config.valid_input_size_at_least(w + 2 * margin);
    let in_h = config.valid_input_size_at_least(h + 2 * margin);
    let offset = -(margin as isize);
    let padded = augment::crop_symmetric(&augment::normalize_minmax(image), offset, offset, in_w, in_h)?;
    let x = Tensor::from_data(TensorData::new(padded.into_data(), [1, 1, in_h, in_w]), device);
    let logits = model.forward(x);
    Ok(logits.narrow(2, 0, h).narrow(3, 0, w))
}

/// Loss, accuracy and V_rand of `model` on `slices` (a network without autodiff on `device`).
pub fn validate(model: &UNet, slices: &[Slice], weighting: &LossWeighting, device: &Device) -> Result<Validation> {
    let classes = model.config().classes;
    let (mut loss_sum, mut correct, mut pixels, mut v_rand_sum) = (0.0, 0usize, 0usize, 0.0);
    for slice in slices {
        let logits = whole_image_logits(model, &slice.image, device)?;
        let truth = slice.classes();
        let targets = Targets::new(&[&truth], classes, weighting, device)?;
        loss_sum += f64::from(loss::cross_entropy(logits.clone(), &targets).into_scalar::<f32>());
        correct += loss::correct_pixels(logits.clone(), &targets);
        pixels += truth.data().len();
        let (w, h) = truth.dims();
        let report = if classes == 2 {
            // The ISBI scoring: V_rand of the cell probability map, best over thresholds.
            let cell = softmax(logits, 1).narrow(1, 1, 1);
            let probability: Vec<f32> = cell
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| Error::invalid(format!("cannot read the probabilities: {e:?}")))?;
            metrics::evaluate(&Raster::new(w, h, probability)?, &slice.mask)?
        } else {
            let predicted: Vec<i64> = logits
                .argmax(1)
                .into_data_as::<i64>()
                .try_to_vec::<i64>()
                .map_err(|e| Error::invalid(format!("cannot read the predicted classes: {e:?}")))?;
            let mask = Raster::from_fn(w, h, |x, y| if predicted[y * w + x] == 1 { 255u8 } else { 0 });
            metrics::evaluate(&mask, &slice.mask)?
        };
        v_rand_sum += report.v_rand;
    }
    let n = slices.len().max(1) as f64;
    Ok(Validation { loss: loss_sum / n, accuracy: correct as f64 / pixels.max(1) as f64, v_rand: v_rand_sum / n })
}
