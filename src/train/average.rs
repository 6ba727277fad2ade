//! Running averages of a network's weights (batch-norm running statistics included),
//! validated and exported beside or in place of the latest weights:
//!
//! - exponential, after every step (`train --ema DECAY`), validated and exported
//!   instead of the latest weights;
//! - equal-weight over the end-of-epoch weights from a given epoch on: stochastic
//!   weight averaging (Izmailov et al. 2018, `train --swa-from EPOCH`), kept beside
//!   the run and validated after its last epoch.
//!
//! Averaging the weights of a noisy optimisation trajectory gives a network near
//! its centre, which usually scores better and more steadily than any single step.

use burn::module::Module;

use crate::model::{blend, UNet};

/// A running average of networks, kept without autodiff on the training device's
/// inner backend.
pub struct WeightAverage {
    average: UNet,
}

impl WeightAverage {
    /// Starts the average at `average` (e.g. the current network's weights, or an
    /// average saved by an earlier session).
    pub fn new(average: UNet) -> Self {
        Self { average }
    }

    /// `average <- keep * average + (1 - keep) * net`, for a training network with or
    /// without autodiff (an exponential average's `keep` is its decay).
    pub fn blend_in(&mut self, net: &UNet, keep: f64) {
        let net = net.valid();
        self.average = blend(&[(&self.average, keep), (&net, 1.0 - keep)])
            .expect("a run averages networks of its own architecture");
    }

    /// Adds `net` to a plain mean that so far stands for `count` networks.
    pub fn add_to_mean(&mut self, net: &UNet, count: usize) {
        self.blend_in(net, count as f64 / (count + 1) as f64);
    }

    /// The averaged network.
    pub fn model(&self) -> &UNet {
        &self.average
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
    fn blending_in_moves_the_average_by_one_minus_keep_towards_the_network() {
        let device = Device::flex();
        let config = UNetConfig { batch_norm: true, ..UNetConfig::compact().with_base_channels(2) };
        let start = UNet::new(&config, &device).unwrap();
        let target = UNet::new(&config, &device).unwrap();
        let mut average = WeightAverage::new(start.clone());
        average.blend_in(&target, 0.75);
        let (a, b, got) = (first_weight(&start), first_weight(&target), first_weight(average.model()));
        for ((a, b), got) in a.iter().zip(&b).zip(&got) {
            assert!((got - (0.75 * a + 0.25 * b)).abs() < 1e-6, "{got} vs {a}, {b}");
        }
        // Running statistics are averaged too (both start at mean 0: still 0).
        let mean = average.model().conv_down[0].conv.norm1.as_ref().unwrap().running_mean.value();
        assert_eq!(mean.abs().max().into_scalar::<f32>(), 0.0);
    }

    #[test]
    fn adding_to_the_mean_keeps_the_plain_mean() {
        let device = Device::flex();
        let config = UNetConfig::compact().with_base_channels(2);
        let nets: Vec<UNet> = (0..3).map(|_| UNet::new(&config, &device).unwrap()).collect();
        let mut average = WeightAverage::new(nets[0].clone());
        average.add_to_mean(&nets[1], 1);
        average.add_to_mean(&nets[2], 2);
        let weights: Vec<Vec<f32>> = nets.iter().map(first_weight).collect();
        for (i, got) in first_weight(average.model()).iter().enumerate() {
            let want = (weights[0][i] + weights[1][i] + weights[2][i]) / 3.0;
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
}
