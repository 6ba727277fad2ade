//! The original project's watershed post-processing, every intermediate kept.
//!
//! The original (`src/post_processing.py` of pytorch-unet-segmentation) reads a
//! predicted mask (0 = membrane, 255 = cell interior) with `cv2.imread`, i.e.
//! as a 3-channel image with the gray value in every channel, and runs:
//!
//! | step | OpenCV call in the original | here |
//! |---|---|---|
//! | 1 grayscale | `cvtColor(BGR2GRAY)` (a replicated gray stays unchanged) | the input [`GrayU8`] |
//! | 2 threshold | `threshold(gray, 127, 255, THRESH_BINARY_INV + THRESH_OTSU)` | [`threshold`] |
//! | 3 closing | `morphologyEx(MORPH_CLOSE, ones(1, 1))` (a no-op) | [`morphology::close`] |
//! | 4 sure background | `dilate(closing, ones(3, 3), iterations=1)` | [`morphology::dilate`] |
//! | 5 distance | `distanceTransform(closing, DIST_L2, 5)` | [`distance`] |
//! | 6 sure foreground | `threshold(dist, 0.2 * dist.max(), 255, THRESH_BINARY)` | `distance > fraction * max` |
//! | 7 unknown | `subtract(sure_bg, sure_fg)` (saturating) | `sure_bg - sure_fg` |
//! | 8 markers | `connectedComponents(sure_fg)` + 1, 0 where unknown is 255 | [`components`] |
//! | 8 watershed | `watershed(img, markers)` on the **input** image, not the binary one | [`watershed`] |
//! | 9 final | 255 where the watershed label is 1, else 0 | `final_mask` |
//!
//! What this computes, which the original README does not say:
//! - With `THRESH_OTSU` the 127 is ignored and the level is Otsu's. On a 0/255
//!   mask Otsu's level is 0, so `THRESH_BINARY_INV` turns the **membranes**
//!   (0) into 255 and the cell interiors into 0: the "foreground" of steps 3-8
//!   is the membrane network.
//! - The distance is therefore measured inside the membranes (to the nearest
//!   cell-interior pixel), sure foreground = the membrane core, sure background
//!   = the membranes grown by one pixel, unknown = that grown band minus the core.
//! - `connectedComponents` labels the background 0, so after `+ 1` every
//!   non-core pixel (all cell interiors together) carries marker 1; the membrane
//!   cores carry 2, 3, ...; the unknown band carries 0 and is flooded.
//! - The final image is white (255) where the watershed label is 1 and black
//!   elsewhere: 255 = cell interior, 0 = membrane (cores, flooded band, the
//!   watershed lines and the one-pixel image frame, which `cv2.watershed`
//!   always sets to -1). This is the original mask polarity.
//!
//! [`run`] reproduces this bit for bit for the default [`PostprocessParams`]
//! (the tests compare every intermediate with committed OpenCV 5.0 outputs).
//! One detail depends on the NumPy version of the original's environment:
//! `0.2 * dist.max()` is computed in `f32` under NumPy 2 (a Python float does
//! not widen a NumPy `float32`) and in `f64` under NumPy 1 before OpenCV casts it
//! to `f32`; [`run`] follows NumPy 2. The two thresholds differ by at most one
//! `f32` step and only matter when a distance equals the threshold.

pub mod components;
pub mod distance;
pub mod morphology;
pub mod render;
pub mod threshold;
pub mod tiled;
pub mod watershed;

use crate::error::{Error, Result};
use crate::raster::{GrayF32, GrayU8, Labels};
use components::Connectivity;

/// How step 2 chooses its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threshold {
    /// Otsu's level, as OpenCV computes it (the original's choice).
    Otsu,
    /// A fixed level: pixels above it are "on" (before inversion).
    Fixed(u8),
}

/// Which distance transform step 5 uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistanceKind {
    /// OpenCV's 5x5 chamfer `distanceTransform(DIST_L2, 5)` (the original's choice).
    OpenCvChamfer5,
    /// The exact Euclidean distance transform.
    Exact,
}

/// Parameters of the post-processing; [`Default`] is the original's behaviour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PostprocessParams {
    /// Level of step 2 (default Otsu).
    pub threshold: Threshold,
    /// Step 2 maps pixels above the level to 0 and the rest to 255
    /// (`THRESH_BINARY_INV`, default `true`); otherwise the reverse.
    pub invert: bool,
    /// Side of the square closing kernel of step 3 (default 1: no change).
    pub closing_size: usize,
    /// Side of the square dilation kernel of step 4 (default 3).
    pub dilate_size: usize,
    /// Sure foreground = distance > `fg_fraction` x the largest distance (default 0.2).
    pub fg_fraction: f32,
    /// Distance transform of step 5 (default OpenCV's 5x5 chamfer).
    pub distance: DistanceKind,
}

impl Default for PostprocessParams {
    fn default() -> Self {
        Self {
            threshold: Threshold::Otsu,
            invert: true,
            closing_size: 1,
            dilate_size: 3,
            fg_fraction: 0.2,
            distance: DistanceKind::OpenCvChamfer5,
        }
    }
}

impl PostprocessParams {
    /// Checks that the kernel sizes are at least 1 and `fg_fraction` lies in `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        if self.closing_size == 0 || self.dilate_size == 0 {
            return Err(Error::invalid(format!(
                "kernel sizes must be at least 1 (closing {}, dilation {})",
                self.closing_size, self.dilate_size
            )));
        }
        if !(0.0..=1.0).contains(&self.fg_fraction) {
            return Err(Error::invalid(format!(
                "the foreground fraction must lie in [0, 1], got {}",
                self.fg_fraction
            )));
        }
        Ok(())
    }
}

/// Every intermediate of the post-processing, in step order.
#[derive(Clone, Debug, PartialEq)]
pub struct PostprocessSteps {
    /// Step 1: the gray input.
    pub grayscale: GrayU8,
    /// The level used by step 2 (Otsu's or the fixed one).
    pub threshold_level: u8,
    /// Step 2: the binary image (0/255).
    pub binary: GrayU8,
    /// Step 3: the binary image after closing.
    pub closing: GrayU8,
    /// Step 4: sure background, the closing dilated.
    pub sure_background: GrayU8,
    /// Step 5: distance of each non-zero closing pixel to the nearest zero pixel.
    pub distance: GrayF32,
    /// Largest value of `distance` (0 for an all-zero closing).
    pub max_distance: f32,
    /// Distances strictly above this are sure foreground (`fg_fraction * max_distance`).
    pub foreground_threshold: f32,
    /// Step 6: sure foreground (0/255).
    pub sure_foreground: GrayU8,
    /// Step 7: unknown region, sure background minus sure foreground (0/255).
    pub unknown: GrayU8,
    /// Number of connected components of the sure foreground.
    pub foreground_components: usize,
    /// Step 8: watershed markers: 1 off the sure foreground, 2.. on its
    /// components, 0 in the unknown region.
    pub markers: Labels,
    /// Step 8: watershed labels (-1 on lines and on the image frame).
    pub watershed: Labels,
    /// Step 9: 255 where the watershed label is 1, 0 elsewhere.
    pub final_mask: GrayU8,
}

/// Runs the nine steps on `gray`. Fails on an empty image or invalid parameters.
pub fn run(gray: &GrayU8, params: &PostprocessParams) -> Result<PostprocessSteps> {
    params.validate()?;
    if gray.data().is_empty() {
        return Err(Error::invalid("cannot post-process an empty image"));
    }
    let threshold_level = match params.threshold {
        Threshold::Otsu => threshold::otsu_level(gray),
        Threshold::Fixed(level) => level,
    };
    let binary = threshold::binarize(gray, threshold_level, params.invert);
    let closing = morphology::close(&binary, params.closing_size);
    let sure_background = morphology::dilate(&closing, params.dilate_size);
    let distance = match params.distance {
        DistanceKind::OpenCvChamfer5 => distance::opencv_chamfer5(&closing),
        DistanceKind::Exact => distance::exact_euclidean(&closing),
    };
    let max_distance = distance.data().iter().fold(0.0f32, |max, &d| if d > max { d } else { max });
    let foreground_threshold = params.fg_fraction * max_distance;
    let sure_foreground = distance.map(|d| if d > foreground_threshold { 255 } else { 0 });
    let unknown_values =
        sure_background.data().iter().zip(sure_foreground.data()).map(|(&bg, &fg)| bg.saturating_sub(fg));
    let unknown = GrayU8::new(gray.width(), gray.height(), unknown_values.collect())?;
    // Markers: 0 on the unknown region, 1 elsewhere off the sure foreground,
    // and the foreground components numbered from 2 (connectedComponents + 1).
    let background = unknown.data().iter().zip(sure_foreground.data()).map(|(&u, &fg)| i32::from(u != 255 && fg == 0));
    let mut markers = Labels::new(gray.width(), gray.height(), background.collect())?;
    let foreground_components =
        components::label_components_into(&sure_foreground, Connectivity::Eight, &mut markers, 2)?;
    let watershed = watershed::watershed(gray, &markers)?;
    let final_mask = watershed.map(|label| if label == 1 { 255 } else { 0 });
    Ok(PostprocessSteps {
        grayscale: gray.clone(),
        threshold_level,
        binary,
        closing,
        sure_background,
        distance,
        max_distance,
        foreground_threshold,
        sure_foreground,
        unknown,
        foreground_components,
        markers,
        watershed,
        final_mask,
    })
}
