//! The nine steps of [`super::run`] tile by tile, for images too large to hold every
//! intermediate whole: only the 8-bit input and the final image are whole-image
//! buffers; every other step lives in one tile (its core plus a halo) at a time.
//!
//! How each step is made the whole image's:
//! - **Threshold (step 2).** Otsu's level comes from the whole image's histogram
//!   (256 counts), so it is the whole image's exactly.
//! - **Largest distance (step 6).** A first pass over the tiles computes the distance
//!   (steps 2, 3, 5) on each core grown by a halo and takes the largest value on the
//!   cores. A tile treats what lies past its halo as infinitely far, as the whole
//!   image treats its outside, so a tile's distances are never below the whole
//!   image's, and they equal them wherever the whole image's distance is at most the
//!   halo less 2 pixels (the chamfer path to the nearest zero pixel then lies inside
//!   the tile; a path of length `d` stays within `d` pixels). So when the largest
//!   tile distance is at most the halo less 2 it is the whole image's largest
//!   distance, exactly; when it is larger, the pass runs again with a halo of that
//!   value plus 2, which is then exact (on an image whose closing has no zero pixel
//!   the halo becomes the whole image).
//! - **Sure foreground (step 6), unknown (7), background marker (8).** Per tile, on a
//!   halo wide enough that a distance compared with `fg_fraction x max` is right on
//!   either side of the threshold (a tile distance that is too large is then above
//!   the threshold in the whole image too), plus the dilation's and the closing's
//!   radius: these three images are the whole image's on the tile, exactly.
//! - **Markers' components (8) and watershed (8), final (9).** Per tile on its core
//!   grown by [`TileLayout::reach`] pixels; the core of the final image is kept.
//!
//! **Where the result may differ from [`super::run`]**: only in the last two steps,
//! and only when the flooding of a core pixel depends on something more than
//! `reach` pixels away. The watershed floods each 4-connected region of unknown
//! pixels on its own (its priority queue orders a region's pixels independently of
//! the others'), so a core pixel is exact when its unknown region stays within
//! `reach` of the core, or when the part of the region past the reach does not change
//! the flooding order near the core. It may differ (1) when two membrane cores (sure
//! foreground) that are one component in the whole image are joined only outside the
//! tile's reach: the tile numbers them as two markers, and a pixel between them
//! becomes a watershed line instead of taking their common label; (2) when an unknown
//! region runs past the reach: the tile cuts it there (the tile's edge is a line, so
//! no label arrives from past the reach), and a label that reaches a core pixel in the
//! whole image through the part past the reach, or earlier through it, arrives
//! otherwise or not at all. Unknown regions are the bands between membrane cores and
//! cells, `fg_fraction x` the largest distance wide: a thick membrane somewhere in the
//! image (a wide empty area) makes every band wide, and a band runs around a whole
//! cell. Measured: on the shipped slices' probability maps and raw slices, with
//! cores of 37 to 512 pixels, no pixel differs at the default reach (nor at 6 pixels
//! on the maps); a reach of 4 pixels changes one pixel of slice 24's map, 13 pixels
//! from a seam; four small cells in a wide membrane (largest distance 90) differ in
//! one pixel at the default reach and none at 64; on synthetic tissue (cells of 15 to
//! 40 pixels, membranes of 2 to 10) a few of several hundred random images had one to
//! three differing pixels, at the default reach and at 64, always whole-image
//! watershed lines that a tile gave to a cell (which of (1) and (2) caused them was not
//! worked out). The tests check each of these; the property test that differences
//! are only such lines and under 0.1 % of the pixels.

use super::components::{label_components_into, Connectivity};
use super::watershed::watershed;
use super::{distance, morphology, threshold, DistanceKind, PostprocessParams, Threshold};
use crate::error::{Error, Result};
use crate::raster::{GrayF32, GrayU8, Labels};

/// How [`run_tiled`] cuts the image into tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileLayout {
    /// Side of a tile's core, the square of the final image each tile gives
    /// (the last column and row of tiles are narrower).
    pub core: usize,
    /// Pixels around a core that the markers' components and the watershed see.
    pub reach: usize,
}

impl Default for TileLayout {
    /// 512-pixel cores and a 32-pixel reach: a tile's buffers take about 10 MB, and
    /// the shipped slices' post-processing comes out the same as the whole image's.
    fn default() -> Self {
        Self { core: 512, reach: 32 }
    }
}

/// The quantities and the final image of [`run_tiled`].
#[derive(Clone, Debug, PartialEq)]
pub struct TiledPostprocess {
    /// The level of step 2 (Otsu's of the whole image, or the fixed one).
    pub threshold_level: u8,
    /// The whole image's largest distance (step 5).
    pub max_distance: f32,
    /// Distances strictly above this are sure foreground (`fg_fraction * max_distance`).
    pub foreground_threshold: f32,
    /// The halo of the last distance pass (grown past the first when a distance needed it).
    pub distance_halo: usize,
    /// The halo of the per-tile steps: closing, dilation, distance, markers, watershed.
    pub halo: usize,
    /// Step 9: 255 where the watershed label is 1, 0 elsewhere.
    pub final_mask: GrayU8,
}

/// A rectangle of the image, `x0..x1` by `y0..y1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

impl Window {
    /// The whole of a `width` x `height` image.
    fn all((width, height): (usize, usize)) -> Window {
        Window { x0: 0, y0: 0, x1: width, y1: height }
    }

    /// This window grown by `by` on every side, within a `width` x `height` image.
    fn grown(self, by: usize, (width, height): (usize, usize)) -> Window {
        Window {
            x0: self.x0.saturating_sub(by),
            y0: self.y0.saturating_sub(by),
            x1: (self.x1.saturating_add(by)).min(width),
            y1: (self.y1.saturating_add(by)).min(height),
        }
    }

    /// `(width, height)`.
    fn dims(self) -> (usize, usize) {
        (self.x1 - self.x0, self.y1 - self.y0)
    }

    /// The part of `image` (which covers `self`) under `inner`.
    fn crop<T: Copy>(self, image: &crate::raster::Raster<T>, inner: Window) -> crate::raster::Raster<T> {
        let (width, height) = inner.dims();
        image.crop(inner.x0 - self.x0, inner.y0 - self.y0, width, height)
    }
}

/// The cores of a `width` x `height` image in raster order.
fn cores((width, height): (usize, usize), core: usize) -> impl Iterator<Item = Window> {
    (0..height).step_by(core).flat_map(move |y0| {
        (0..width).step_by(core).map(move |x0| Window {
            x0,
            y0,
            x1: (x0 + core).min(width),
            y1: (y0 + core).min(height),
        })
    })
}

/// Steps 2 and 3 on `window` of `gray`: the closing.
fn closing(gray: &GrayU8, window: Window, level: u8, params: &PostprocessParams) -> GrayU8 {
    let binary = threshold::binarize(&Window::all(gray.dims()).crop(gray, window), level, params.invert);
    morphology::close(&binary, params.closing_size)
}

/// Step 5 of a closing.
fn distance_of(closing: &GrayU8, params: &PostprocessParams) -> GrayF32 {
    match params.distance {
        DistanceKind::OpenCvChamfer5 => distance::opencv_chamfer5(closing),
        DistanceKind::Exact => distance::exact_euclidean(closing),
    }
}

/// Pixels a square kernel of side `size` reaches on either side (a closing, a
/// dilation then an erosion, reaches twice as far).
fn radius(size: usize) -> usize {
    size / 2
}

/// The largest distance on the cores with distances computed on each core grown by
/// `halo` (plus what the closing needs).
fn largest_tile_distance(
    gray: &GrayU8,
    level: u8,
    params: &PostprocessParams,
    layout: &TileLayout,
    halo: usize,
) -> f32 {
    let dims = gray.dims();
    let closing_margin = 2 * radius(params.closing_size);
    let mut max = 0.0f32;
    for core in cores(dims, layout.core) {
        let outer = core.grown(halo + closing_margin, dims);
        let inner = core.grown(halo, dims);
        let distance = distance_of(&outer.crop(&closing(gray, outer, level, params), inner), params);
        let core_part = inner.crop(&distance, core);
        max = core_part.data().iter().fold(max, |max, &d| if d > max { d } else { max });
    }
    max
}

/// The halo a distance of `d` needs to be exact: `d + 2`, or the whole image.
fn halo_for(d: f32, dims: (usize, usize)) -> usize {
    let whole = dims.0.max(dims.1);
    if d.is_finite() && d + 2.0 < whole as f32 {
        d.ceil() as usize + 2
    } else {
        whole
    }
}

/// Runs the nine steps of [`super::run`] tile by tile on `gray` and returns the final
/// image with the global quantities (see the module documentation for how, and for
/// where the result may differ). Fails on an empty image, invalid parameters or a
/// core of 0 pixels.
pub fn run_tiled(gray: &GrayU8, params: &PostprocessParams, layout: &TileLayout) -> Result<TiledPostprocess> {
    params.validate()?;
    if gray.data().is_empty() {
        return Err(Error::invalid("cannot post-process an empty image"));
    }
    if layout.core == 0 {
        return Err(Error::invalid("tiles need a core of at least one pixel"));
    }
    let dims = gray.dims();
    let threshold_level = match params.threshold {
        Threshold::Otsu => threshold::otsu_level(gray),
        Threshold::Fixed(level) => level,
    };

    let mut distance_halo = layout.reach.max(2);
    let mut max_distance = largest_tile_distance(gray, threshold_level, params, layout, distance_halo);
    if max_distance + 2.0 > distance_halo as f32 && distance_halo < dims.0.max(dims.1) {
        distance_halo = halo_for(max_distance, dims);
        max_distance = largest_tile_distance(gray, threshold_level, params, layout, distance_halo);
    }
    let foreground_threshold = params.fg_fraction * max_distance;

    // From the core outwards: the reach of the watershed, the margin that makes the
    // sure foreground and the dilation exact, the margin of the closing.
    let exact_margin = halo_for(foreground_threshold, dims).max(radius(params.dilate_size));
    let closing_margin = 2 * radius(params.closing_size);
    let halo = layout.reach.saturating_add(exact_margin).saturating_add(closing_margin);
    let mut final_mask = GrayU8::filled(dims.0, dims.1, 0);
    for core in cores(dims, layout.core) {
        let outer = core.grown(halo, dims);
        let exact = core.grown(layout.reach.saturating_add(exact_margin), dims);
        let reach = core.grown(layout.reach, dims);
        let closing = outer.crop(&closing(gray, outer, threshold_level, params), exact);
        let sure_background = exact.crop(&morphology::dilate(&closing, params.dilate_size), reach);
        let distance = exact.crop(&distance_of(&closing, params), reach);
        let sure_foreground = distance.map(|d| if d > foreground_threshold { 255 } else { 0 });
        // Markers as in `run`: 0 on the unknown region (sure background minus sure
        // foreground), 1 elsewhere off the sure foreground, components from 2.
        let background = sure_background
            .data()
            .iter()
            .zip(sure_foreground.data())
            .map(|(&bg, &fg)| i32::from(bg.saturating_sub(fg) != 255 && fg == 0));
        let (width, height) = reach.dims();
        let mut markers = Labels::new(width, height, background.collect())?;
        label_components_into(&sure_foreground, Connectivity::Eight, &mut markers, 2)?;
        let labels = watershed(&Window::all(dims).crop(gray, reach), &markers)?;
        for y in core.y0..core.y1 {
            let row = &labels.row(y - reach.y0)[core.x0 - reach.x0..core.x1 - reach.x0];
            let out = &mut final_mask.data_mut()[y * dims.0 + core.x0..y * dims.0 + core.x1];
            for (o, &label) in out.iter_mut().zip(row) {
                *o = if label == 1 { 255 } else { 0 };
            }
        }
    }
    Ok(TiledPostprocess { threshold_level, max_distance, foreground_threshold, distance_halo, halo, final_mask })
}
