//! An exponential moving average of a network's weights over the training steps
//! (batch-norm running statistics included), validated and exported in place of
//! the latest weights when a run asks for it (`train --ema DECAY`).
//!
//! Averaging the weights of a noisy optimisation trajectory gives a network near
//! its centre, which usually scores better and more steadily than any single step.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::model::UNet;

/// `average <- decay * average + (1 - decay) * net` after every step, kept without
/// autodiff on the training device's inner backend.
pub struct WeightAverage {
    decay: f64,
    average: UNet,
}

impl WeightAverage {
    /// Starts the average at `average` (e.g. the current network's weights, or an
    /// average saved by an earlier session).
    pub fn new(decay: f64, average: UNet) -> Self {
        Self { decay, average }
    }

    /// Moves the average towards `net` (a training network, with or without autodiff).
    pub fn update(&mut self, net: &UNet) {
        let mut collect = CollectFloats(Vec::new());
        net.valid().visit(&mut collect);
        let mut blend = Blend { decay: self.decay, latest: collect.0.into_iter() };
        self.average = self.average.clone().map(&mut blend);
    }

    /// The averaged network.
    pub fn model(&self) -> &UNet {
        &self.average
    }
}

/// Every float tensor of a module (parameters and running statistics), flattened,
/// in visiting order.
struct CollectFloats(Vec<Tensor<1>>);

impl ModuleVisitor for CollectFloats {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let len = value.shape().num_elements();
        self.0.push(value.reshape([len]));
    }
}

/// Blends each float tensor of the module it maps with the next collected one.
struct Blend {
    decay: f64,
    latest: std::vec::IntoIter<Tensor<1>>,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // Both modules are the same architecture, so they hold the same tensors in the same order.
        let latest = self.latest.next().expect("the averaged and the trained network have the same layout");
        let decay = self.decay;
        param.map(|average| {
            let dims = average.dims();
            average.mul_scalar(decay) + latest.reshape(dims).mul_scalar(1.0 - decay)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UNetConfig;
    use burn::tensor::Device;

    fn first_weight(net: &UNet) -> Vec<f32> {
        net.conv_out.weight.val().into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn the_average_moves_by_one_minus_decay_towards_the_network() {
        let device = Device::flex();
        let config = UNetConfig { batch_norm: true, ..UNetConfig::compact().with_base_channels(2) };
        let start = UNet::new(&config, &device).unwrap();
        let target = UNet::new(&config, &device).unwrap();
        let mut average = WeightAverage::new(0.75, start.clone());
        average.update(&target);
        let (a, b, got) = (first_weight(&start), first_weight(&target), first_weight(average.model()));
        for ((a, b), got) in a.iter().zip(&b).zip(&got) {
            assert!((got - (0.75 * a + 0.25 * b)).abs() < 1e-6, "{got} vs {a}, {b}");
        }
        // Running statistics are averaged too (both start at mean 0: still 0).
        let mean = average.model().conv_down[0].conv.norm1.as_ref().unwrap().running_mean.value();
        assert_eq!(mean.abs().max().into_scalar::<f32>(), 0.0);
    }
}
