//! Training data: image/mask pairs read from a folder pair or from ISBI-style
//! multi-page TIFFs, checked before any training starts, and split into training
//! and validation slices.

use std::path::Path;

use crate::annotation;
#[cfg(not(target_family = "wasm"))]
use crate::imageio;
use crate::raster::{GrayU8, Raster};
use crate::{Error, Result};

/// One labelled slice: the gray image and its mask.
#[derive(Clone, Debug)]
pub struct Slice {
    /// Where it came from (file name, or `file#page`), for messages.
    pub name: String,
    /// The 8-bit gray image.
    pub image: GrayU8,
    /// The mask, same size: 0 = membrane, 255 = cell, 128 = unlabelled (an annotation).
    pub mask: GrayU8,
}

impl Slice {
    /// The mask as class ids (0 = membrane, 1 = cell, [`annotation::UNLABELLED_CLASS`]).
    pub fn classes(&self) -> Raster<u8> {
        annotation::classes(&self.mask)
    }
}

/// Names of the ISBI 2012 challenge's multi-page TIFFs.
#[cfg(not(target_family = "wasm"))]
const TIFF_VOLUME: &str = "train-volume.tif";
#[cfg(not(target_family = "wasm"))]
const TIFF_LABELS: &str = "train-labels.tif";

/// Reads every labelled slice under `dir`: either `images/` + `masks/` (paired by file
/// stem, sorted by name) or `train-volume.tif` + `train-labels.tif` (paired by page).
/// Masks may be 3-level annotations ([`annotation`]). Fails, naming the file, on a
/// missing mask, a size mismatch, a mask value other than 0, 128 and 255, or no data.
#[cfg(not(target_family = "wasm"))]
pub fn load_slices(dir: &Path) -> Result<Vec<Slice>> {
    let volume = dir.join(TIFF_VOLUME);
    if volume.is_file() {
        return load_tiff_pair(&volume, &dir.join(TIFF_LABELS));
    }
    let images_dir = dir.join("images");
    let masks_dir = dir.join("masks");
    if !images_dir.is_dir() || !masks_dir.is_dir() {
        return Err(Error::file(
            dir,
            format!("expected the folders images/ and masks/ (or {TIFF_VOLUME} and {TIFF_LABELS})"),
        ));
    }
    imageio::pair_images_with_masks(&images_dir, &masks_dir)?
        .into_iter()
        .map(|p| {
            pair(
                p.image.display().to_string(),
                imageio::read_gray8(&p.image)?,
                imageio::read_annotation(&p.mask)?,
                &p.mask,
            )
        })
        .collect()
}

/// Pairs an image with its 0/128/255 mask after checking that the sizes agree
/// (errors name `mask_name`).
pub fn pair(name: String, image: GrayU8, mask: GrayU8, mask_name: impl AsRef<Path>) -> Result<Slice> {
    if image.dims() != mask.dims() {
        return Err(Error::file(
            mask_name,
            format!(
                "is {}x{} but its image {name} is {}x{}",
                mask.width(),
                mask.height(),
                image.width(),
                image.height()
            ),
        ));
    }
    Ok(Slice { name, image, mask })
}

/// Reads an ISBI-style pair of multi-page TIFFs, one slice per page.
#[cfg(not(target_family = "wasm"))]
fn load_tiff_pair(volume: &Path, labels: &Path) -> Result<Vec<Slice>> {
    if !labels.is_file() {
        return Err(Error::file(volume, format!("has no labels file {} beside it", labels.display())));
    }
    let images = imageio::read_pages(volume)?;
    let masks = imageio::read_pages(labels)?;
    if images.len() != masks.len() {
        return Err(Error::file(
            labels,
            format!("has {} pages but {} has {}", masks.len(), volume.display(), images.len()),
        ));
    }
    if images.is_empty() {
        return Err(Error::file(volume, "holds no pages"));
    }
    images
        .iter()
        .zip(&masks)
        .enumerate()
        .map(|(page, (image, mask))| {
            let mask = mask.to_u8();
            let mask_name = format!("{}#{page}", labels.display());
            annotation::check(&mask).map_err(|e| Error::file(&mask_name, e))?;
            pair(format!("{}#{page}", volume.display()), image.to_u8(), mask, mask_name)
        })
        .collect()
}

/// Parses a block of slice positions `A..B` (0-based, inclusive, as in `24..26`).
pub fn parse_slice_range(text: &str) -> Result<(usize, usize)> {
    let bad = || Error::invalid(format!("expected slices A..B with A <= B (e.g. 24..26), got '{text}'"));
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b): (usize, usize) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// Which slices are held out for validation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Holdout {
    /// The last `n` slices (a contiguous block at the end of the stack).
    Last(usize),
    /// Slices `first..=last` (0-based positions in name order).
    Range(usize, usize),
}

impl Holdout {
    /// Parses `A..B` (inclusive, as in `24..26`).
    pub fn parse_range(text: &str) -> Result<Self> {
        parse_slice_range(text).map(|(a, b)| Holdout::Range(a, b))
    }

    /// Splits `slices` into (training, validation).
    pub fn split(&self, slices: Vec<Slice>) -> Result<(Vec<Slice>, Vec<Slice>)> {
        self.split_excluding(slices, None)
    }

    /// Splits `slices` into (training, validation) after leaving out the test block
    /// `test` (positions `first..=last`, inclusive, in `slices`), which ends up in
    /// neither. A [`Range`](Holdout::Range) counts positions in the whole stack, so it
    /// may lie before, between or after test slices but not overlap them;
    /// [`Last`](Holdout::Last) takes the last slices that are not test slices. Fails
    /// when a block lies outside the stack, the two overlap, or no slice is left
    /// to train on.
    pub fn split_excluding(
        &self,
        slices: Vec<Slice>,
        test: Option<(usize, usize)>,
    ) -> Result<(Vec<Slice>, Vec<Slice>)> {
        let n = slices.len();
        let is_test = |i: usize| test.is_some_and(|(a, b)| (a..=b).contains(&i));
        if let Some((a, b)) = test {
            if a > b || b >= n || b - a + 1 == n {
                return Err(Error::invalid(format!(
                    "cannot leave out test slices {a}..{b} of {n} slices and keep some for training"
                )));
            }
        }
        let kept = (0..n).filter(|&i| !is_test(i)).count();
        let (first, last) = match *self {
            Holdout::Last(0) => (1, 0),
            Holdout::Last(k) if k < kept => {
                let positions: Vec<usize> = (0..n).filter(|&i| !is_test(i)).collect();
                (positions[kept - k], positions[kept - 1])
            }
            Holdout::Range(a, b) if a <= b && b < n && !(a..=b).any(is_test) && b - a + 1 < kept => (a, b),
            _ => {
                let test = test.map(|(a, b)| format!(" besides the test slices {a}..{b}")).unwrap_or_default();
                return Err(Error::invalid(format!(
                    "cannot hold out {self:?} of {n} slices{test} and keep some for training"
                )));
            }
        };
        let (mut train, mut val) = (Vec::new(), Vec::new());
        for (i, s) in slices.into_iter().enumerate() {
            if is_test(i) {
                continue;
            }
            if (first..=last).contains(&i) {
                val.push(s);
            } else {
                train.push(s);
            }
        }
        Ok((train, val))
    }
}
