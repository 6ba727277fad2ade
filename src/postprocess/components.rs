//! Step 8 (first half): connected components of a binary image, numbered as
//! OpenCV's `connectedComponents` numbers them.
//!
//! Non-zero pixels are foreground; background pixels get label 0 and the
//! components get 1..=count. The numbering follows OpenCV's default
//! algorithms: with 8-connectivity they work on 2x2 pixel blocks, so the
//! components are numbered in the raster order of the first 2x2 block
//! (rows `2k, 2k+1`, columns `2m, 2m+1`) that contains one of their pixels;
//! with 4-connectivity they are numbered in the raster order of their first
//! pixel. (The two orders differ, e.g. a component whose first pixel is
//! `(x 10, y 1)` comes before one starting at `(x 20, y 0)` under 8-connectivity.)

use crate::error::{Error, Result};
use crate::raster::{GrayU8, Labels};

/// Which neighbours are connected to a pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connectivity {
    /// Left, right, up, down.
    Four,
    /// The four edge neighbours and the four diagonal ones.
    Eight,
}

/// Labelled components of a binary image.
#[derive(Clone, Debug, PartialEq)]
pub struct Components {
    /// 0 for background pixels, `1..=count` for the components.
    pub labels: Labels,
    /// Number of components (background not counted).
    pub count: usize,
}

/// Labels the connected components of the non-zero pixels of `mask`
/// (see the module documentation for the numbering).
pub fn connected_components(mask: &GrayU8, connectivity: Connectivity) -> Components {
    let mut labels = Labels::filled(mask.width(), mask.height(), 0);
    let count = label_components_into(mask, connectivity, &mut labels, 1).expect("labels sized like the mask");
    Components { labels, count }
}

/// Writes the components of the non-zero pixels of `mask` into `labels`,
/// numbered `first`, `first + 1`, ... in the order of [`connected_components`],
/// and returns how many there are. `labels` must be 0 on the non-zero pixels
/// of `mask` (and of `mask`'s size); its other values are left as they are,
/// so a caller can fill in the background beforehand. Fails when the sizes
/// differ or `first` is not positive.
pub fn label_components_into(
    mask: &GrayU8,
    connectivity: Connectivity,
    labels: &mut Labels,
    first: i32,
) -> Result<usize> {
    if mask.dims() != labels.dims() || first <= 0 {
        return Err(Error::invalid(format!(
            "cannot label the components of a {}x{} mask into {}x{} labels from {first}",
            mask.width(),
            mask.height(),
            labels.width(),
            labels.height()
        )));
    }
    let (width, height) = mask.dims();
    let src = mask.data();
    let mut stack = Vec::new();
    let mut count = 0usize;
    // Starts a new component at foreground pixel `i` unless it is already labelled.
    let mut visit = |i: usize, labels: &mut Labels| {
        if labels.data()[i] == 0 {
            flood(mask, labels, connectivity, i, first + count as i32, &mut stack);
            count += 1;
        }
    };
    match connectivity {
        Connectivity::Four => {
            for i in 0..src.len() {
                if src[i] != 0 {
                    visit(i, labels);
                }
            }
        }
        Connectivity::Eight => {
            for y in (0..height).step_by(2) {
                for x in (0..width).step_by(2) {
                    for r in y..(y + 2).min(height) {
                        for c in x..(x + 2).min(width) {
                            let i = r * width + c;
                            if src[i] != 0 {
                                visit(i, labels);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(count)
}

/// Gives `label` to the component of `mask` that contains pixel index `start`.
fn flood(
    mask: &GrayU8,
    labels: &mut Labels,
    connectivity: Connectivity,
    start: usize,
    label: i32,
    stack: &mut Vec<usize>,
) {
    let (width, height) = mask.dims();
    let src = mask.data();
    let dst = labels.data_mut();
    dst[start] = label;
    stack.push(start);
    while let Some(i) = stack.pop() {
        let (x, y) = (i % width, i / width);
        let (left, right, up, down) = (x > 0, x + 1 < width, y > 0, y + 1 < height);
        let mut visit = |j: usize| {
            if src[j] != 0 && dst[j] == 0 {
                dst[j] = label;
                stack.push(j);
            }
        };
        if left {
            visit(i - 1);
        }
        if right {
            visit(i + 1);
        }
        if up {
            visit(i - width);
        }
        if down {
            visit(i + width);
        }
        if connectivity == Connectivity::Eight {
            if up && left {
                visit(i - width - 1);
            }
            if up && right {
                visit(i - width + 1);
            }
            if down && left {
                visit(i + width - 1);
            }
            if down && right {
                visit(i + width + 1);
            }
        }
    }
}
