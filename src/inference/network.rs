//! A loaded network on the engine that runs it where it runs: the one place that
//! chooses between unetseg's CPU engine and burn.

use super::{TileBatch, TilePredictor};
use crate::model::{CpuUNet, UNet, UNetConfig};
use crate::{Error, Result};

/// Where the network's device computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compute {
    /// The CPU (burn's Flex backend; natively multi-threaded, one thread in wasm).
    Cpu,
    /// A GPU through burn's wgpu backend (WebGPU in the browser).
    Gpu,
}

/// A network ready for tiled inference.
pub enum Network {
    /// unetseg's gemm engine ([`CpuUNet`]): same-padded networks on the CPU, about 3x
    /// faster than burn's Flex backend.
    Cpu(CpuUNet),
    /// burn's network on its own device: everything on a GPU, and valid-padded
    /// networks on the CPU.
    Burn(UNet),
}

impl Network {
    /// Prepares `model` (already on its device, which computes on `compute`): on the
    /// CPU, the gemm engine whenever it runs the architecture. Fails for networks that
    /// do not take one gray channel or do not give at least the classes membrane and
    /// cell, since every caller feeds a gray page and reads the cell probability.
    pub fn new(model: UNet, compute: Compute) -> Result<Self> {
        let config = model.config();
        if config.in_channels != 1 {
            return Err(Error::invalid(format!(
                "the network takes {} input channels; unetseg feeds it one gray channel",
                config.in_channels
            )));
        }
        super::check_classes(config)?;
        if compute == Compute::Cpu && CpuUNet::supports(config) {
            return Ok(Network::Cpu(CpuUNet::new(&model)?));
        }
        Ok(Network::Burn(model))
    }

    /// The network as a blocking tile predictor.
    pub fn predictor(&self) -> &dyn TilePredictor {
        match self {
            Network::Cpu(engine) => engine,
            Network::Burn(model) => model,
        }
    }
}

impl TilePredictor for Network {
    fn config(&self) -> &UNetConfig {
        self.predictor().config()
    }

    fn predict_tiles(&self, batch: TileBatch) -> Result<Vec<f32>> {
        self.predictor().predict_tiles(batch)
    }

    fn finish_image(&self) {
        self.predictor().finish_image()
    }
}
