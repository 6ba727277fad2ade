//! Training masks with unlabelled pixels: the page's 3-level annotations.
//!
//! A training mask holds 0 (membrane), 255 (cell) and, in an annotation,
//! 128 (unlabelled: not in the loss, nor in the accuracy). A binary 0/255 mask
//! is an annotation with every pixel labelled.

use crate::raster::{GrayU8, Raster};
use crate::{Error, Result};

/// Mask value of a membrane pixel (class 0).
pub const MEMBRANE: u8 = 0;
/// Mask value of an unlabelled pixel (no class).
pub const UNLABELLED: u8 = 128;
/// Mask value of a cell pixel (class 1).
pub const CELL: u8 = 255;
/// Class id of an unlabelled pixel in a class-id mask ([`classes`]): no class of any
/// network, so the loss gives it no weight.
pub const UNLABELLED_CLASS: u8 = u8::MAX;

/// A 0/128/255 mask as class ids: 0 = membrane, 1 = cell, [`UNLABELLED_CLASS`] for
/// 128; other values as the original did (at most 127 membrane, else cell).
pub fn classes(mask: &GrayU8) -> Raster<u8> {
    mask.map(|v| match v {
        UNLABELLED => UNLABELLED_CLASS,
        v => u8::from(v > 127),
    })
}

/// Whether the class-id mask has at least one labelled pixel.
pub fn has_labels(classes: &Raster<u8>) -> bool {
    classes.data().iter().any(|&c| c != UNLABELLED_CLASS)
}

/// Checks that every pixel of a training mask is 0, 128 or 255. Otherwise the error
/// names each other value (up to five), how many pixels have it and where the first is.
pub fn check(mask: &GrayU8) -> Result<()> {
    let mut counts = [0usize; 256];
    let mut first = [(0usize, 0usize); 256];
    let w = mask.width();
    for (i, &v) in mask.data().iter().enumerate() {
        if counts[v as usize] == 0 {
            first[v as usize] = (i % w.max(1), i / w.max(1));
        }
        counts[v as usize] += 1;
    }
    let others: Vec<usize> =
        (0..256).filter(|&v| counts[v] > 0 && ![MEMBRANE, UNLABELLED, CELL].contains(&(v as u8))).collect();
    if others.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = others
        .iter()
        .take(5)
        .map(|&v| {
            let pixels = if counts[v] == 1 { "pixel" } else { "pixels" };
            format!("{v} ({} {pixels}, the first at x {}, y {})", counts[v], first[v].0, first[v].1)
        })
        .collect();
    let more = if others.len() > 5 { format!(" and {} other values", others.len() - 5) } else { String::new() };
    Err(Error::invalid(format!(
        "not a training mask (0 = membrane, 128 = unlabelled, 255 = cell): it holds {}{more}",
        listed.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_the_three_levels() {
        let mask = Raster::new(4, 1, vec![0u8, 128, 255, 0]).unwrap();
        assert_eq!(classes(&mask).data(), &[0, UNLABELLED_CLASS, 1, 0]);
        assert!(has_labels(&classes(&mask)));
        assert!(!has_labels(&classes(&Raster::filled(3, 2, UNLABELLED))));
    }

    #[test]
    fn other_values_are_named_with_count_and_place() {
        assert!(check(&Raster::new(3, 1, vec![0u8, 128, 255]).unwrap()).is_ok());
        let mask = Raster::from_fn(4, 3, |x, y| if (x, y) == (2, 1) || (x, y) == (3, 2) { 77u8 } else { 0 });
        let msg = check(&mask).unwrap_err().to_string();
        assert!(msg.contains("77 (2 pixels, the first at x 2, y 1)"), "{msg}");
    }
}
