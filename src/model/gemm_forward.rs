//! The U-Net's forward through unetseg's gemm layers ([`super::gemm_ops`]) on burn's Flex
//! CPU backend: the same function as [`UNet::forward`], differentiable through burn's
//! autodiff, several times faster to train (see BENCHMARKS.md).
//!
//! The activations flow as bordered NHWC batches; the decoder's concatenation is never
//! built (its first convolution sums over both halves). Batch norm in training mode
//! (autodiff device, layer not frozen) is the fused batch-norm-and-ReLU operation, and
//! updates the running statistics as burn's `BatchNorm` does; without autodiff the norms
//! (then in inference mode) are folded into their convolutions first. Only same-padded
//! networks with a bias in every convolution, on a Flex device, take this path
//! ([`UNet::runs_on_gemm_layers`]); the others keep burn's own layers.

use burn::backend::DispatchDevice;
use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::BatchNorm;
use burn::tensor::{Device, Tensor};

use super::gemm_ops::{self, conv3x3, conv3x3_cat};
use super::{DoubleConv, Padding, UNet};

/// The bias of a convolution that [`UNet::runs_on_gemm_layers`] accepted.
fn bias(bias: &Option<Param<Tensor<1>>>) -> Tensor<1> {
    bias.as_ref().expect("runs_on_gemm_layers checks that every convolution has a bias").val()
}

/// The ReLU after a convolution's output `z`, after its batch norm `norm` if it has one
/// (the ReLU is then fused with the norm, else with the convolution: `z` has it already).
fn norm_relu(norm: &Option<BatchNorm>, z: Tensor<4>) -> Tensor<4> {
    let Some(norm) = norm else { return z };
    let result = gemm_ops::batch_norm_relu(z, norm.gamma.val(), norm.beta.val(), norm.epsilon);
    // The running statistics move towards the batch's, as in burn's `BatchNorm`.
    let device = result.mean.device();
    let momentum = norm.momentum;
    let blend = |running: Tensor<1>, batch: Tensor<1>| {
        running.to_device(&device).mul_scalar(1.0 - momentum).add(batch.detach().mul_scalar(momentum)).detach()
    };
    norm.running_mean.update(blend(norm.running_mean.value_sync(), result.mean));
    norm.running_var.update(blend(norm.running_var.value_sync(), result.variance));
    result.output
}

/// A 3x3 convolution of `x`, then its batch norm if any, then its ReLU.
fn conv_norm_relu(conv: &Conv2d, norm: &Option<BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    norm_relu(norm, conv3x3(x, conv.weight.val(), bias(&conv.bias), norm.is_none()))
}

/// Both convolutions of a contracting block, each followed by its batch norm if any and its ReLU.
fn double_conv(block: &DoubleConv, x: Tensor<4>) -> Tensor<4> {
    let x = conv_norm_relu(&block.conv1, &block.norm1, x);
    conv_norm_relu(&block.conv2, &block.norm2, x)
}

/// Whether `device` is burn's Flex backend, with or without autodiff.
fn is_flex(device: &Device) -> bool {
    match device.as_dispatch() {
        DispatchDevice::Flex(_) => true,
        DispatchDevice::Autodiff(inner) => matches!(**inner, DispatchDevice::Flex(_)),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

impl UNet {
    /// Whether [`forward_gemm`](Self::forward_gemm) can run this network on `device`: same
    /// padding, a bias in every convolution, burn's Flex CPU backend, and under autodiff
    /// no frozen batch norm.
    pub fn runs_on_gemm_layers(&self, device: &Device) -> bool {
        let blocks = || self.conv_down.iter().map(|b| &b.conv).chain(self.conv_up.iter().map(|b| &b.conv));
        let biased = blocks().flat_map(|c| [&c.conv1, &c.conv2]).chain([&self.conv_out]).all(|c| c.bias.is_some())
            && self.conv_up.iter().all(|b| b.up.bias.is_some());
        let norms_train = blocks().flat_map(|c| [&c.norm1, &c.norm2]).flatten().all(|n| n.training.is_enabled());
        self.config.padding == Padding::Same && biased && is_flex(device) && (norms_train || !device.is_autodiff())
    }

    /// The class logits of [`forward`](Self::forward) (to float rounding), computed by the
    /// gemm layers, with their own backward passes under autodiff. The caller checks
    /// [`runs_on_gemm_layers`](Self::runs_on_gemm_layers) first; the input's sides must
    /// be multiples of `2^(depth - 1)`.
    ///
    /// # Panics
    /// On a network or device that [`runs_on_gemm_layers`](Self::runs_on_gemm_layers)
    /// refuses, on other sides, or on tensors that are not `f32`.
    pub fn forward_gemm(&self, x: Tensor<4>) -> Tensor<4> {
        if self.config.batch_norm && !x.device().is_autodiff() {
            // Batch norm in inference mode is a per-channel affine map: part of the convolution.
            return self.clone().fold_batch_norm().forward_gemm(x);
        }
        let mut skips = Vec::with_capacity(self.conv_down.len());
        let mut x = gemm_ops::to_bordered(x);
        for (level, block) in self.conv_down.iter().enumerate() {
            if level > 0 {
                x = gemm_ops::max_pool2x2(x);
            }
            x = double_conv(&block.conv, x);
            skips.push(x.clone());
        }
        // The bottom level's output is `x` itself, not a skip.
        skips.pop();
        for (block, skip) in self.conv_up.iter().zip(skips.into_iter().rev()) {
            let up = gemm_ops::up_conv2x2(x, block.up.weight.val(), bias(&block.up.bias));
            let (conv, norm) = (&block.conv.conv1, &block.conv.norm1);
            x = norm_relu(norm, conv3x3_cat(up, skip, conv.weight.val(), bias(&conv.bias), norm.is_none()));
            x = conv_norm_relu(&block.conv.conv2, &block.conv.norm2, x);
        }
        gemm_ops::head1x1(x, self.conv_out.weight.val(), bias(&self.conv_out.bias))
    }
}

#[cfg(test)]
mod tests {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    use crate::model::{load_from_bytes, to_bytes, Precision, UNet, UNetConfig};
    use crate::train::loss::{cross_entropy, LossWeighting, Targets};
    use crate::Raster;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// Every float tensor of a module in visiting order, flattened: with `grads`, each
    /// one's gradient (none for batch-norm running statistics), else its value.
    struct Collect<'a> {
        grads: Option<&'a GradientsParams>,
        out: Vec<Option<Vec<f32>>>,
    }

    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out.push(match self.grads {
                Some(grads) => grads.get::<D>(param.id).map(values),
                None => Some(values(param.val())),
            });
        }
    }

    /// The values of every float tensor of `net` (parameters and running statistics).
    fn tensors(net: &UNet) -> Vec<Vec<f32>> {
        let mut collect = Collect { grads: None, out: Vec::new() };
        net.visit(&mut collect);
        collect.out.into_iter().flatten().collect()
    }

    /// The loss of `logits` and the gradient of every float tensor of `net`.
    fn loss_and_gradients(net: &UNet, logits: Tensor<4>, targets: &Targets) -> (f32, Vec<Option<Vec<f32>>>) {
        let loss = cross_entropy(logits, targets);
        let value = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), net);
        let mut collect = Collect { grads: Some(&grads), out: Vec::new() };
        net.visit(&mut collect);
        (value, collect.out)
    }

    /// `max |a - b| / max(max |b|, floor)`.
    fn relative_difference(a: &[f32], b: &[f32], floor: f32) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(floor, |m, v| m.max(v.abs()));
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// The largest relative difference between two sets of gradients, each measured
    /// against its own scale, or a hundredth of the largest gradient when it is smaller
    /// (f32 rounding of long sums, as in batch norm's backward, is relative to the
    /// large terms). Gradients below a ten-thousandth of the largest one are the zero
    /// gradients of the biases of convolutions before a batch norm (only rounding
    /// noise in both): they must stay that small, but are not compared.
    fn gradient_difference(ours: &[Option<Vec<f32>>], theirs: &[Option<Vec<f32>>]) -> f32 {
        assert_eq!(ours.len(), theirs.len());
        let scale = |g: &[f32]| g.iter().fold(0f32, |m, v| m.max(v.abs()));
        let largest = theirs.iter().flatten().map(|g| scale(g)).fold(0f32, f32::max);
        let mut worst = 0f32;
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            match (a, b) {
                (Some(a), Some(b)) if scale(b) < 1e-4 * largest => {
                    assert!(scale(a) < 1e-4 * largest, "tensor {i}: gradient {} where the reference has ~0", scale(a));
                }
                (Some(a), Some(b)) => worst = worst.max(relative_difference(a, b, 1e-2 * largest)),
                (None, None) => {}
                _ => panic!("tensor {i} has a gradient in one path only"),
            }
        }
        worst
    }

    /// An independent copy of `net` (its running statistics not shared).
    fn copy(net: &UNet, device: &Device) -> UNet {
        load_from_bytes(&to_bytes(net, Precision::F32).unwrap(), "copy", device).unwrap()
    }

    /// Runs burn's forward and the gemm forward on two copies of one network on one random
    /// batch under autodiff, with class weights and the border weight map in the loss, and
    /// returns the largest relative difference of the logits, the loss, every parameter's
    /// gradient and (with batch norm) the updated running statistics.
    fn compare_with_burn(config: UNetConfig, images: usize, height: usize, width: usize) -> f32 {
        compare_with_burn_on(config, images, height, width, 0.0)
    }

    /// [`compare_with_burn`] with the random batch `x` moved to `x + shift x²`.
    fn compare_with_burn_on(config: UNetConfig, images: usize, height: usize, width: usize, shift: f32) -> f32 {
        // The same network and batch at every run: a seeded draw, one test at a time (the
        // seed is the device's, shared by the tests running at once).
        static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
        let device = Device::flex().autodiff();
        device.seed(7);
        let burn_net = UNet::new(&config, &device).unwrap();
        let gemm_net = copy(&burn_net, &device);
        assert!(gemm_net.runs_on_gemm_layers(&device));
        let shape = [images, config.in_channels, height, width];
        let x = Tensor::<4>::random(shape, Distribution::Uniform(0.0, 1.0), &device);
        let x = x.clone() + x.powf_scalar(2.0) * shift;
        let masks: Vec<Raster<u8>> = (0..images)
            .map(|k| Raster::from_fn(width, height, |x, y| (((x / 3 + y / 2 + k) * 7 + x * y) % config.classes) as u8))
            .collect();
        let refs: Vec<&Raster<u8>> = masks.iter().collect();
        let class_weights = (1..=config.classes).map(|c| c as f32).collect();
        let weighting = LossWeighting { class_weights, border: true };
        let targets = Targets::new(&refs, config.classes, &weighting, &device).unwrap();
        let burn_logits = burn_net.forward(x.clone());
        let gemm_logits = gemm_net.forward_gemm(x);
        let mut worst = relative_difference(&values(gemm_logits.clone()), &values(burn_logits.clone()), 0.0);
        for (ours, theirs) in tensors(&gemm_net).iter().zip(&tensors(&burn_net)) {
            worst = worst.max(relative_difference(ours, theirs, 0.0));
        }
        let (burn_loss, burn_grads) = loss_and_gradients(&burn_net, burn_logits, &targets);
        let (gemm_loss, gemm_grads) = loss_and_gradients(&gemm_net, gemm_logits, &targets);
        assert!(burn_grads.iter().flatten().all(|g| g.iter().any(|&v| v != 0.0)), "a gradient is zero: nothing tested");
        worst = worst.max((gemm_loss - burn_loss).abs() / burn_loss.abs());
        worst = worst.max(gradient_difference(&gemm_grads, &burn_grads));
        println!("{config:?}, {images} x {height}x{width}: largest relative difference {worst:.2e}");
        worst
    }

    #[test]
    fn gradients_match_burn_autodiff_on_compact_shapes() {
        let worst = compare_with_burn(UNetConfig::compact().with_base_channels(4), 2, 32, 32);
        assert!(worst < 1e-4, "{worst}");
    }

    #[test]
    fn gradients_match_burn_autodiff_with_odd_widths_channels_and_classes() {
        let config = UNetConfig { depth: 3, in_channels: 2, classes: 3, ..UNetConfig::compact().with_base_channels(3) };
        let worst = compare_with_burn(config, 3, 12, 20);
        assert!(worst < 1e-4, "{worst}");
    }

    #[test]
    fn gradients_and_running_statistics_match_burn_with_batch_norm() {
        let config = UNetConfig { batch_norm: true, ..UNetConfig::compact().with_base_channels(4) };
        // Batch norm centres every pre-activation on 0, the ReLU's kink, so a batch now and
        // then puts one within rounding of it and the two paths take different (equally
        // valid) sides: the logits and the loss still agree to ~1e-6, the gradients of
        // that draw differ by up to ~1e-2, and moving the input by 1e-4 x² brings them back
        // to ~3e-6. Of seeds 0-11 with three such shifts each, 2 of the 36 draws hit a kink
        // (4.4e-3 and 1.3e-2), the other 34 gave 1.3e-6 to 7.0e-6. So: the closest of three
        // shifted batches must agree as closely as without batch norm, and none may be off
        // by more than a kink gives (a wrong formula gives differences of order 1). The seed
        // is the device's, shared with tests running at once, so a run may draw another
        // network; three kinks at once are the unlikely way this fails.
        let worst: Vec<f32> =
            [0.0, 1e-4, 1e-3].into_iter().map(|shift| compare_with_burn_on(config.clone(), 3, 32, 48, shift)).collect();
        assert!(worst.iter().copied().fold(f32::INFINITY, f32::min) < 1e-4, "{worst:?}");
        assert!(worst.iter().all(|&w| w < 5e-2), "{worst:?}");
    }

    #[test]
    fn forward_without_autodiff_matches_burn_also_with_folded_batch_norm() {
        let device = Device::flex();
        for batch_norm in [false, true] {
            let config = UNetConfig { batch_norm, ..UNetConfig::compact().with_base_channels(2) };
            let net = UNet::new(&config, &device).unwrap();
            assert!(net.runs_on_gemm_layers(&device));
            let x = Tensor::<4>::random([1, 1, 48, 64], Distribution::Uniform(0.0, 1.0), &device);
            let diff = relative_difference(&values(net.forward_gemm(x.clone())), &values(net.forward(x)), 0.0);
            assert!(diff < 1e-5, "batch norm {batch_norm}: {diff}");
        }
    }

    #[test]
    fn refuses_valid_padding_and_frozen_batch_norm_in_training() {
        let device = Device::flex().autodiff();
        let valid = UNetConfig { depth: 2, ..UNetConfig::seed().with_base_channels(2) };
        assert!(!UNet::new(&valid, &device).unwrap().runs_on_gemm_layers(&device));
        let batch_norm = UNetConfig { batch_norm: true, depth: 2, ..UNetConfig::compact().with_base_channels(2) };
        let frozen = UNet::new(&batch_norm, &device).unwrap().freeze();
        assert!(!frozen.runs_on_gemm_layers(&device));
        assert!(frozen.runs_on_gemm_layers(&Device::flex()));
    }

    /// The fixture of tests/fixtures/gemm_training (made by make_fixture.py there with
    /// PyTorch): the batch and targets of its formulas, the loss weighted by the class
    /// weights 1 and 2.5, and PyTorch's loss and gradients compared with those of both
    /// of unetseg's paths. Returns the largest relative differences (gemm, burn).
    fn compare_with_pytorch() -> (f32, f32) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gemm_training");
        let config = UNetConfig::compact().with_base_channels(2);
        let device = Device::flex().autodiff();
        let import = |name: &str| crate::import::import_state_dict(&dir.join(name), &config, &device).unwrap();
        let net = import("compact_base2.safetensors");
        // PyTorch's gradients under the weights' names, read as if they were weights.
        let torch_grads: Vec<Option<Vec<f32>>> =
            tensors(&import("compact_base2_grads.safetensors")).into_iter().map(Some).collect();
        let loss_json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("loss.json")).unwrap()).unwrap();
        let torch_loss = loss_json["loss"].as_f64().unwrap() as f32;
        let (images, size) = (2, 32);
        let pixels: Vec<f32> = (0..images * size * size)
            .map(|i| {
                let (n, y, x) = (i / (size * size), i / size % size, i % size);
                ((31 * n + 17 * y + 7 * x + (x * y) % 5) % 23) as f32 / 22.0
            })
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [images, 1, size, size]), &device);
        let masks: Vec<Raster<u8>> = (0..images)
            .map(|n| Raster::from_fn(size, size, |x, y| u8::from((n + 3 * y + 5 * x + (x * y) % 7) % 3 == 0)))
            .collect();
        let refs: Vec<&Raster<u8>> = masks.iter().collect();
        let weighting = LossWeighting { class_weights: vec![1.0, 2.5], border: false };
        let targets = Targets::new(&refs, 2, &weighting, &device).unwrap();
        let mut worst = [0f32; 2];
        for (gemm, worst) in [true, false].into_iter().zip(&mut worst) {
            let logits = if gemm { net.forward_gemm(x.clone()) } else { net.forward(x.clone()) };
            let (loss, grads) = loss_and_gradients(&net, logits, &targets);
            *worst = ((loss - torch_loss).abs() / torch_loss).max(gradient_difference(&grads, &torch_grads));
        }
        println!(
            "against PyTorch: largest relative difference, gemm layers {:.2e}, burn layers {:.2e}",
            worst[0], worst[1]
        );
        (worst[0], worst[1])
    }

    #[test]
    fn gradients_match_pytorch() {
        let (gemm, burn) = compare_with_pytorch();
        assert!(gemm < 1e-4 && burn < 1e-4, "gemm {gemm}, burn {burn}");
    }
}
