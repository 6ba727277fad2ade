//! The U-Net model, its configuration and its weights file.
//!
//! - [`blend`]: weighted averages of networks of one architecture;
//! - [`config`]: [`UNetConfig`] with the `seed` (original CleanU_Net) and `compact` presets
//!   and the input/output size arithmetic;
//! - [`cpu_unet`]: [`CpuUNet`], a fast CPU inference engine for same-padded networks;
//! - [`gemm_kernels`]: the layers' forward and backward passes on zero-bordered NHWC
//!   batches as `gemm` products, for training on the CPU;
//! - [`gemm_ops`]: those kernels as burn operations on the Flex backend, their backward
//!   passes registered with burn's autodiff;
//! - [`gemm_forward`]: [`UNet::forward_gemm`], the network's forward through them;
//! - `matmul`: the one shape of matrix product that both engines make (`gemm` natively,
//!   `packed_matmul` in wasm: 4-lane SIMD, fused multiply-add where relaxed SIMD is on);
//! - [`unet`]: the burn network [`UNet`] (runs on any burn device: Flex CPU, wgpu, WebGPU);
//! - [`weights`]: one safetensors file holding the config and the tensors, and the
//!   shipped default weights.

pub mod blend;
pub mod config;
pub mod cpu_unet;
pub mod gemm_forward;
pub mod gemm_kernels;
pub mod gemm_ops;
mod matmul;
// The wasm build's matrix product (natively only its tests run).
#[cfg(any(target_family = "wasm", test))]
mod packed_matmul;
pub mod unet;
pub mod weights;

pub use blend::blend;
pub use config::{Padding, UNetConfig};
pub use cpu_unet::CpuUNet;
pub use unet::{DoubleConv, DownBlock, UNet, UpBlock};
#[cfg(not(target_family = "wasm"))]
pub use weights::{default_weights_bytes, load, save};
pub use weights::{load_from_bytes, read_config, to_bytes, to_bytes_async, Precision};
