//! One optimiser step, shared by `train` and the fine-tuner: the forward pass (through
//! unetseg's gemm layers on the CPU, else burn's), the masked cross-entropy, the
//! backward pass and the optimiser's update.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

use super::loss::{self, Targets};
use crate::model::UNet;

/// Whether `net` trains on `device` through unetseg's gemm layers: when they run it
/// ([`UNet::runs_on_gemm_layers`]: same padding, on the CPU), with or without batch
/// norm, unless the environment variable `UNETSEG_TRAIN_LAYERS` is `burn`.
pub fn uses_gemm_layers(net: &UNet, device: &Device) -> bool {
    net.runs_on_gemm_layers(device) && std::env::var("UNETSEG_TRAIN_LAYERS").map_or(true, |v| v != "burn")
}

/// What one step computed on its batch, before the update.
pub struct StepResult {
    /// The network after the update.
    pub net: UNet,
    /// The loss (a scalar tensor, not yet read back).
    pub loss: Tensor<1>,
    /// The logits, without autodiff.
    pub logits: Tensor<4>,
}

/// Trains `net` (on an autodiff device) one step on input `x` and `targets` at rate
/// `lr`, through the gemm layers when `gemm_layers` (see [`uses_gemm_layers`]). Takes
/// the network and hands it back, so that the optimiser owns the only handle on it
/// (burn then updates its tensors in place).
pub fn train_step(
    net: UNet,
    optim: &mut ModuleOptimizer,
    lr: f64,
    x: Tensor<4>,
    targets: &Targets,
    gemm_layers: bool,
) -> StepResult {
    let logits = if gemm_layers { net.forward_gemm(x) } else { net.forward(x) };
    let loss = loss::cross_entropy(logits.clone(), targets);
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let net = optim.step(lr, net, grads);
    StepResult { net, loss, logits: logits.without_autodiff() }
}
