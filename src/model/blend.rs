//! Weighted averages of the weights of networks that share one architecture: the
//! running averages of training (`train --ema`, `train --swa-from`) and the
//! `unetseg blend` command ("model soup": one network, no extra inference cost).
//!
//! Averaging is only meaningful between networks of one training run (or runs
//! fine-tuned from one start): independently initialised networks order their
//! channels differently, and their average is no network at all.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

use super::UNet;
use crate::{Error, Result};

/// `sum_i ratio_i * net_i`, tensor by tensor (parameters and batch-norm running
/// statistics alike). The ratios are used as given (callers normalise them); the
/// networks must have identical configs.
pub fn blend(nets: &[(&UNet, f64)]) -> Result<UNet> {
    let ((first, first_ratio), rest) =
        nets.split_first().ok_or_else(|| Error::invalid("blending needs at least one network"))?;
    for (net, _) in rest {
        if net.config() != first.config() {
            return Err(Error::invalid(format!(
                "cannot blend networks of different architectures: {:?} and {:?}",
                first.config(),
                net.config()
            )));
        }
    }
    let others: Vec<(std::vec::IntoIter<Tensor<1>>, f64)> = rest
        .iter()
        .map(|(net, ratio)| {
            let mut collect = CollectFloats(Vec::new());
            net.visit(&mut collect);
            (collect.0.into_iter(), *ratio)
        })
        .collect();
    Ok((*first).clone().map(&mut WeightedSum { first_ratio: *first_ratio, others }))
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

/// Replaces each float tensor of the module it maps by its weighted sum with the
/// next tensor of every other network.
struct WeightedSum {
    first_ratio: f64,
    others: Vec<(std::vec::IntoIter<Tensor<1>>, f64)>,
}

impl ModuleMapper for WeightedSum {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // Same configs, so every network holds the same tensors in the same order.
        let others: Vec<(Tensor<1>, f64)> = self
            .others
            .iter_mut()
            .map(|(tensors, ratio)| (tensors.next().expect("blended networks have the same layout"), *ratio))
            .collect();
        let first_ratio = self.first_ratio;
        param.map(|value| {
            let dims = value.dims();
            others
                .into_iter()
                .fold(value.mul_scalar(first_ratio), |sum, (other, ratio)| sum + other.reshape(dims).mul_scalar(ratio))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UNetConfig;
    use burn::tensor::Device;

    fn out_weight(net: &UNet) -> Vec<f32> {
        net.conv_out.weight.val().into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    fn net(config: &UNetConfig) -> UNet {
        UNet::new(config, &Device::flex()).unwrap()
    }

    #[test]
    fn blend_is_the_weighted_sum_of_every_tensor() {
        let config = UNetConfig { batch_norm: true, ..UNetConfig::compact().with_base_channels(2) };
        let (a, b, c) = (net(&config), net(&config), net(&config));
        let mixed = blend(&[(&a, 0.5), (&b, 0.3), (&c, 0.2)]).unwrap();
        let (wa, wb, wc, got) = (out_weight(&a), out_weight(&b), out_weight(&c), out_weight(&mixed));
        for i in 0..got.len() {
            let want = 0.5 * wa[i] + 0.3 * wb[i] + 0.2 * wc[i];
            assert!((got[i] - want).abs() < 1e-6, "{} vs {want}", got[i]);
        }
        // Running statistics are blended too (all start at variance 1: still 1).
        let var = mixed.conv_down[0].conv.norm1.as_ref().unwrap().running_var.value();
        assert!((var.sub_scalar(1.0).abs().max().into_scalar::<f32>()) < 1e-6);
    }

    #[test]
    fn blend_refuses_different_architectures_and_nothing() {
        let small = net(&UNetConfig::compact().with_base_channels(2));
        let wider = net(&UNetConfig::compact().with_base_channels(4));
        let err = blend(&[(&small, 0.5), (&wider, 0.5)]).unwrap_err().to_string();
        assert!(err.contains("different architectures"), "{err}");
        assert!(blend(&[]).is_err());
    }
}
