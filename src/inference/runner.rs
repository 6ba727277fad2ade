//! The tensor-free half of tiled inference: cuts normalised tile input windows out
//! of the image batch by batch, and blends the predicted tiles back.
//!
//! The network call sits between [`TileRunner::next_batch`] and
//! [`TileRunner::accept`], so the same runner drives a blocking native loop and an
//! `async` loop that awaits each read-back (WebGPU in the browser).
//!
//! Memory: the image itself, one batch of tile inputs, and one `f32` accumulator of
//! the image's size. Overlapping predictions are averaged with equal weights (what
//! the original does); since the tile grid is regular, each pixel's number of
//! predictions is `coverage_x[x] * coverage_y[y]` and needs no image of its own.

use core::ops::Range;

use super::tiling::{TileOptions, TilePlan};
use crate::augment::symmetric_index;
use crate::model::UNetConfig;
pub use crate::normalization::MinMax;
use crate::raster::SampleRows;
use crate::{Error, GrayF32, Raster, Result};

/// Network inputs for a run of consecutive tiles.
#[derive(Clone, Debug, PartialEq)]
pub struct TileBatch {
    /// Indices of the tiles, in plan order.
    pub tiles: Range<usize>,
    /// `[tiles, 1, height, width]` of [`input`](Self::input).
    pub shape: [usize; 4],
    /// Normalised pixels, tile after tile, row-major.
    pub input: Vec<f32>,
}

/// Drives the tiled prediction of one image: hands out input batches, takes back the
/// foreground probability of each, and assembles the full-size probability map.
pub struct TileRunner<'a> {
    image: &'a dyn SampleRows,
    plan: TilePlan,
    scale: MinMax,
    batch: usize,
    next: usize,
    done: usize,
    sum: Vec<f32>,
}

impl<'a> TileRunner<'a> {
    /// Plans the tiles of `image` (a raster of any sample type, or a decoded page's
    /// [`samples`](crate::imageio::GrayImage::samples)) for a network built from `config`.
    pub fn new(config: &UNetConfig, image: &'a dyn SampleRows, options: &TileOptions) -> Result<Self> {
        if options.batch == 0 {
            return Err(Error::invalid("the tile batch size must be at least 1"));
        }
        let (width, height) = image.dims();
        let plan = TilePlan::new(config, width, height, options)?;
        Ok(Self {
            image,
            plan,
            scale: config.normalization.range_of(image),
            batch: options.batch,
            next: 0,
            done: 0,
            sum: vec![0.0; width * height],
        })
    }

    /// The tile plan.
    pub fn plan(&self) -> &TilePlan {
        &self.plan
    }

    /// The normalisation applied to every input pixel (the network's
    /// [`Normalization`](crate::normalization::Normalization), measured over the whole image).
    pub fn scale(&self) -> MinMax {
        self.scale
    }

    /// Number of tiles in the plan.
    pub fn total(&self) -> usize {
        self.plan.tile_count()
    }

    /// Number of tiles whose prediction has been accepted.
    pub fn done(&self) -> usize {
        self.done
    }

    /// The inputs of the next tiles, or `None` once every tile has been handed out.
    pub fn next_batch(&mut self) -> Option<TileBatch> {
        let total = self.total();
        if self.next >= total {
            return None;
        }
        let tiles = self.next..(self.next + self.batch).min(total);
        self.next = tiles.end;
        let (w, h) = self.plan.input_size();
        let mut input = Vec::with_capacity(tiles.len() * w * h);
        for index in tiles.clone() {
            self.extend_with_tile_input(index, &mut input);
        }
        Some(TileBatch { shape: [tiles.len(), 1, h, w], tiles, input })
    }

    /// Appends the normalised input window of tile `index` to `out` (mirrored past the border).
    fn extend_with_tile_input(&self, index: usize, out: &mut Vec<f32>) {
        let tile = self.plan.tile(index);
        let (w, h) = self.plan.input_size();
        let (iw, ih) = self.image.dims();
        let columns: Vec<usize> = (0..w).map(|i| symmetric_index(tile.input_x + i as isize, iw)).collect();
        let scale = |v: f32| self.scale.apply(v);
        for j in 0..h {
            self.image.gather_row(symmetric_index(tile.input_y + j as isize, ih), &columns, &scale, out);
        }
    }

    /// Takes the foreground probabilities predicted for `tiles` (the network output,
    /// `[tiles, output height, output width]` row-major) and adds their kept pixels to the map.
    pub fn accept(&mut self, tiles: Range<usize>, probability: &[f32]) -> Result<()> {
        let (ow, oh) = self.plan.output_size;
        if tiles.end > self.next || tiles.start > tiles.end || probability.len() != tiles.len() * ow * oh {
            return Err(Error::invalid(format!(
                "tile prediction of {} values does not match tiles {tiles:?} of {ow}x{oh} (handed out: {})",
                probability.len(),
                self.next
            )));
        }
        let (iw, _) = self.image.dims();
        let shrink = self.plan.shrink as isize;
        for (k, index) in tiles.clone().enumerate() {
            let tile = self.plan.tile(index);
            let out = &probability[k * ow * oh..(k + 1) * ow * oh];
            // Output pixel `i` of the tile is image pixel `input + shrink + i`.
            let ox = (tile.keep_x.start as isize - tile.input_x - shrink) as usize;
            for y in tile.keep_y {
                let oy = (y as isize - tile.input_y - shrink) as usize;
                let src = &out[oy * ow + ox..oy * ow + ox + tile.keep_x.len()];
                let dst = &mut self.sum[y * iw + tile.keep_x.start..y * iw + tile.keep_x.end];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
        self.done += tiles.len();
        Ok(())
    }

    /// The blended probability map, once every tile has been accepted.
    pub fn finish(self) -> Result<GrayF32> {
        if self.done != self.total() {
            return Err(Error::invalid(format!(
                "tiled inference finished with {} of {} tiles predicted",
                self.done,
                self.total()
            )));
        }
        let (iw, ih) = self.image.dims();
        let cover_x = self.plan.x.coverage();
        let cover_y = self.plan.y.coverage();
        let mut sum = self.sum;
        for (y, row) in sum.chunks_mut(iw).enumerate() {
            for (v, &cx) in row.iter_mut().zip(&cover_x) {
                *v /= (cx * cover_y[y]) as f32;
            }
        }
        Raster::new(iw, ih, sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_rejects_wrong_sizes_and_unissued_tiles() {
        let image = GrayF32::filled(20, 20, 1.0);
        let mut runner = TileRunner::new(&UNetConfig::compact(), &image, &TileOptions::default()).unwrap();
        assert!(runner.accept(0..1, &[0.0; 4]).is_err());
        let batch = runner.next_batch().unwrap();
        assert!(runner.accept(batch.tiles.clone(), &[0.0; 3]).is_err());
        assert!(runner.finish().is_err());
    }
}
