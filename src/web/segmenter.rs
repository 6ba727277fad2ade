//! The network with its weights on one backend, and the overlap-tile
//! segmentation of one page.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::analysis::Segmentation;
use super::device::{Backend, BackendKind};
use super::input::InputImage;
use super::js;
use crate::imageio::GrayImage;
use crate::inference::{predict_probability, predict_probability_async, TileOptions};
use crate::model::{load_from_bytes, read_config, CpuUNet, Padding, UNet, UNetConfig};

/// A loaded network, ready to run where the backend computes.
#[derive(Clone)]
enum Network {
    /// burn's network on the backend's device (WebGPU, or Flex for valid padding).
    Burn(UNet),
    /// The gemm engine, for same-padded networks on the CPU.
    Cpu(Rc<CpuUNet>),
}

/// The backend, and the network once weights are loaded.
#[wasm_bindgen]
pub struct Segmenter {
    backend: Backend,
    network: RefCell<Option<Network>>,
}

#[wasm_bindgen]
impl Segmenter {
    /// Creates a segmenter on WebGPU when `prefer_gpu` is set (failing when
    /// WebGPU cannot be used: the caller then asks for the CPU), else on the CPU.
    pub async fn create(prefer_gpu: bool) -> Result<Segmenter, JsError> {
        let backend = if prefer_gpu { Backend::webgpu().await.map_err(js::error)? } else { Backend::cpu() };
        Ok(Segmenter { backend, network: RefCell::new(None) })
    }

    /// `{ kind: "webgpu" | "cpu", adapter, fallbackAdapter }`.
    pub fn backend(&self) -> JsValue {
        js::object(&[
            ("kind", self.backend.kind.name().into()),
            ("adapter", self.backend.adapter.as_str().into()),
            ("fallbackAdapter", self.backend.fallback_adapter.into()),
        ])
    }

    /// Loads a unetseg weights file (`name` is used in messages) and returns
    /// `{ summary, parameters }`. A corrupt or incompatible file fails with a
    /// message, and the previously loaded network stays in use.
    #[wasm_bindgen(js_name = loadWeights)]
    pub async fn load_weights(&self, bytes: Vec<u8>, name: String) -> Result<JsValue, JsError> {
        // A header may describe a network far larger than the file (or the
        // browser's memory); refuse it before allocating anything.
        let claimed = read_config(&bytes, &name).map_err(js::error)?.parameter_count();
        if claimed.saturating_mul(2) > bytes.len() {
            return Err(JsError::new(&format!(
                "{name}: its header describes a network of {claimed} parameters, but the file holds only {} bytes",
                bytes.len()
            )));
        }
        let model = load_from_bytes(&bytes, &name, &self.backend.device).map_err(js::error)?;
        let config = model.config().clone();
        if config.in_channels != 1 {
            return Err(JsError::new(&format!(
                "{name}: the network takes {} input channels; this page feeds it one gray channel",
                config.in_channels
            )));
        }
        let network = if self.backend.kind == BackendKind::Cpu && CpuUNet::supports(&config) {
            Network::Cpu(Rc::new(CpuUNet::new(&model).map_err(js::error)?))
        } else {
            Network::Burn(model)
        };
        self.network.replace(Some(network));
        Ok(js::object(&[
            ("summary", describe(&config).into()),
            ("parameters", (config.parameter_count() as f64).into()),
        ]))
    }

    /// Predicts the foreground probability of `image` tile by tile, calling
    /// `progress(done, total)` after each tile, and returns the result ready
    /// for [`Segmentation::analyse`].
    pub async fn segment(&self, image: &InputImage, progress: js_sys::Function) -> Result<Segmentation, JsError> {
        let network = self.network.borrow().clone().ok_or_else(|| JsError::new("no weights are loaded yet"))?;
        let options = tile_options();
        let report = |done: usize, total: usize| {
            // A failing progress callback must not stop the segmentation.
            let _ = progress.call2(&JsValue::NULL, &(done as f64).into(), &(total as f64).into());
        };
        let page = image.page();
        let probability = match (&network, page) {
            (Network::Cpu(engine), GrayImage::U8(raster)) => {
                predict_probability(engine.as_ref(), raster, &options, report)
            }
            (Network::Cpu(engine), GrayImage::U16(raster)) => {
                predict_probability(engine.as_ref(), raster, &options, report)
            }
            (Network::Burn(model), GrayImage::U8(raster)) => {
                predict_probability_async(model, raster, &options, report).await
            }
            (Network::Burn(model), GrayImage::U16(raster)) => {
                predict_probability_async(model, raster, &options, report).await
            }
        }
        .map_err(js::error)?;
        Ok(Segmentation::new(probability))
    }
}

/// Tiles of the CLI's size, one per forward pass: on a GPU this keeps every
/// buffer under WebGPU's default 128 MiB binding limit; on the CPU batching
/// gains nothing (the engine runs tile after tile anyway). Tiling results do not
/// depend on the batch size.
fn tile_options() -> TileOptions {
    TileOptions { batch: 1, ..TileOptions::default() }
}

/// One line about the network, e.g. "U-Net, 5 levels, 16-256 channels, same padding".
fn describe(config: &UNetConfig) -> String {
    let padding = match config.padding {
        Padding::Same => "same",
        Padding::Valid => "valid",
    };
    let norm = if config.batch_norm { ", batch norm" } else { "" };
    format!(
        "U-Net, {} levels, {}-{} channels, {padding} padding{norm}",
        config.depth,
        config.channels_at(0),
        config.channels_at(config.depth - 1)
    )
}
