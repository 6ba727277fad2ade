//! Where the native commands (`segment`, `eval`, `train`) run the network: the
//! `--device` option.
//!
//! The GPU path is burn's wgpu backend (Vulkan, Metal or DX12), compiled in only with
//! the `gpu` cargo feature (`cargo build --release --features gpu`): it adds the whole
//! wgpu stack to the build, which the CPU path and the tests do not need.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::inference::Compute;
use crate::Result;

/// The device of a native command.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The CPU: burn's Flex backend, and for inference of same-padded networks
    /// unetseg's own gemm engine.
    #[default]
    Cpu,
    /// The best GPU wgpu finds (needs the `gpu` feature).
    Wgpu,
}

impl DeviceChoice {
    /// The burn device (without autodiff); fails for `wgpu` in a build without the
    /// `gpu` feature.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            DeviceChoice::Wgpu => wgpu_device(),
        }
    }

    /// Where that device computes.
    pub fn compute(self) -> Compute {
        match self {
            DeviceChoice::Cpu => Compute::Cpu,
            DeviceChoice::Wgpu => Compute::Gpu,
        }
    }
}

#[cfg(feature = "gpu")]
fn wgpu_device() -> Result<Device> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "gpu"))]
fn wgpu_device() -> Result<Device> {
    Err(crate::Error::invalid(
        "--device wgpu: this unetseg was built without GPU support; rebuild it with `cargo build --release --features gpu`",
    ))
}
