//! Which backend runs the network in the browser: burn's wgpu runtime on the
//! browser's WebGPU, or the CPU (single-threaded wasm) when WebGPU is missing or
//! fails. On the CPU, same-padded networks run on the engine of
//! `model::cpu_unet`, others on burn's Flex backend (see [`crate::inference::Network`]).

use burn::tensor::wgpu::{wgpu::DeviceType, WgpuBackend};
use burn::tensor::{Device, Tensor};

use crate::inference::Compute;
use crate::{Error, Result};

/// The kind of backend a [`Backend`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// burn's wgpu runtime on the browser's WebGPU.
    WebGpu,
    /// The CPU, in wasm: the CPU engine, or burn's Flex backend.
    Cpu,
}

impl BackendKind {
    /// Short name handed to the page: `"webgpu"` or `"cpu"`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::WebGpu => "webgpu",
            BackendKind::Cpu => "cpu",
        }
    }

    /// Where it computes.
    pub fn compute(self) -> Compute {
        match self {
            BackendKind::WebGpu => Compute::Gpu,
            BackendKind::Cpu => Compute::Cpu,
        }
    }
}

/// A device to run the network on, and what it is.
#[derive(Clone, Debug)]
pub struct Backend {
    /// The burn device.
    pub device: Device,
    /// WebGPU or CPU.
    pub kind: BackendKind,
    /// The adapter's description as WebGPU reports it (often empty: browsers
    /// hide it for privacy); empty on the CPU.
    pub adapter: String,
    /// Whether the WebGPU adapter is a fallback (software) adapter such as
    /// SwiftShader: correct, but no faster than the CPU.
    pub fallback_adapter: bool,
}

impl Backend {
    /// Creates the WebGPU device asynchronously (the only way in a browser) and
    /// checks it with a tiny computation read back asynchronously. Fails when
    /// the browser offers no adapter or device, or the check fails.
    pub async fn webgpu() -> Result<Backend> {
        let (device, setup) = Device::wgpu_options()
            .graphics_api(WgpuBackend::WebGpu)
            .init_with_setup_async()
            .await
            .map_err(|e| Error::invalid(format!("WebGPU is unavailable: {e}")))?;
        let info = setup.adapter.get_info();
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let check = (x.clone() * x)
            .sum()
            .into_data_async()
            .await
            .map_err(|e| Error::invalid(format!("WebGPU failed a test computation: {e:?}")))?;
        let value = check.as_slice::<f32>().ok().and_then(|v| v.first().copied());
        if value != Some(14.0) {
            return Err(Error::invalid(format!("WebGPU computed 1+4+9 = {value:?} in a test, not 14")));
        }
        Ok(Backend {
            device,
            kind: BackendKind::WebGpu,
            adapter: info.name,
            fallback_adapter: info.device_type == DeviceType::Cpu,
        })
    }

    /// burn's Flex backend: always available.
    pub fn cpu() -> Backend {
        Backend { device: Device::flex(), kind: BackendKind::Cpu, adapter: String::new(), fallback_adapter: false }
    }
}
