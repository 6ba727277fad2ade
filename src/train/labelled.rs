//! Where the labelled pixels of an annotation are (0 membrane and 255 cell; 128 is
//! unlabelled), and training windows drawn around them: how the fine-tuner and
//! `train` find a few scribbles in a large image instead of cropping blindly.

use rand::{Rng, RngExt};

use super::data::Slice;
use crate::annotation::UNLABELLED;
use crate::augment::crop_symmetric;
use crate::{GrayU8, Result};

/// The labelled pixels of one mask, counted row by row.
pub struct LabelledPixels {
    /// Number of labelled pixels in rows `0..=y`, for every row `y`.
    rows: Vec<u64>,
}

impl LabelledPixels {
    /// Counts the pixels of `mask` that are not [`UNLABELLED`].
    pub fn new(mask: &GrayU8) -> Self {
        let mut count = 0;
        let rows = (0..mask.height())
            .map(|y| {
                count += mask.row(y).iter().filter(|&&v| v != UNLABELLED).count() as u64;
                count
            })
            .collect();
        Self { rows }
    }

    /// How many pixels are labelled.
    pub fn count(&self) -> u64 {
        self.rows.last().copied().unwrap_or(0)
    }

    /// The position in `mask` (the mask these were counted in) of its labelled pixel
    /// number `k` (`k < count()`), in row order.
    pub fn position(&self, mask: &GrayU8, k: u64) -> (usize, usize) {
        let y = self.rows.partition_point(|&c| c <= k);
        let before = if y == 0 { 0 } else { self.rows[y - 1] };
        let x = mask
            .row(y)
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != UNLABELLED)
            .nth((k - before) as usize)
            .map_or(0, |(x, _)| x);
        (x, y)
    }

    /// A uniformly drawn labelled pixel of `mask` (which has at least one).
    pub fn draw<R: Rng + ?Sized>(&self, mask: &GrayU8, rng: &mut R) -> (usize, usize) {
        self.position(mask, rng.random_range(0..self.count()))
    }
}

/// The `size`² window of `slice` (image and mask alike) centred on pixel (`x`, `y`)
/// shifted by up to a quarter of the window each way at random, so that the pixel is
/// not always in the middle; mirrored where it leaves the image.
pub fn window_around<R: Rng + ?Sized>(
    slice: &Slice,
    (x, y): (usize, usize),
    size: usize,
    rng: &mut R,
) -> Result<Slice> {
    let reach = (size / 4) as u32;
    let mut shift = || rng.random_range(0..=2 * reach) as isize - reach as isize;
    let (dx, dy) = (shift(), shift());
    let (x0, y0) = (x as isize + dx - (size / 2) as isize, y as isize + dy - (size / 2) as isize);
    Ok(Slice {
        name: slice.name.clone(),
        image: crop_symmetric(&slice.image, x0, y0, size, size)?,
        mask: crop_symmetric(&slice.mask, x0, y0, size, size)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Raster;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn positions_walk_the_labelled_pixels_in_row_order() {
        let mask = Raster::from_fn(5, 4, |x, y| {
            if (x + 2 * y) % 3 == 0 {
                255
            } else if x == 4 {
                0
            } else {
                UNLABELLED
            }
        });
        let labelled = LabelledPixels::new(&mask);
        let expected: Vec<(usize, usize)> =
            (0..4).flat_map(|y| (0..5).map(move |x| (x, y))).filter(|&(x, y)| mask.get(x, y) != UNLABELLED).collect();
        assert_eq!(labelled.count(), expected.len() as u64);
        let found: Vec<_> = (0..labelled.count()).map(|k| labelled.position(&mask, k)).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn windows_hold_their_labelled_pixel() {
        // One labelled pixel near a corner of a 200² image: every 64² window drawn around
        // it holds it (shifted by at most 16 from the centre), mirrored past the border.
        let mask = Raster::from_fn(200, 200, |x, y| if (x, y) == (3, 190) { 0 } else { UNLABELLED });
        let image = Raster::from_fn(200, 200, |x, y| ((x + y) % 256) as u8);
        let slice = Slice { name: "s.png".into(), image, mask };
        let labelled = LabelledPixels::new(&slice.mask);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let at = labelled.draw(&slice.mask, &mut rng);
            assert_eq!(at, (3, 190));
            let window = window_around(&slice, at, 64, &mut rng).unwrap();
            assert_eq!(window.image.dims(), (64, 64));
            assert!(window.mask.data().contains(&0), "the labelled pixel is in the window");
        }
    }
}
