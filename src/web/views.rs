//! What crosses from wasm to the page's JavaScript: one serde struct per call,
//! serialised by `serde-wasm-bindgen` (byte fields become `Uint8Array`s, names
//! camelCase). Built here from library types, so native tests check them.

use serde::Serialize;

use crate::imageio::{encode_png_rgb, encode_png_u8};
use crate::model::{Padding, UNetConfig};
use crate::pipeline::{self, Analysis, ResultFile};
use crate::postprocess::render::{rgb_bytes, Step, StepImage};
use crate::{GrayF32, Result};

/// A downloadable file of a result (see [`ResultFile`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileView {
    /// What follows the image's stem in its name, e.g. `mask.png`.
    pub suffix: &'static str,
    /// Its bytes.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl From<ResultFile> for FileView {
    fn from(file: ResultFile) -> Self {
        Self { suffix: file.suffix, bytes: file.bytes }
    }
}

/// One post-processing step as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepView {
    /// File stem of the step, e.g. `5_distance` (also its name in the ZIP).
    pub stem: &'static str,
    /// Its title, e.g. "Distance transform".
    pub title: &'static str,
    /// The rendering as a PNG (gray, or RGB for the coloured ones).
    #[serde(with = "serde_bytes")]
    pub png: Vec<u8>,
}

/// Everything the page shows and offers for one analysis (one set of slider values).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisView {
    /// Number of cells.
    pub cells: usize,
    /// The threshold used, as a probability (Otsu's level / 255 when automatic).
    pub threshold: f32,
    /// `cut.png`, `mask.png`, `labels.png` (or `labels.tif`), `cells.csv`,
    /// `RoiSet.zip`: the CLI's files, byte for byte ([`Analysis::files`]), those that
    /// could be made.
    pub files: Vec<FileView>,
    /// One message per file that could not be made (`<suffix>: <why>`).
    pub file_errors: Vec<String>,
    /// The cells in colour, black between them (PNG), for display.
    #[serde(with = "serde_bytes")]
    pub labels_colour: Vec<u8>,
    /// The nine steps, in order.
    pub steps: Vec<StepView>,
    /// The cell label of every pixel (0 = membrane, else the cell's line in
    /// `cells.csv`), row-major, as little-endian 16-bit numbers: what the page's
    /// viewer reads when the pointer is over a cell. Empty when the labels do not fit
    /// 16 bits (more than 65535 cells): the viewer then names no cell.
    #[serde(with = "serde_bytes")]
    pub label_raster: Vec<u8>,
}

impl AnalysisView {
    /// Renders `analysis`.
    pub fn new(analysis: &Analysis) -> Result<Self> {
        let (width, height) = analysis.cut.dims();
        let steps = Step::ALL
            .into_iter()
            .map(|step| {
                let png = match analysis.steps.render(step) {
                    StepImage::Gray(gray) => encode_png_u8(&gray),
                    StepImage::Rgb(rgb) => encode_png_rgb(width, height, &rgb_bytes(&rgb)),
                }?;
                Ok(StepView { stem: step.file_stem(), title: step.title(), png })
            })
            .collect::<Result<_>>()?;
        let (mut files, mut file_errors) = (Vec::new(), Vec::new());
        for file in analysis.files() {
            match file {
                Ok(file) => files.push(file),
                Err(failure) => file_errors.push(format!("{}: {}", failure.suffix, failure.error)),
            }
        }
        Ok(Self {
            cells: analysis.cells.count(),
            threshold: analysis.threshold,
            files: files.into_iter().map(FileView::from).collect(),
            file_errors,
            labels_colour: encode_png_rgb(width, height, &rgb_bytes(&analysis.cells.render()))?,
            steps,
            label_raster: analysis
                .cells
                .labels_u16()
                .map(|labels| labels.data().iter().flat_map(|l| l.to_le_bytes()).collect())
                .unwrap_or_default(),
        })
    }
}

/// The network's output for one page, as the page shows and offers it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbabilityView {
    /// The probability as an 8-bit PNG for display (white = cell interior).
    #[serde(with = "serde_bytes")]
    pub png: Vec<u8>,
    /// `prob.png`, the CLI's 16-bit file.
    pub file: FileView,
}

impl ProbabilityView {
    /// Renders `probability`.
    pub fn new(probability: &GrayF32) -> Result<Self> {
        let gray = probability.map(|p| (p.clamp(0.0, 1.0) * 255.0).round() as u8);
        Ok(Self { png: encode_png_u8(&gray)?, file: pipeline::probability_file(probability)?.into() })
    }
}

/// The loaded network, as the page describes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelView {
    /// One line, e.g. "U-Net, 5 levels, 16-256 channels, same padding".
    pub summary: String,
    /// Number of parameters.
    pub parameters: usize,
}

impl ModelView {
    /// Describes a network of architecture `config`.
    pub fn new(config: &UNetConfig) -> Self {
        let padding = match config.padding {
            Padding::Same => "same",
            Padding::Valid => "valid",
        };
        let norm = if config.batch_norm { ", batch norm" } else { "" };
        let summary = format!(
            "U-Net, {} levels, {}-{} channels, {padding} padding{norm}",
            config.depth,
            config.channels_at(0),
            config.channels_at(config.depth - 1)
        );
        Self { summary, parameters: config.parameter_count() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{analyse, PipelineOptions};
    use crate::Raster;

    #[test]
    fn the_analysis_view_carries_the_pipeline_files_and_every_step() {
        let probability = Raster::from_fn(32, 24, |x, y| if (x / 8 + y / 8) % 2 == 0 { 0.9 } else { 0.1 });
        let analysis = analyse(&probability, &PipelineOptions::default()).unwrap();
        let view = AnalysisView::new(&analysis).unwrap();
        let suffixes: Vec<&str> = view.files.iter().map(|f| f.suffix).collect();
        assert_eq!(suffixes, ["cut.png", "mask.png", "labels.png", "cells.csv", "RoiSet.zip"]);
        assert!(view.file_errors.is_empty());
        assert_eq!(view.files[3].bytes, analysis.cells.to_csv().into_bytes());
        assert_eq!(view.steps.len(), Step::ALL.len());
        assert_eq!(view.cells, analysis.cells.count());
        let labels = analysis.cells.labels_u16().unwrap();
        assert_eq!(view.label_raster.len(), 2 * 32 * 24);
        let at = |i: usize| u16::from_le_bytes([view.label_raster[2 * i], view.label_raster[2 * i + 1]]);
        assert!((0..32 * 24).all(|i| at(i) == labels.data()[i]));
        let json = serde_json::to_value(&view).unwrap();
        assert!(json.get("labelsColour").is_some(), "camelCase names for JavaScript");
    }

    #[test]
    fn the_model_view_describes_the_architecture() {
        let view = ModelView::new(&UNetConfig::compact());
        assert_eq!(view.summary, "U-Net, 5 levels, 16-256 channels, same padding");
        assert_eq!(view.parameters, UNetConfig::compact().parameter_count());
    }
}
