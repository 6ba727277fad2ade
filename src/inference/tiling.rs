//! Where the tiles go: a pure plan (no tensors) of overlapping network inputs
//! that together predict every pixel of an image of any size.
//!
//! Each tile is a window of network input and the range of image pixels whose
//! prediction is kept from it. Windows may reach past the image border; those
//! pixels are read from the symmetric mirror image (numpy's `'symmetric'`
//! padding: `c b a | a b c | c b a`, repeated for any distance), so no padded copy
//! of the image is ever built.
//!
//! - `valid` networks (the `seed` preset): the network itself shrinks its input by
//!   `context` per side (92 px for the original 572 -> 388), so its whole output is
//!   kept, and windows at the image border read mirrored context (the original's
//!   overlap-tile strategy).
//! - `same` networks (the `compact` preset): output = input, but pixels near a
//!   window's edge see zero padding. Inside the image every kept pixel is `context`
//!   pixels away from its window's edges; by default `context` is the receptive-field
//!   margin of the same layers without padding (92 px at depth 5), rounded up to the
//!   pooling grid (96 px), so each kept pixel has all the input it can depend on. At
//!   the image border, [`Edges`] chooses: windows that stop at the border and let the
//!   network's zero padding take over, as in training on crops and in one pass over
//!   the whole image (the default), or windows that read mirrored context.
//!
//! Outputs start on the pooling grid (`2^(depth-1)`, 16 px at depth 5; for same
//! networks the output is the window, for valid ones it starts `context` into it), so
//! all tiles see the image on the same max-pool grid. With these rules, the overlapping
//! predictions of neighbouring tiles are the same numbers and the tiled result
//! equals one forward pass over the whole image: mirror-extended by the context
//! ([`Edges::Mirror`]), or mirror-extended only at its right and bottom, up to the
//! pooling grid ([`Edges::ZeroPadding`]).
//!
//! Tiles form a regular grid (every tile of a column shares its x-range, every tile
//! of a row its y-range) and all have the same size, so they batch together.

use core::ops::Range;

use crate::model::{Padding, UNetConfig};
use crate::{Error, Result};

/// What a same-padded network sees past the image border (also the CLI's `--edges`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(target_family = "wasm"), derive(clap::ValueEnum))]
pub enum Edges {
    /// The network's own zero padding: windows stop at the border, as the training
    /// crops and whole-image validation do.
    #[default]
    #[cfg_attr(not(target_family = "wasm"), value(name = "zero"))]
    ZeroPadding,
    /// The mirror image of the border region, the original's overlap-tile strategy
    /// (always the case for valid networks).
    Mirror,
}

/// Tuning of the tile plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileOptions {
    /// Largest tile side fed to the network, in pixels: bounds the memory of one forward pass.
    pub max_tile: usize,
    /// Number of tiles per forward pass.
    pub batch: usize,
    /// Context per side for same-padded networks, rounded up to the pooling grid;
    /// `None` takes the receptive-field margin (exact, seamless results).
    pub same_context: Option<usize>,
    /// Border handling of same-padded networks (valid networks always mirror).
    pub edges: Edges,
}

impl Default for TileOptions {
    /// Tiles of at most 768 px, two per forward pass, exact context, zero padding at the border.
    fn default() -> Self {
        Self { max_tile: 768, batch: 2, same_context: None, edges: Edges::ZeroPadding }
    }
}

/// The tiles along one axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxisPlan {
    /// Length of the image along this axis.
    pub length: usize,
    /// Length of every tile's input window along this axis.
    pub window: usize,
    /// First input pixel of each window, in image coordinates (on the pooling grid;
    /// negative or past the image where the window reads mirrored pixels).
    pub starts: Vec<isize>,
    /// The image pixels whose prediction each tile keeps (inside `0..length`).
    pub keeps: Vec<Range<usize>>,
}

impl AxisPlan {
    /// How many tiles keep each pixel of the axis.
    pub fn coverage(&self) -> Vec<u32> {
        let mut count = vec![0u32; self.length];
        for keep in &self.keeps {
            for c in &mut count[keep.clone()] {
                *c += 1;
            }
        }
        count
    }
}

/// One tile: where its input window starts and which image pixels it predicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Column of the window's first pixel.
    pub input_x: isize,
    /// Row of the window's first pixel.
    pub input_y: isize,
    /// Columns of the image kept from this tile's prediction.
    pub keep_x: Range<usize>,
    /// Rows of the image kept from this tile's prediction.
    pub keep_y: Range<usize>,
}

/// The complete tiling of one image for one network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TilePlan {
    /// Tiles along the x axis (columns).
    pub x: AxisPlan,
    /// Tiles along the y axis (rows).
    pub y: AxisPlan,
    /// Input pixels the network cuts from each side of a window (valid networks'
    /// margin; 0 for same padding): output pixel `i` is input pixel `i + shrink`.
    pub shrink: usize,
    /// Width and height of the network output for one tile.
    pub output_size: (usize, usize),
}

impl TilePlan {
    /// Plans the tiles of a `width` x `height` image for a network built from `config`.
    pub fn new(config: &UNetConfig, width: usize, height: usize, options: &TileOptions) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::invalid(format!("cannot segment an empty image ({width}x{height})")));
        }
        let grid = pooling_grid(config);
        let (context, shrink) = match config.padding {
            Padding::Valid => (config.margin(), config.margin()),
            Padding::Same => {
                let wanted = options.same_context.unwrap_or_else(|| receptive_margin(config));
                (wanted.div_ceil(grid) * grid, 0)
            }
        };
        let plan_axis = |length| match (config.padding, options.edges) {
            (Padding::Same, Edges::ZeroPadding) => plan_axis_inside(config, length, context, options.max_tile),
            _ => plan_axis_mirrored(config, length, context, grid, options.max_tile),
        };
        let x = plan_axis(width)?;
        let y = plan_axis(height)?;
        let output_size = (x.window - 2 * shrink, y.window - 2 * shrink);
        Ok(Self { x, y, shrink, output_size })
    }

    /// Number of tiles.
    pub fn tile_count(&self) -> usize {
        self.x.starts.len() * self.y.starts.len()
    }

    /// The `index`-th tile, row by row.
    pub fn tile(&self, index: usize) -> Tile {
        let columns = self.x.starts.len();
        let (i, j) = (index % columns, index / columns);
        Tile {
            input_x: self.x.starts[i],
            input_y: self.y.starts[j],
            keep_x: self.x.keeps[i].clone(),
            keep_y: self.y.keeps[j].clone(),
        }
    }

    /// Width and height of the network input for one tile.
    pub fn input_size(&self) -> (usize, usize) {
        (self.x.window, self.y.window)
    }

    /// Width and height of the image the plan covers.
    pub fn image_size(&self) -> (usize, usize) {
        (self.x.length, self.y.length)
    }
}

/// Spacing of the coarsest max-pool grid in input pixels: `2^(depth-1)`.
pub fn pooling_grid(config: &UNetConfig) -> usize {
    1 << (config.depth - 1)
}

/// Receptive-field margin of a same-padded network: what the same layers would lose
/// per side without padding, rounded up to the pooling grid.
pub fn receptive_margin(config: &UNetConfig) -> usize {
    let grid = pooling_grid(config);
    let unpadded = UNetConfig { padding: Padding::Valid, ..config.clone() };
    unpadded.margin().div_ceil(grid) * grid
}

/// The largest window of at most `max_tile` pixels that the network accepts and
/// that keeps at least one pooling cell between `context` pixels on both sides.
fn largest_window(config: &UNetConfig, context: usize, max_tile: usize) -> Result<usize> {
    let grid = pooling_grid(config);
    (1..=max_tile).rev().find(|&s| s >= 2 * context + grid && config.output_size(s).is_some()).ok_or_else(|| {
        let needed = config.valid_input_size_at_least(grid + 2 * context);
        Error::invalid(format!(
            "tiles of at most {max_tile} px are too small for this network (it needs at least {needed} px)"
        ))
    })
}

/// The smallest core of at least `min_core` pixels that the network accepts with
/// `context` pixels on both sides.
fn allowed_core(config: &UNetConfig, min_core: usize, context: usize) -> usize {
    config.valid_input_size_at_least(min_core.max(1) + 2 * context) - 2 * context
}

/// Covers `0..length` with as few windows as `max_tile` allows, each as small as
/// possible, keeping only pixels `context` inside a window; windows reach past both
/// image borders by `context` and more, spread symmetrically around the image.
fn plan_axis_mirrored(
    config: &UNetConfig,
    length: usize,
    context: usize,
    grid: usize,
    max_tile: usize,
) -> Result<AxisPlan> {
    let max_core = largest_window(config, context, max_tile)? - 2 * context;
    let floor_grid = |c: usize| c / grid * grid;
    let (count, core) = if length <= max_core {
        (1, allowed_core(config, length, context))
    } else {
        let step = floor_grid(max_core);
        let count = 1 + (length - max_core).div_ceil(step);
        let mut core = allowed_core(config, length.div_ceil(count), context);
        while (count - 1) * floor_grid(core) + core < length {
            core = allowed_core(config, core + 1, context);
        }
        (count, core)
    };
    let step = floor_grid(core);
    let extent = (count - 1) * step + core;
    let first = -(floor_grid((extent - length) / 2) as isize);
    let core_starts: Vec<isize> = (0..count).map(|i| first + (i * step) as isize).collect();
    let keeps =
        core_starts.iter().map(|&s| s.max(0) as usize..(s + core as isize).min(length as isize) as usize).collect();
    let starts = core_starts.iter().map(|&s| s - context as isize).collect();
    Ok(AxisPlan { length, window: core + 2 * context, starts, keeps })
}

/// Covers `0..length` of a same-padded network with windows that stay inside the
/// image extended to the pooling grid (its last pixels mirrored): the first window
/// starts at 0, the last ends at the extended length, consecutive windows overlap by
/// `2 x context`, and each keeps its pixels except the `context` next to an edge
/// that is not the image border.
fn plan_axis_inside(config: &UNetConfig, length: usize, context: usize, max_tile: usize) -> Result<AxisPlan> {
    let extended = config.valid_input_size_at_least(length);
    let largest = largest_window(config, context, max_tile)?;
    if extended <= largest {
        return Ok(AxisPlan { length, window: extended, starts: vec![0], keeps: vec![0..length] });
    }
    let count = 1 + (extended - largest).div_ceil(largest - 2 * context);
    let window = config.valid_input_size_at_least((extended + 2 * context * (count - 1)).div_ceil(count));
    let step = window - 2 * context;
    let starts: Vec<usize> = (0..count).map(|i| (i * step).min(extended - window)).collect();
    let keeps = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let from = if i == 0 { 0 } else { s + context };
            let to = if i + 1 == count { length } else { (s + window - context).min(length) };
            from..to
        })
        .collect();
    Ok(AxisPlan { length, window, starts: starts.into_iter().map(|s| s as isize).collect(), keeps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_margin_and_grid() {
        let seed = UNetConfig::seed();
        assert_eq!(pooling_grid(&seed), 16);
        assert_eq!(seed.margin(), 92);
        assert_eq!(receptive_margin(&UNetConfig::compact()), 96);
    }

    #[test]
    fn isbi_slice_with_seed_is_one_valid_tile() {
        let plan = TilePlan::new(&UNetConfig::seed(), 512, 512, &TileOptions::default()).unwrap();
        assert_eq!(plan.tile_count(), 1);
        let (w, h) = plan.input_size();
        assert_eq!((w, h), (700, 700));
        assert_eq!(UNetConfig::seed().output_size(w), Some(plan.output_size.0));
    }

    #[test]
    fn original_tile_size_gives_the_original_two_by_two() {
        let options = TileOptions { max_tile: 572, ..TileOptions::default() };
        let plan = TilePlan::new(&UNetConfig::seed(), 512, 512, &options).unwrap();
        assert_eq!(plan.tile_count(), 4);
        assert!(plan.input_size().0 <= 572);
    }

    #[test]
    fn outputs_start_on_the_pooling_grid() {
        for len in [1, 15, 16, 17, 388, 500, 511, 512, 1000, 4096] {
            for config in [UNetConfig::seed(), UNetConfig::compact()] {
                for edges in [Edges::ZeroPadding, Edges::Mirror] {
                    let plan =
                        TilePlan::new(&config, len, 7, &TileOptions { edges, ..TileOptions::default() }).unwrap();
                    let shrink = plan.shrink as isize;
                    assert!(plan.x.starts.iter().all(|s| (s + shrink).rem_euclid(16) == 0), "{len}: {:?}", plan.x);
                    assert!(plan.x.coverage().iter().all(|&c| c >= 1), "{len}: {:?}", plan.x);
                }
            }
        }
    }

    #[test]
    fn isbi_slice_with_compact_is_the_whole_slice_or_mirrored() {
        let compact = UNetConfig::compact();
        let plan = TilePlan::new(&compact, 512, 512, &TileOptions::default()).unwrap();
        assert_eq!((plan.tile_count(), plan.input_size(), plan.tile(0).input_x), (1, (512, 512), 0));
        let options = TileOptions { edges: Edges::Mirror, ..TileOptions::default() };
        let plan = TilePlan::new(&compact, 512, 512, &options).unwrap();
        assert_eq!((plan.tile_count(), plan.input_size(), plan.tile(0).input_x), (1, (704, 704), -96));
    }

    #[test]
    fn zero_padding_windows_stay_inside_the_grid_extended_image() {
        let compact = UNetConfig::compact();
        for len in [1, 17, 700, 769, 1000, 4095] {
            let plan = TilePlan::new(&compact, len, 1, &TileOptions::default()).unwrap();
            let axis = &plan.x;
            assert_eq!(axis.starts[0], 0);
            assert_eq!(*axis.starts.last().unwrap() as usize + axis.window, len.div_ceil(16) * 16, "{len}: {axis:?}");
            assert!(axis.window <= 768);
        }
    }

    #[test]
    fn too_small_tiles_are_refused() {
        let options = TileOptions { max_tile: 100, ..TileOptions::default() };
        let err = TilePlan::new(&UNetConfig::seed(), 64, 64, &options).unwrap_err();
        assert!(err.to_string().contains("at least"), "{err}");
        assert!(TilePlan::new(&UNetConfig::compact(), 0, 5, &TileOptions::default()).is_err());
    }
}
