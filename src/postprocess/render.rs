//! Displayable images of the post-processing steps, shared by the CLI and the page.
//!
//! Binary and gray steps render as gray images; the distance as a "jet"
//! colour map (blue = near a zero pixel, red = farthest), as in the original
//! README's figure; label images with one arbitrary but fixed colour per label.

use super::PostprocessSteps;
use crate::raster::{GrayF32, GrayU8, Labels, Raster};

/// 8-bit RGB image, one `[r, g, b]` per pixel.
pub type RgbU8 = Raster<[u8; 3]>;

/// One post-processing step, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// 1: the gray input.
    Grayscale,
    /// 2: the thresholded binary image.
    Threshold,
    /// 3: the binary image after closing.
    Closing,
    /// 4: sure background.
    SureBackground,
    /// 5: distance transform.
    Distance,
    /// 6: sure foreground.
    SureForeground,
    /// 7: unknown region.
    Unknown,
    /// 8: watershed markers.
    Markers,
    /// 8: watershed labels.
    Watershed,
    /// 9: the final image.
    Final,
}

impl Step {
    /// Every step, in pipeline order.
    pub const ALL: [Step; 10] = [
        Step::Grayscale,
        Step::Threshold,
        Step::Closing,
        Step::SureBackground,
        Step::Distance,
        Step::SureForeground,
        Step::Unknown,
        Step::Markers,
        Step::Watershed,
        Step::Final,
    ];

    /// File name stem with the step number, e.g. `"5_distance"` (markers and
    /// watershed share step 8, as in the original README).
    pub fn file_stem(self) -> &'static str {
        match self {
            Step::Grayscale => "1_grayscale",
            Step::Threshold => "2_threshold",
            Step::Closing => "3_closing",
            Step::SureBackground => "4_sure_background",
            Step::Distance => "5_distance",
            Step::SureForeground => "6_sure_foreground",
            Step::Unknown => "7_unknown",
            Step::Markers => "8_markers",
            Step::Watershed => "8_watershed",
            Step::Final => "9_final",
        }
    }

    /// Human-readable title.
    pub fn title(self) -> &'static str {
        match self {
            Step::Grayscale => "1. Grayscale",
            Step::Threshold => "2. Threshold",
            Step::Closing => "3. Closing",
            Step::SureBackground => "4. Sure background",
            Step::Distance => "5. Distance",
            Step::SureForeground => "6. Sure foreground",
            Step::Unknown => "7. Unknown region",
            Step::Markers => "8. Markers",
            Step::Watershed => "8. Watershed",
            Step::Final => "9. Final",
        }
    }
}

/// A rendered step: gray or colour.
#[derive(Clone, Debug, PartialEq)]
pub enum StepImage {
    /// A gray image (binary steps use 0 and 255).
    Gray(GrayU8),
    /// A colour image (distance map, labels).
    Rgb(RgbU8),
}

impl StepImage {
    /// `(width, height)`.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            StepImage::Gray(g) => g.dims(),
            StepImage::Rgb(c) => c.dims(),
        }
    }

    /// Opaque RGBA bytes, row-major (the layout of a canvas `ImageData`).
    pub fn to_rgba(&self) -> Vec<u8> {
        match self {
            StepImage::Gray(g) => g.data().iter().flat_map(|&v| [v, v, v, 255]).collect(),
            StepImage::Rgb(c) => c.data().iter().flat_map(|&[r, g, b]| [r, g, b, 255]).collect(),
        }
    }
}

impl PostprocessSteps {
    /// The image shown for `step`.
    pub fn render(&self, step: Step) -> StepImage {
        match step {
            Step::Grayscale => StepImage::Gray(self.grayscale.clone()),
            Step::Threshold => StepImage::Gray(self.binary.clone()),
            Step::Closing => StepImage::Gray(self.closing.clone()),
            Step::SureBackground => StepImage::Gray(self.sure_background.clone()),
            Step::Distance => StepImage::Rgb(distance_colormap(&self.distance)),
            Step::SureForeground => StepImage::Gray(self.sure_foreground.clone()),
            Step::Unknown => StepImage::Gray(self.unknown.clone()),
            Step::Markers => StepImage::Rgb(label_colors(&self.markers)),
            Step::Watershed => StepImage::Rgb(label_colors(&self.watershed)),
            Step::Final => StepImage::Gray(self.final_mask.clone()),
        }
    }
}

/// Flattens an RGB image to `[r, g, b, r, g, b, ...]`.
pub fn rgb_bytes(image: &RgbU8) -> Vec<u8> {
    image.data().iter().flatten().copied().collect()
}

/// "Jet" colour map of `distance` scaled by its largest value: 0 is dark blue,
/// the maximum dark red. An all-zero map is uniformly dark blue.
pub fn distance_colormap(distance: &GrayF32) -> RgbU8 {
    let max = distance.data().iter().copied().fold(0.0f32, f32::max);
    distance.map(|d| if max > 0.0 { jet(d / max) } else { jet(0.0) })
}

/// The jet colour of `t` in `[0, 1]`.
fn jet(t: f32) -> [u8; 3] {
    let channel = |centre: f32| {
        let v = (1.5 - (4.0 * t - centre).abs()).clamp(0.0, 1.0);
        (v * 255.0).round() as u8
    };
    [channel(3.0), channel(2.0), channel(1.0)]
}

/// One colour per label: 0 (unlabelled) black, negative labels (watershed
/// lines) white, positive labels a bright colour derived from the label, so a
/// label keeps its colour from one image to the next.
pub fn label_colors(labels: &Labels) -> RgbU8 {
    labels.map(label_color)
}

/// The display colour of one label (see [`label_colors`]).
pub fn label_color(label: i32) -> [u8; 3] {
    match label {
        0 => [0, 0, 0],
        l if l < 0 => [255, 255, 255],
        l => {
            // A fixed integer hash spreads consecutive labels over the colour cube;
            // each channel stays in 48..=239 so labels differ from black and white.
            let mut h = (l as u32).wrapping_mul(0x9E37_79B1);
            h ^= h >> 15;
            h = h.wrapping_mul(0x85EB_CA77);
            h ^= h >> 13;
            let channel = |shift: u32| 48 + ((h >> shift) & 0xFF) as u8 % 192;
            [channel(0), channel(8), channel(16)]
        }
    }
}
