//! The tensor-free half of tiled inference: cuts normalised tile input windows out
//! of the image batch by batch, and blends the predicted tiles back.
//!
//! The network call sits between [`TileRunner::next_batch`] and
//! [`TileRunner::accept`], so the same runner drives a blocking native loop and an
//! `async` loop that awaits each read-back (WebGPU in the browser).
//!
//! Memory: the image itself, one batch of tile inputs, and an `f32` accumulator of
//! the rows that tiles still add to: tiles go row by row, so once a row of tiles is
//! in, the rows above the next one's are finished and can be handed over
//! ([`TileRunner::take_finished_rows`]) and forgotten; a caller that takes them as
//! they come never holds more than about two rows of tiles of the image's width.
//! Overlapping predictions are averaged with equal weights (what the original does);
//! since the tile grid is regular, each pixel's number of predictions is
//! `coverage_x[x] * coverage_y[y]` and needs no image of its own.

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

/// Finished rows of a probability map: every tile that predicts them is blended in.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbabilityRows {
    /// The image row of the first one.
    pub first_row: usize,
    /// The image's width, the length of each row.
    pub width: usize,
    /// The probabilities, row after row.
    pub values: Vec<f32>,
}

impl ProbabilityRows {
    /// The rows, each `width` values long.
    pub fn rows(&self) -> core::slice::ChunksExact<'_, f32> {
        self.values.chunks_exact(self.width.max(1))
    }
}

/// Drives the tiled prediction of one image: hands out input batches, takes back the
/// foreground probability of each, and blends them into finished rows of the
/// probability map (or the whole map at the end).
pub struct TileRunner<'a> {
    image: &'a dyn SampleRows,
    plan: TilePlan,
    scale: MinMax,
    batch: usize,
    next: usize,
    done: usize,
    /// Sums of the predictions of the rows from `band_start` on, row-major.
    band: Vec<f32>,
    /// The first row not yet handed over.
    band_start: usize,
    cover_x: Vec<u32>,
    cover_y: Vec<u32>,
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
        let (cover_x, cover_y) = (plan.x.coverage(), plan.y.coverage());
        Ok(Self {
            image,
            plan,
            scale: config.normalization.range_of(image),
            batch: options.batch,
            next: 0,
            done: 0,
            band: Vec::new(),
            band_start: 0,
            cover_x,
            cover_y,
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
    /// `[tiles, output height, output width]` row-major), the next tiles in plan
    /// order, and adds their kept pixels to the map.
    pub fn accept(&mut self, tiles: Range<usize>, probability: &[f32]) -> Result<()> {
        let (ow, oh) = self.plan.output_size;
        if tiles.start != self.done
            || tiles.end > self.next
            || tiles.start > tiles.end
            || probability.len() != tiles.len() * ow * oh
        {
            return Err(Error::invalid(format!(
                "tile prediction of {} values does not match tiles {tiles:?} of {ow}x{oh} (accepted: {}, handed out: {})",
                probability.len(),
                self.done,
                self.next
            )));
        }
        let (iw, _) = self.image.dims();
        let shrink = self.plan.shrink as isize;
        for (k, index) in tiles.clone().enumerate() {
            let tile = self.plan.tile(index);
            self.extend_band_to(tile.keep_y.end);
            let out = &probability[k * ow * oh..(k + 1) * ow * oh];
            // Output pixel `i` of the tile is image pixel `input + shrink + i`.
            let ox = (tile.keep_x.start as isize - tile.input_x - shrink) as usize;
            for y in tile.keep_y {
                let oy = (y as isize - tile.input_y - shrink) as usize;
                let src = &out[oy * ow + ox..oy * ow + ox + tile.keep_x.len()];
                let row = (y - self.band_start) * iw;
                let dst = &mut self.band[row + tile.keep_x.start..row + tile.keep_x.end];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
        self.done += tiles.len();
        Ok(())
    }

    /// Grows the band of sums down to row `end` (exclusive).
    fn extend_band_to(&mut self, end: usize) {
        let (iw, _) = self.image.dims();
        let rows = end.saturating_sub(self.band_start);
        if self.band.len() < rows * iw {
            self.band.resize(rows * iw, 0.0);
        }
    }

    /// The first row that a tile not yet accepted still predicts (the image's height
    /// once all are in): every row above it is finished.
    fn finished_rows_end(&self) -> usize {
        let columns = self.plan.x.keeps.len().max(1);
        let first_open_row_of_tiles = self.done / columns;
        let (_, height) = self.image.dims();
        self.plan.y.keeps[first_open_row_of_tiles.min(self.plan.y.keeps.len())..]
            .iter()
            .map(|keep| keep.start)
            .min()
            .unwrap_or(height)
    }

    /// The rows finished since the last call (blended: each pixel the mean of the
    /// tiles that predict it), or `None` when no new row is finished. Once taken, rows
    /// are forgotten: [`TileRunner::finish`] then refuses.
    pub fn take_finished_rows(&mut self) -> Option<ProbabilityRows> {
        let end = self.finished_rows_end();
        if end <= self.band_start {
            return None;
        }
        self.extend_band_to(end);
        let (iw, _) = self.image.dims();
        // The band keeps its allocation for the rows still to come.
        let mut values: Vec<f32> = self.band.drain(..(end - self.band_start) * iw).collect();
        for (row, y) in values.chunks_mut(iw.max(1)).zip(self.band_start..end) {
            for (v, &cx) in row.iter_mut().zip(&self.cover_x) {
                *v /= (cx * self.cover_y[y]) as f32;
            }
        }
        let first_row = self.band_start;
        self.band_start = end;
        Some(ProbabilityRows { first_row, width: iw, values })
    }

    /// Fails unless every tile has been accepted.
    pub fn check_complete(&self) -> Result<()> {
        if self.done != self.total() {
            return Err(Error::invalid(format!(
                "tiled inference finished with {} of {} tiles predicted",
                self.done,
                self.total()
            )));
        }
        Ok(())
    }

    /// The whole blended probability map, once every tile has been accepted and when
    /// no row has been taken.
    pub fn finish(mut self) -> Result<GrayF32> {
        self.check_complete()?;
        if self.band_start > 0 {
            return Err(Error::invalid("the rows of the probability map were already handed over"));
        }
        let (iw, ih) = self.image.dims();
        let values = self.take_finished_rows().map_or_else(Vec::new, |rows| rows.values);
        Raster::new(iw, ih, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::Edges;

    #[test]
    fn accept_rejects_wrong_sizes_and_unissued_tiles() {
        let image = GrayF32::filled(20, 20, 1.0);
        let mut runner = TileRunner::new(&UNetConfig::compact(), &image, &TileOptions::default()).unwrap();
        assert!(runner.accept(0..1, &[0.0; 4]).is_err());
        let batch = runner.next_batch().unwrap();
        assert!(runner.accept(batch.tiles.clone(), &[0.0; 3]).is_err());
        assert!(runner.finish().is_err());
    }

    /// A made-up prediction for a batch: a value for each tile and output pixel.
    fn made_up(batch: &TileBatch, output: (usize, usize)) -> Vec<f32> {
        let (ow, oh) = output;
        batch
            .tiles
            .clone()
            .flat_map(|t| (0..ow * oh).map(move |i| ((t * 7919 + i * 31) % 1000) as f32 / 1000.0))
            .collect()
    }

    #[test]
    fn rows_taken_as_they_finish_are_the_map_blended_at_the_end() {
        let same = UNetConfig { depth: 3, ..UNetConfig::compact() };
        let cases = [
            (same.clone(), TileOptions { max_tile: 64, same_context: Some(8), ..TileOptions::default() }, (150, 230)),
            (same.clone(), TileOptions { max_tile: 64, edges: Edges::Mirror, ..TileOptions::default() }, (90, 170)),
            (same, TileOptions { max_tile: 96, ..TileOptions::default() }, (200, 97)),
            (UNetConfig::seed(), TileOptions::default(), (300, 700)),
        ];
        for (config, options, (w, h)) in cases {
            let image = GrayF32::from_fn(w, h, |x, y| (x * y % 13) as f32);
            for batch in [1, 3, 17] {
                let options = TileOptions { batch, ..options };
                let (mut whole, mut streamed) = (
                    TileRunner::new(&config, &image, &options).unwrap(),
                    TileRunner::new(&config, &image, &options).unwrap(),
                );
                let output = whole.plan().output_size;
                assert!(whole.plan().y.keeps.len() > 1, "{w}x{h} needs several rows of tiles");
                let mut rows = Vec::new();
                while let (Some(a), Some(b)) = (whole.next_batch(), streamed.next_batch()) {
                    whole.accept(a.tiles.clone(), &made_up(&a, output)).unwrap();
                    streamed.accept(b.tiles.clone(), &made_up(&b, output)).unwrap();
                    if let Some(finished) = streamed.take_finished_rows() {
                        assert_eq!(finished.first_row * w, rows.len());
                        rows.extend(finished.values);
                    }
                }
                streamed.check_complete().unwrap();
                assert!(streamed.take_finished_rows().is_none());
                assert_eq!(rows, whole.finish().unwrap().into_data(), "{w}x{h}, batch {batch}");
            }
        }
    }
}
