//! The weights file: one safetensors file whose `__metadata__` carries the
//! architecture (`unetseg_config`, JSON of [`UNetConfig`]) and a format tag
//! (`format` = `unetseg-weights-1`), so loading never needs the architecture by hand.
//! Tensors are named by their burn paths (see [`super::unet`]) and stored in f32 or f16.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::{HalfPrecisionAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Tensor, TensorData};

use super::config::UNetConfig;
use super::unet::UNet;
use crate::{Error, Result};

/// Value of the `format` metadata key that marks a unetseg weights file.
pub const FORMAT: &str = "unetseg-weights-1";
/// Metadata key holding the JSON of the [`UNetConfig`].
pub const CONFIG_KEY: &str = "unetseg_config";
/// Largest safetensors header accepted (the real one is a few KB).
const MAX_HEADER_BYTES: u64 = 16 << 20;

/// Storage precision of the tensors in a weights file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit floats: exact.
    F32,
    /// 16-bit floats: half the size; loaded back as f32.
    F16,
}

/// Serialises `model` (config + tensors) into the bytes of a weights file.
pub fn to_bytes(model: &UNet, precision: Precision) -> Result<Vec<u8>> {
    let config_json = serde_json::to_string(model.config())
        .map_err(|e| Error::invalid(format!("cannot serialise the model config: {e}")))?;
    let mut store = SafetensorsStore::from_bytes(None).metadata("format", FORMAT).metadata(CONFIG_KEY, config_json);
    if precision == Precision::F16 {
        store = store.with_to_adapter(HalfPrecisionAdapter::new());
    }
    model.save_into(&mut store).map_err(|e| Error::invalid(format!("cannot serialise the model weights: {e}")))?;
    store.get_bytes().map_err(|e| Error::invalid(format!("cannot serialise the model weights: {e}")))
}

/// [`to_bytes`] for a model on any device, its tensors read back asynchronously (the
/// only way the browser's WebGPU allows): they are copied onto the Flex CPU device
/// first, then serialised there.
pub async fn to_bytes_async(model: &UNet, precision: Precision) -> Result<Vec<u8>> {
    let mut collect = CollectFloats(Vec::new());
    model.visit(&mut collect);
    let mut values = Vec::with_capacity(collect.0.len());
    for (tensor, shape) in collect.0 {
        let data = tensor
            .into_data_async()
            .await
            .map_err(|e| Error::invalid(format!("reading the weights back failed: {e:?}")))?;
        let floats = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| Error::invalid(format!("reading the weights back failed: {e:?}")))?;
        values.push(TensorData::new(floats, shape));
    }
    let mut fill = FillFloats { values: values.into_iter(), device: Device::flex() };
    to_bytes(&model.clone().map(&mut fill), precision)
}

/// Every float tensor of a module, in visiting order, flattened, with its shape.
struct CollectFloats(Vec<(Tensor<1>, Vec<usize>)>);

impl ModuleVisitor for CollectFloats {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        self.0.push((tensor.reshape([shape.iter().product::<usize>()]), shape));
    }
}

/// Replaces every float tensor of a module, in visiting order, by the next of
/// `values` on `device`.
struct FillFloats {
    values: std::vec::IntoIter<TensorData>,
    device: Device,
}

impl ModuleMapper for FillFloats {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let data = self.values.next().expect("the same module is visited, then mapped, in the same order");
        let device = self.device.clone();
        param.map(move |_| Tensor::from_data(data, &device))
    }
}

/// Reads the [`UNetConfig`] from the header of the weights file `bytes` (`name` is used in errors).
pub fn read_config(bytes: &[u8], name: &str) -> Result<UNetConfig> {
    read_header(bytes, name).map(|(config, _)| config)
}

/// The config and whether any tensor is stored in f16, from the header of a weights file.
fn read_header(bytes: &[u8], name: &str) -> Result<(UNetConfig, bool)> {
    let not_weights = |why: &str| Error::file(name, format!("not a unetseg weights file: {why}"));
    let header_len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        .ok_or_else(|| not_weights("shorter than a safetensors header"))?;
    if header_len > MAX_HEADER_BYTES || 8 + header_len > bytes.len() as u64 {
        return Err(not_weights("the safetensors header length is out of range (corrupt or truncated file)"));
    }
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len as usize])
        .map_err(|e| not_weights(&format!("the safetensors header is not valid JSON ({e})")))?;
    let metadata = header.get("__metadata__").ok_or_else(|| not_weights("the safetensors file has no metadata"))?;
    if metadata.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
        return Err(not_weights(&format!("the metadata has no format = \"{FORMAT}\"")));
    }
    let config_json = metadata
        .get(CONFIG_KEY)
        .and_then(|v| v.as_str())
        .ok_or_else(|| not_weights(&format!("the metadata has no {CONFIG_KEY}")))?;
    let config: UNetConfig = serde_json::from_str(config_json)
        .map_err(|e| Error::file(name, format!("invalid {CONFIG_KEY} in the metadata: {e}")))?;
    config.validate().map_err(|e| Error::file(name, e))?;
    let half = header
        .as_object()
        .is_some_and(|tensors| tensors.values().any(|t| t.get("dtype").and_then(|d| d.as_str()) == Some("F16")));
    Ok((config, half))
}

/// Builds the network described by the weights file `bytes` on `device` and loads its
/// tensors (f16 files are widened to f32). `name` (a path or URL) is used in errors.
pub fn load_from_bytes(bytes: &[u8], name: &str, device: &Device) -> Result<UNet> {
    let (config, half) = read_header(bytes, name)?;
    // A header may describe a network far larger than the file (or the memory at
    // hand): refuse it before allocating anything (each parameter takes 2 or 4 bytes).
    let claimed = config.parameter_count();
    if claimed.saturating_mul(2) > bytes.len() {
        return Err(Error::file(
            name,
            format!(
                "its header describes a network of {claimed} parameters, but the file holds only {} bytes",
                bytes.len()
            ),
        ));
    }
    let mut model = UNet::new(&config, device).map_err(|e| Error::file(name, e))?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec())).validate(true).allow_partial(false);
    if half {
        // Widens the f16 tensors to f32 (the adapter converts in whichever direction the source is not).
        store = store.with_from_adapter(HalfPrecisionAdapter::new());
    }
    let result = model.load_from(&mut store).map_err(|e| Error::file(name, format!("cannot load the weights: {e}")))?;
    if !result.unused.is_empty() {
        return Err(Error::file(
            name,
            format!("the file holds tensors the model does not have: {}", result.unused.join(", ")),
        ));
    }
    Ok(model)
}

/// Writes `model` as a weights file at `path`.
#[cfg(not(target_family = "wasm"))]
pub fn save(model: &UNet, path: impl AsRef<std::path::Path>, precision: Precision) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_bytes(model, precision)?;
    std::fs::write(path, bytes).map_err(|e| Error::file(path, format!("cannot write: {e}")))
}

/// Reads the weights file at `path` and builds its network on `device`.
#[cfg(not(target_family = "wasm"))]
pub fn load(path: impl AsRef<std::path::Path>, device: &Device) -> Result<UNet> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    load_from_bytes(&bytes, &path.display().to_string(), device)
}

/// The shipped default weights (`weights/default.safetensors`, the `compact` preset
/// trained on ISBI 2012; see `weights/README.md`), embedded in the native binary.
#[cfg(not(target_family = "wasm"))]
pub fn default_weights_bytes() -> &'static [u8] {
    include_bytes!("../../weights/default.safetensors")
}
