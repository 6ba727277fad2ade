//! Overlap-tile inference for images of any size, natively and in the browser.
//!
//! Like the original project, the image is min-max normalised to `[0, 1]` (once,
//! over the whole image, so that tiles agree), cut into overlapping network inputs,
//! predicted, blended (overlaps averaged) and cropped back to its own size. Past the
//! image border, valid networks read the mirror image; same-padded ones use their
//! own zero padding by default, as in training (see [`tiling::Edges`]). The result
//! is the foreground (cell) probability: the softmax of the logits, class 1.
//!
//! - [`tiling`]: where the tiles go (pure geometry, no tensors);
//! - [`runner`]: tile inputs out, tile predictions in, blending (no tensors);
//! - [`network`]: the loaded [`Network`], on the CPU engine or on burn (the one place
//!   that chooses);
//! - here: the network call between the two, as a blocking loop over any
//!   [`TilePredictor`] ([`predict_probability`]: burn's [`UNet`] on any device, or the
//!   CPU engine [`CpuUNet`]) and as an `async` one for backends whose read-back
//!   must be awaited, such as WebGPU in the browser ([`predict_probability_async`]),
//!   which the caller may also stop between tiles ([`predict_probability_until`]).
//!
//! Memory stays bounded for huge images: only one batch of tiles exists as a tensor
//! at a time (see [`TileOptions`]), and no padded copy of the image is built.

pub mod network;
pub mod runner;
pub mod tiling;

use core::future::Future;
use core::ops::ControlFlow;

use burn::tensor::activation::softmax;
use burn::tensor::{Tensor, TensorData};

pub use network::{Compute, Network};
pub use runner::{MinMax, ProbabilityRows, TileBatch, TileRunner};
pub use tiling::{Edges, TileOptions, TilePlan};

use crate::model::{CpuUNet, UNet, UNetConfig};
use crate::raster::SampleRows;
use crate::{Error, GrayF32, Raster, Result};

/// A network that turns a batch of tile inputs into foreground probabilities, blocking.
pub trait TilePredictor {
    /// The architecture (it decides the tile sizes).
    fn config(&self) -> &UNetConfig;

    /// The class-1 softmax of every tile of `batch`, `[tiles, H', W']` row-major.
    fn predict_tiles(&self, batch: TileBatch) -> Result<Vec<f32>>;

    /// Called once an image's tiles are all predicted: frees what is kept between
    /// batches (nothing by default).
    fn finish_image(&self) {}
}

impl TilePredictor for UNet {
    fn config(&self) -> &UNetConfig {
        UNet::config(self)
    }

    fn predict_tiles(&self, batch: TileBatch) -> Result<Vec<f32>> {
        let data = foreground_probability(self, batch)?
            .try_into_data()
            .map_err(|e| Error::invalid(format!("reading the prediction back failed: {e:?}")))?;
        Ok(probabilities(&data)?.to_vec())
    }
}

impl TilePredictor for CpuUNet {
    fn config(&self) -> &UNetConfig {
        CpuUNet::config(self)
    }

    fn predict_tiles(&self, batch: TileBatch) -> Result<Vec<f32>> {
        check_classes(self.config())?;
        let [tiles, _, h, w] = batch.shape;
        let mut out = Vec::with_capacity(tiles * h * w);
        for input in batch.input.chunks_exact(h * w) {
            let logits = self.forward(input, h, w)?;
            out.extend(foreground_softmax(&logits, self.config().classes, h * w));
        }
        Ok(out)
    }

    fn finish_image(&self) {
        self.release_buffers();
    }
}

/// Class 1 of the softmax over `classes` planes of `pixels` logits each.
fn foreground_softmax(logits: &[f32], classes: usize, pixels: usize) -> impl Iterator<Item = f32> + '_ {
    (0..pixels).map(move |i| {
        let foreground = logits[pixels + i];
        let sum: f32 = (0..classes).map(|k| (logits[k * pixels + i] - foreground).exp()).sum();
        1.0 / sum
    })
}

/// Foreground probability map of `image` (any size, any sample type) predicted tile
/// by tile; `progress(done, total)` is called after each batch of tiles.
pub fn predict_probability<P: TilePredictor + ?Sized>(
    model: &P,
    image: &dyn SampleRows,
    options: &TileOptions,
    progress: impl FnMut(usize, usize),
) -> Result<GrayF32> {
    let (width, height) = image.dims();
    let mut values = Vec::with_capacity(width * height);
    predict_probability_rows(model, image, options, progress, |rows| {
        values.extend_from_slice(&rows.values);
        Ok(())
    })?;
    Raster::new(width, height, values)
}

/// [`predict_probability`] handing the map over as it is finished: `rows` gets
/// every row once, top to bottom, in bands (about a row of tiles each), so that
/// no whole `f32` map need exist; an error from `rows` stops the prediction and is
/// returned. `progress(done, total)` is called after each batch of tiles.
pub fn predict_probability_rows<P: TilePredictor + ?Sized>(
    model: &P,
    image: &dyn SampleRows,
    options: &TileOptions,
    mut progress: impl FnMut(usize, usize),
    mut rows: impl FnMut(ProbabilityRows) -> Result<()>,
) -> Result<()> {
    let mut runner = TileRunner::new(model.config(), image, options)?;
    let mut run = || {
        while let Some(batch) = runner.next_batch() {
            let tiles = batch.tiles.clone();
            runner.accept(tiles, &model.predict_tiles(batch)?)?;
            progress(runner.done(), runner.total());
            if let Some(finished) = runner.take_finished_rows() {
                rows(finished)?;
            }
        }
        runner.check_complete()
    };
    let outcome = run();
    // Also after an error: the engine's buffers are freed either way.
    model.finish_image();
    outcome
}

/// [`predict_probability`] for backends whose read-back is asynchronous (WebGPU in
/// the browser): the same tiles, blending and result, awaiting each batch's data of
/// a burn network (the CPU engine computes synchronously).
pub async fn predict_probability_async(
    network: &Network,
    image: &dyn SampleRows,
    options: &TileOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<GrayF32> {
    let report = |done, total| {
        progress(done, total);
        core::future::ready(ControlFlow::<core::convert::Infallible>::Continue(()))
    };
    match predict_probability_until(network, image, options, report).await? {
        ControlFlow::Continue(probability) => Ok(probability),
        ControlFlow::Break(never) => match never {},
    }
}

/// [`predict_probability_async`] that awaits `progress(done, total)` after every batch
/// of tiles, on every engine (so a browser's event loop runs between tiles, and the
/// page can ask to stop), and stops as soon as it resolves to
/// [`ControlFlow::Break`]: the result is then that `Break`, and no further tile is
/// predicted. `Continue(probability)` is the whole map, as [`predict_probability`]
/// gives it.
pub async fn predict_probability_until<B, F>(
    network: &Network,
    image: &dyn SampleRows,
    options: &TileOptions,
    mut progress: impl FnMut(usize, usize) -> F,
) -> Result<ControlFlow<B, GrayF32>>
where
    F: Future<Output = ControlFlow<B>>,
{
    let mut runner = TileRunner::new(network.config(), image, options)?;
    while let Some(batch) = runner.next_batch() {
        let tiles = batch.tiles.clone();
        match network {
            Network::Cpu(engine) => {
                let predicted = engine.predict_tiles(batch);
                runner.accept(tiles, &predicted?)?;
            }
            Network::Burn(model) => {
                let data = foreground_probability(model, batch)?
                    .into_data_async()
                    .await
                    .map_err(|e| Error::invalid(format!("reading the prediction back failed: {e:?}")))?;
                runner.accept(tiles, probabilities(&data)?)?;
            }
        }
        if let ControlFlow::Break(reason) = progress(runner.done(), runner.total()).await {
            network.finish_image();
            return Ok(ControlFlow::Break(reason));
        }
    }
    network.finish_image();
    Ok(ControlFlow::Continue(runner.finish()?))
}

/// The network's class-1 softmax `[tiles, 1, H', W']` for one batch of tile inputs.
fn foreground_probability(model: &UNet, batch: TileBatch) -> Result<Tensor<4>> {
    check_classes(model.config())?;
    let device = model.conv_out.weight.device();
    let input = Tensor::<4>::from_data(TensorData::new(batch.input, batch.shape), &device);
    Ok(softmax(model.forward(input), 1).narrow(1, 1, 1))
}

/// A foreground probability needs at least the classes 0 and 1.
fn check_classes(config: &UNetConfig) -> Result<()> {
    if config.classes < 2 {
        return Err(Error::invalid(format!(
            "a foreground probability needs a network with at least 2 classes, this one has {}",
            config.classes
        )));
    }
    Ok(())
}

/// The `f32` values of read-back tensor data.
fn probabilities(data: &TensorData) -> Result<&[f32]> {
    data.as_slice::<f32>()
        .map_err(|e| Error::invalid(format!("the network returned {:?} data instead of f32: {e:?}", data.dtype())))
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use burn::tensor::Device;

    use super::*;
    use crate::model::UNet;
    use crate::raster::GrayU8;

    /// Polls `future` to completion (its awaits are all ready at once here).
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut context = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
                return value;
            }
        }
    }

    /// A small same-padded network on the CPU engine, and an image of several tiles.
    fn network_and_image() -> (Network, GrayU8) {
        let config = UNetConfig { depth: 3, ..UNetConfig::compact().with_base_channels(2) };
        let network = Network::new(UNet::new(&config, &Device::flex()).unwrap(), Compute::Cpu).unwrap();
        assert!(matches!(network, Network::Cpu(_)));
        (network, GrayU8::from_fn(40, 600, |x, y| ((x * 7 + y * 13) % 251) as u8))
    }

    #[test]
    fn a_break_from_the_progress_callback_stops_before_the_next_tile() {
        let (network, image) = network_and_image();
        let options = TileOptions { max_tile: 128, batch: 1, ..TileOptions::default() };
        let mut calls = Vec::new();
        let outcome = block_on(predict_probability_until(&network, &image, &options, |done, total| {
            calls.push((done, total));
            core::future::ready(if done == 2 { ControlFlow::Break("cancelled") } else { ControlFlow::Continue(()) })
        }))
        .unwrap();
        assert_eq!(outcome, ControlFlow::Break("cancelled"));
        let total = calls[0].1;
        assert!(total > 3, "the image needs several tiles, not {total}");
        assert_eq!(calls, [(1, total), (2, total)], "no tile after the break");
    }

    #[test]
    fn rows_handed_over_in_bands_make_up_the_whole_map() {
        let (network, image) = network_and_image();
        let options = TileOptions { max_tile: 128, batch: 3, ..TileOptions::default() };
        let whole = predict_probability(&network, &image, &options, |_, _| {}).unwrap();
        let mut bands = Vec::new();
        predict_probability_rows(
            &network,
            &image,
            &options,
            |_, _| {},
            |rows| {
                bands.push(rows);
                Ok(())
            },
        )
        .unwrap();
        assert!(bands.len() > 2, "a tall image comes in several bands, not {}", bands.len());
        let mut next_row = 0;
        for band in &bands {
            assert_eq!((band.first_row, band.width), (next_row, 40));
            next_row += band.values.len() / 40;
        }
        assert_eq!(next_row, 600);
        assert_eq!(bands.into_iter().flat_map(|band| band.values).collect::<Vec<_>>(), whole.data());
        let stopped = predict_probability_rows(&network, &image, &options, |_, _| {}, |_| Err(Error::invalid("full")));
        assert!(stopped.is_err());
    }

    #[test]
    fn going_on_to_the_end_gives_the_blocking_result() {
        let (network, image) = network_and_image();
        let options = TileOptions { max_tile: 128, batch: 1, ..TileOptions::default() };
        let blocking = predict_probability(&network, &image, &options, |_, _| {}).unwrap();
        let awaited = block_on(predict_probability_until(&network, &image, &options, |_, _| {
            core::future::ready(ControlFlow::<()>::Continue(()))
        }))
        .unwrap();
        assert_eq!(awaited, ControlFlow::Continue(blocking));
    }
}
