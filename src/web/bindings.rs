//! The wasm-bindgen entry points the page's Web Worker calls: a thin shell over the
//! library. Errors flow out with `?` as JS `Error`s carrying the crate's message;
//! results leave as one serde struct each ([`super::views`]).

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::device::Backend;
use super::input::{check_segmentable, decode_annotation, decode_upload};
use super::views::{AnalysisView, ModelView, ProbabilityView};
use crate::imageio::{encode_png_u8, GrayImage, Page, PixelSize};
use crate::inference::{predict_probability_until, Network, TileOptions, TilePredictor};
use crate::model::load_from_bytes;
use crate::pipeline::{analyse, CellThreshold, PipelineOptions};
use crate::train::data::Slice;
use crate::train::{FineTuneOptions, FineTuner};
use crate::GrayF32;

/// Runs when the module is instantiated: routes Rust panics to the console,
/// where they explain the `RuntimeError` the worker then reports.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A value as the plain JS object of its serde form.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    serde_wasm_bindgen::to_value(value).map_err(|e| JsError::new(&e.to_string()))
}

/// One decoded page (a PNG or JPEG has one, a TIFF one per page).
#[wasm_bindgen]
pub struct InputImage {
    page: GrayImage,
    /// The physical size of its pixels, when the file gives it (an OME-TIFF's).
    pixel_size: Option<PixelSize>,
    /// The file's name, with the page number when the file has several: for messages.
    name: String,
}

#[wasm_bindgen]
impl InputImage {
    /// Width in pixels.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> usize {
        self.page.width()
    }

    /// Height in pixels.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> usize {
        self.page.height()
    }

    /// Bits per sample as stored in the file: 8, 16 or 32 (float).
    #[wasm_bindgen(getter, js_name = bitDepth)]
    pub fn bit_depth(&self) -> u8 {
        self.page.bit_depth()
    }

    /// The physical size of one pixel as the file gives it (`4 x 4 nm`; an OME-TIFF's
    /// PhysicalSizeX/Y), if it does.
    #[wasm_bindgen(getter, js_name = pixelSize)]
    pub fn pixel_size(&self) -> Option<String> {
        self.pixel_size.map(|size| size.to_string())
    }

    /// The page as an 8-bit gray PNG for display (16-bit and float pages stretched
    /// over their own range).
    #[wasm_bindgen(js_name = previewPng)]
    pub fn preview_png(&self) -> Result<Vec<u8>, JsError> {
        Ok(encode_png_u8(&self.page.to_u8())?)
    }
}

/// Decodes every page of a dropped file (see [`decode_upload`]).
#[wasm_bindgen(js_name = decodeImage)]
pub fn decode_image(bytes: &[u8], name: &str) -> Result<Vec<InputImage>, JsError> {
    let pages = decode_upload(bytes, name)?;
    let count = pages.len();
    let page_name = |i: usize| if count > 1 { format!("{name} (page {} of {count})", i + 1) } else { name.to_string() };
    let image =
        |(i, page): (usize, Page)| InputImage { page: page.image, pixel_size: page.pixel_size, name: page_name(i) };
    Ok(pages.into_iter().enumerate().map(image).collect())
}

/// The network's output for one page, kept in the worker so that moving a slider
/// re-runs only [`analyse`].
#[wasm_bindgen]
pub struct PageResult {
    probability: GrayF32,
    /// The page's pixel size, for the physical areas of `cells.csv`.
    pixel_size: Option<PixelSize>,
}

/// The slider values and the page's pixel size as pipeline options (`threshold`
/// absent: automatic).
fn pipeline_options(threshold: Option<f32>, fg_fraction: f32, pixel_size: Option<PixelSize>) -> PipelineOptions {
    let threshold = threshold.map_or(CellThreshold::Otsu, CellThreshold::Probability);
    PipelineOptions { threshold, fg_fraction, pixel_size }
}

#[wasm_bindgen]
impl PageResult {
    /// The probability for display and download ([`ProbabilityView`]).
    pub fn probability(&self) -> Result<JsValue, JsError> {
        to_js(&ProbabilityView::new(&self.probability)?)
    }

    /// Everything shown for the slider values (`threshold` absent: automatic, as the
    /// CLI): an [`AnalysisView`].
    pub fn analyse(&self, threshold: Option<f32>, fg_fraction: f32) -> Result<JsValue, JsError> {
        let analysis = analyse(&self.probability, &pipeline_options(threshold, fg_fraction, self.pixel_size))?;
        to_js(&AnalysisView::new(&analysis)?)
    }
}

/// Mean time in milliseconds of the pipeline alone (cut, nine steps and cells, no
/// PNG encoding) of `result`, over `runs` runs.
#[wasm_bindgen(js_name = benchPostprocess)]
pub fn bench_postprocess(
    result: &PageResult,
    threshold: Option<f32>,
    fg_fraction: f32,
    runs: u32,
) -> Result<f64, JsError> {
    let runs = runs.max(1);
    let options = pipeline_options(threshold, fg_fraction, result.pixel_size);
    let started = js_sys::Date::now();
    for _ in 0..runs {
        analyse(&result.probability, &options)?;
    }
    Ok((js_sys::Date::now() - started) / f64::from(runs))
}

/// What the page says about the backend.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BackendView<'a> {
    /// `"webgpu"` or `"cpu"`.
    kind: &'a str,
    /// The adapter's description (often empty: browsers hide it).
    adapter: &'a str,
    /// Whether the WebGPU adapter is a software one.
    fallback_adapter: bool,
    /// The wasm build's SIMD: `"relaxed"` (fused multiply-add) or `"simd128"`.
    simd: &'static str,
}

/// The backend, and the network once weights are loaded.
#[wasm_bindgen]
pub struct Segmenter {
    backend: Backend,
    network: RefCell<Option<Rc<Network>>>,
}

#[wasm_bindgen]
impl Segmenter {
    /// Creates a segmenter on WebGPU when `prefer_gpu` is set (failing when
    /// WebGPU cannot be used: the caller then asks for the CPU), else on the CPU.
    pub async fn create(prefer_gpu: bool) -> Result<Segmenter, JsError> {
        let backend = if prefer_gpu { Backend::webgpu().await? } else { Backend::cpu() };
        Ok(Segmenter { backend, network: RefCell::new(None) })
    }

    /// `{ kind: "webgpu" | "cpu", adapter, fallbackAdapter, simd: "relaxed" | "simd128" }`.
    pub fn backend(&self) -> Result<JsValue, JsError> {
        to_js(&BackendView {
            kind: self.backend.kind.name(),
            adapter: &self.backend.adapter,
            fallback_adapter: self.backend.fallback_adapter,
            simd: if cfg!(target_feature = "relaxed-simd") { "relaxed" } else { "simd128" },
        })
    }

    /// Loads a unetseg weights file (`name` is used in messages) and returns a
    /// [`ModelView`]. A corrupt or incompatible file fails with a message, and the
    /// previously loaded network stays in use.
    #[wasm_bindgen(js_name = loadWeights)]
    pub async fn load_weights(&self, bytes: Vec<u8>, name: String) -> Result<JsValue, JsError> {
        let model = load_from_bytes(&bytes, &name, &self.backend.device)?;
        let view = ModelView::new(model.config());
        let network = Network::new(model, self.backend.kind.compute()).map_err(|e| crate::Error::file(&name, e))?;
        self.network.replace(Some(Rc::new(network)));
        to_js(&view)
    }

    /// Predicts the cell probability of `image` tile by tile and keeps it for
    /// [`PageResult::analyse`]. After each tile it calls `progress(done, total)` and,
    /// when that returns a promise, awaits it (so the worker's event loop runs between
    /// tiles). The callback decides whether the network goes on: `false` (or a
    /// promise of `false`) stops it before the next tile and the call resolves to
    /// `undefined`, the "cancelled" outcome; an exception thrown by the callback (or
    /// a rejected promise) stops it too and is the call's rejection. Anything else
    /// goes on. A page smaller than the network's minimum ([`super::input::min_side`])
    /// is refused with a message naming the file.
    pub async fn segment(&self, image: &InputImage, progress: js_sys::Function) -> Result<Option<PageResult>, JsValue> {
        let network = self.network.borrow().clone().ok_or_else(|| JsError::new("no weights are loaded yet"))?;
        check_segmentable(image.page.width(), image.page.height(), network.config(), &image.name)
            .map_err(JsError::from)?;
        let report = |done: usize, total: usize| {
            let returned = progress.call2(&JsValue::NULL, &(done as f64).into(), &(total as f64).into());
            async move {
                let value = match returned {
                    Ok(value) if value.is_instance_of::<js_sys::Promise>() => {
                        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(value)).await
                    }
                    other => other,
                };
                match value {
                    Ok(value) if value == JsValue::FALSE => ControlFlow::Break(None),
                    Ok(_) => ControlFlow::Continue(()),
                    Err(thrown) => ControlFlow::Break(Some(thrown)),
                }
            }
        };
        let outcome = predict_probability_until(&network, image.page.samples(), &tile_options(), report)
            .await
            .map_err(JsError::from)?;
        match outcome {
            ControlFlow::Continue(probability) => Ok(Some(PageResult { probability, pixel_size: image.pixel_size })),
            ControlFlow::Break(None) => Ok(None),
            ControlFlow::Break(Some(thrown)) => Err(thrown),
        }
    }
}

/// Tiles of the CLI's size, one per forward pass: on a GPU this keeps every buffer
/// under WebGPU's default 128 MiB binding limit; on the CPU batching gains nothing
/// (the engine runs tile after tile anyway). Tiling results do not depend on the
/// batch size.
fn tile_options() -> TileOptions {
    TileOptions { batch: 1, ..TileOptions::default() }
}

/// Pages with their annotations, the data of a fine-tuning run.
#[wasm_bindgen]
#[derive(Default)]
pub struct Annotations {
    slices: Vec<Slice>,
}

#[wasm_bindgen]
impl Annotations {
    /// No annotated page yet.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Annotations {
        Annotations::default()
    }

    /// Adds `image` annotated by the image file `annotation` (named `name` in
    /// messages; see [`decode_annotation`]: its size, 0 / 128 / 255).
    pub fn add(&mut self, image: &InputImage, annotation: &[u8], name: &str) -> Result<(), JsError> {
        let mask = decode_annotation(annotation, name, image.page.width(), image.page.height())?;
        self.slices.push(Slice { name: name.to_string(), image: image.page.to_u8(), mask });
        Ok(())
    }

    /// How many pages were added.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.slices.len()
    }
}

/// A fine-tuning run on the segmenter's backend ([`FineTuner`]).
#[wasm_bindgen]
pub struct FineTuning {
    tuner: FineTuner,
}

#[wasm_bindgen]
impl FineTuning {
    /// One step, its loss read back asynchronously: a [`crate::train::FineTuneStep`]
    /// (`{ step, loss, labelled }`).
    pub async fn step(&mut self) -> Result<JsValue, JsError> {
        let step = self.tuner.step_async().await?;
        to_js(&step)
    }

    /// The loss on the batch drawn when the run started (the same crops every
    /// time): [`FineTuner::probe_loss`].
    #[wasm_bindgen(js_name = probeLoss)]
    pub async fn probe_loss(&self) -> Result<f32, JsError> {
        Ok(self.tuner.probe_loss_async().await?)
    }

    /// The fine-tuned network as a weights file, which the page and `unetseg segment
    /// --weights` load.
    pub async fn weights(&self) -> Result<Vec<u8>, JsError> {
        Ok(self.tuner.weights_async().await?)
    }
}

#[wasm_bindgen]
impl Segmenter {
    /// Starts fine-tuning the weights file `weights` (`name` in messages) on
    /// `annotations` on this segmenter's backend; `options` is a
    /// [`FineTuneOptions`] object (fields left out take their defaults), or undefined.
    #[wasm_bindgen(js_name = fineTuning)]
    pub fn fine_tuning(
        &self,
        weights: &[u8],
        name: &str,
        annotations: &Annotations,
        options: JsValue,
    ) -> Result<FineTuning, JsError> {
        let options: FineTuneOptions = if options.is_undefined() || options.is_null() {
            FineTuneOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("fine-tuning options: {e}")))?
        };
        let tuner = FineTuner::new(weights, name, annotations.slices.clone(), options, &self.backend.device)?;
        Ok(FineTuning { tuner })
    }
}
