//! One segmented page: its probability map, and everything the page shows
//! for given slider values (mask, the nine post-processing steps, cells),
//! recomputed without the network when a slider moves.

use wasm_bindgen::prelude::*;

use super::js;
use crate::cells::Cells;
use crate::imageio::{encode_png_rgb, encode_png_u16, encode_png_u8};
use crate::postprocess::render::{rgb_bytes, Step, StepImage};
use crate::postprocess::{self, PostprocessParams, PostprocessSteps, Threshold};
use crate::{Error, GrayF32, GrayU8, Raster};

/// The network's output for one page, kept for re-analysis.
#[wasm_bindgen]
pub struct Segmentation {
    probability: GrayF32,
}

/// What one analysis computes.
struct Analysis {
    mask: GrayU8,
    steps: PostprocessSteps,
    cells: Cells,
}

impl Segmentation {
    /// Wraps the foreground probability of a page.
    pub fn new(probability: GrayF32) -> Self {
        Self { probability }
    }

    /// Mask, post-processing and cells, as `unetseg segment` computes them:
    /// the mask is `p > 0.5` and the post-processing runs on the probability as
    /// 8-bit gray (`round(255 p)`) with Otsu's level. A `threshold` in `(0, 1)`
    /// replaces both cuts: the mask becomes `p > threshold` and the
    /// post-processing's level `floor(255 threshold)`, the same cut on the gray.
    fn compute(&self, threshold: Option<f32>, fg_fraction: f32) -> crate::Result<Analysis> {
        let (cut, level) = match threshold {
            None => (0.5, Threshold::Otsu),
            Some(t) if t > 0.0 && t < 1.0 => (t, Threshold::Fixed((255.0 * t).floor() as u8)),
            Some(t) => return Err(Error::invalid(format!("the threshold must lie strictly between 0 and 1, got {t}"))),
        };
        let mask = self.probability.map(|p| if p > cut { 255 } else { 0 });
        let gray = self.probability.map(|p| (p * 255.0).round().clamp(0.0, 255.0) as u8);
        let params = PostprocessParams { threshold: level, fg_fraction, ..PostprocessParams::default() };
        let steps = postprocess::run(&gray, &params)?;
        let cells = Cells::from_segmentation(&steps.final_mask);
        Ok(Analysis { mask, steps, cells })
    }
}

#[wasm_bindgen]
impl Segmentation {
    /// The probability as an 8-bit PNG for display (white = cell interior).
    #[wasm_bindgen(js_name = probabilityPng)]
    pub fn probability_png(&self) -> Result<Vec<u8>, JsError> {
        let gray = self.probability.map(|p| (p.clamp(0.0, 1.0) * 255.0).round() as u8);
        encode_png_u8(&gray).map_err(js::error)
    }

    /// The probability as a 16-bit PNG (`round(p * 65535)`), like `unetseg segment`'s `.prob.png`.
    #[wasm_bindgen(js_name = probability16Png)]
    pub fn probability16_png(&self) -> Result<Vec<u8>, JsError> {
        let levels: Raster<u16> = self.probability.map(|p| (p.clamp(0.0, 1.0) * 65535.0).round() as u16);
        encode_png_u16(&levels).map_err(js::error)
    }

    /// Everything shown for the slider values (`threshold` absent: Otsu's, as
    /// the CLI): `{ mask, final, labels, labels16, csv, cells, level, steps:
    /// [{ stem, title, png }] }`, where `mask`, `final`, `labels` (coloured
    /// cells) and `labels16` (cell numbers) are PNG bytes, `csv` the per-cell
    /// table, `cells` the cell count and `level` the post-processing's
    /// threshold on the 8-bit probability.
    pub fn analyse(&self, threshold: Option<f32>, fg_fraction: f32) -> Result<JsValue, JsError> {
        let Analysis { mask, steps, cells } = self.compute(threshold, fg_fraction).map_err(js::error)?;
        let (width, height) = mask.dims();
        let png = |image: &GrayU8| encode_png_u8(image).map(|b| js::bytes(&b));
        let rendered = js_sys::Array::new();
        for step in Step::ALL {
            let bytes = match steps.render(step) {
                StepImage::Gray(gray) => encode_png_u8(&gray),
                StepImage::Rgb(rgb) => encode_png_rgb(width, height, &rgb_bytes(&rgb)),
            }
            .map_err(js::error)?;
            rendered.push(&js::object(&[
                ("stem", step.file_stem().into()),
                ("title", step.title().into()),
                ("png", js::bytes(&bytes)),
            ]));
        }
        let labels16 = encode_png_u16(&cells.labels_u16().map_err(js::error)?).map_err(js::error)?;
        let coloured = encode_png_rgb(width, height, &rgb_bytes(&cells.render())).map_err(js::error)?;
        Ok(js::object(&[
            ("mask", png(&mask).map_err(js::error)?),
            ("final", png(&steps.final_mask).map_err(js::error)?),
            ("labels", js::bytes(&coloured)),
            ("labels16", js::bytes(&labels16)),
            ("csv", cells.to_csv().into()),
            ("cells", (cells.count() as f64).into()),
            ("level", steps.threshold_level.into()),
            ("steps", rendered.into()),
        ]))
    }
}

/// Mean time in milliseconds of the post-processing alone (mask, nine steps
/// and cells, no PNG encoding) of `result`, over `runs` runs.
#[wasm_bindgen(js_name = benchPostprocess)]
pub fn bench_postprocess(
    result: &Segmentation,
    threshold: Option<f32>,
    fg_fraction: f32,
    runs: u32,
) -> Result<f64, JsError> {
    let runs = runs.max(1);
    let started = js::now_ms();
    for _ in 0..runs {
        result.compute(threshold, fg_fraction).map_err(js::error)?;
    }
    Ok((js::now_ms() - started) / f64::from(runs))
}
