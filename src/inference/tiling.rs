//! Where the tiles go: a pure plan (no tensors) of overlapping network inputs
//! that together predict every pixel of an image of any size.
//!
//! Each tile has a *core*, the block of pixels whose prediction is kept, and
//! `context` pixels of input on every side of it. Inputs reach past the image
//! border; those pixels are read from the symmetric mirror image (numpy's
//! `'symmetric'` padding: `c b a | a b c | c b a`, repeated for any distance),
//! so no padded copy of the image is ever built.
//!
//! - `valid` networks (the `seed` preset): the network itself shrinks its input by
//!   `context` per side (92 px for the original 572 -> 388), so its whole output is
//!   the core.
//! - `same` networks (the `compact` preset): output = input, but pixels near a
//!   tile's edge see zero padding. By default `context` is the receptive-field
//!   margin of the same layers without padding (92 px at depth 5), rounded up to the
//!   pooling grid (96 px): every kept pixel then has all the input it can depend on.
//!
//! Core starts are multiples of the pooling grid (`2^(depth-1)`, 16 px at depth 5),
//! so all tiles see the image on the same max-pool grid. With both rules, the
//! overlapping predictions of neighbouring tiles are the same numbers and the tiled
//! result equals one forward pass over the whole mirror-extended image.
//!
//! Tiles form a regular grid (every tile of a column shares its x-range, every tile
//! of a row its y-range) and all have the same size, so they batch together.

use crate::model::{Padding, UNetConfig};
use crate::{Error, Result};

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
}

impl Default for TileOptions {
    /// Tiles of at most 768 px, two per forward pass, exact context.
    fn default() -> Self {
        Self { max_tile: 768, batch: 2, same_context: None }
    }
}

/// The tiles along one axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxisPlan {
    /// Length of the image along this axis.
    pub length: usize,
    /// Length of every tile's core along this axis.
    pub core: usize,
    /// Start of each core in image coordinates (the first may be negative, the last
    /// core may end past the image: those pixels are mirror context, not kept).
    pub starts: Vec<isize>,
}

impl AxisPlan {
    /// How many tile cores cover each pixel of the axis.
    pub fn coverage(&self) -> Vec<u32> {
        let mut count = vec![0u32; self.length];
        for &start in &self.starts {
            let from = start.max(0) as usize;
            let to = (start + self.core as isize).clamp(0, self.length as isize) as usize;
            for c in &mut count[from.min(to)..to] {
                *c += 1;
            }
        }
        count
    }
}

/// Top-left corner of one tile's core, in image coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Column of the core's first pixel.
    pub core_x: isize,
    /// Row of the core's first pixel.
    pub core_y: isize,
}

/// The complete tiling of one image for one network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TilePlan {
    /// Tiles along the x axis (columns).
    pub x: AxisPlan,
    /// Tiles along the y axis (rows).
    pub y: AxisPlan,
    /// Input pixels on each side of a core.
    pub context: usize,
    /// Offset of the core inside the network output (0 for valid, `context` for same).
    pub output_offset: usize,
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
        let (context, output_offset) = match config.padding {
            Padding::Valid => (config.margin(), 0),
            Padding::Same => {
                let wanted = options.same_context.unwrap_or_else(|| receptive_margin(config));
                let context = wanted.div_ceil(grid) * grid;
                (context, context)
            }
        };
        let x = plan_axis(config, width, context, grid, options.max_tile)?;
        let y = plan_axis(config, height, context, grid, options.max_tile)?;
        let tile_w = x.core + 2 * context;
        let tile_h = y.core + 2 * context;
        let output_size = match config.padding {
            Padding::Valid => (x.core, y.core),
            Padding::Same => (tile_w, tile_h),
        };
        Ok(Self { x, y, context, output_offset, output_size })
    }

    /// Number of tiles.
    pub fn tile_count(&self) -> usize {
        self.x.starts.len() * self.y.starts.len()
    }

    /// The `index`-th tile, row by row.
    pub fn tile(&self, index: usize) -> Tile {
        let columns = self.x.starts.len();
        Tile { core_x: self.x.starts[index % columns], core_y: self.y.starts[index / columns] }
    }

    /// Width and height of the network input for one tile.
    pub fn input_size(&self) -> (usize, usize) {
        (self.x.core + 2 * self.context, self.y.core + 2 * self.context)
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

/// The smallest core of at least `min_core` pixels that the network accepts with
/// `context` pixels on both sides.
fn allowed_core(config: &UNetConfig, min_core: usize, context: usize) -> usize {
    config.valid_input_size_at_least(min_core.max(1) + 2 * context) - 2 * context
}

/// Covers `0..length` with as few cores as `max_tile` allows, each as small as possible,
/// starting on the pooling grid and spread symmetrically around the image.
fn plan_axis(config: &UNetConfig, length: usize, context: usize, grid: usize, max_tile: usize) -> Result<AxisPlan> {
    let largest_input = (1..=max_tile).rev().find(|&s| s > 2 * context && config.output_size(s).is_some());
    let max_core = largest_input.map(|s| s - 2 * context).filter(|&c| c >= grid).ok_or_else(|| {
        let needed = config.valid_input_size_at_least(grid + 2 * context);
        Error::invalid(format!("tiles of at most {max_tile} px are too small for this network (it needs at least {needed} px)"))
    })?;
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
    let starts = (0..count).map(|i| first + (i * step) as isize).collect();
    Ok(AxisPlan { length, core, starts })
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
    fn starts_are_on_the_pooling_grid() {
        for len in [1, 15, 16, 17, 388, 500, 511, 512, 1000, 4096] {
            for config in [UNetConfig::seed(), UNetConfig::compact()] {
                let plan = TilePlan::new(&config, len, 7, &TileOptions::default()).unwrap();
                assert!(plan.x.starts.iter().all(|s| s.rem_euclid(16) == 0), "{len}: {:?}", plan.x);
                assert!(plan.x.coverage().iter().all(|&c| c >= 1), "{len}: {:?}", plan.x);
            }
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
