//! Step 5: distance from every non-zero pixel to the nearest zero pixel.
//!
//! Two transforms are offered:
//! - [`opencv_chamfer5`] reproduces `cv2.distanceTransform(src, cv2.DIST_L2, 5)`
//!   as opencv-python computes it: a two-pass 5x5 chamfer with the weights
//!   1 (edge neighbours), 1.4 (diagonal) and 2.1969 (knight's moves), summed in
//!   `f32`. (OpenCV's own C++ fallback sums in 16.16 fixed point instead; the
//!   Intel IPP routine that the opencv-python wheels call sums `f32`.) The
//!   result is bit-identical to OpenCV's wherever distances stay below 32, which
//!   covers the original's use (membranes are a few pixels thick). Above that,
//!   IPP's forward pass resolves a few exact rounding ties of `left + 1`
//!   upward where IEEE round-to-nearest-even goes downward; the differences
//!   are one `f32` step (under 1e-5 at distance 100).
//! - [`exact_euclidean`] is the exact Euclidean distance transform (the row
//!   pass of Felzenszwalb and Huttenlocher, 2012), computed in `f64` and rounded
//!   to `f32`; it equals OpenCV's `distanceTransform(DIST_L2, DIST_MASK_PRECISE)`
//!   bit for bit on the test fixtures.
//!
//! Both treat the outside of the image as infinitely far (the image border is
//! not a zero pixel) and both give [`NO_ZERO_DISTANCE`] everywhere when the image
//! has no zero pixel at all, which is what OpenCV returns then.

use crate::raster::{GrayF32, GrayU8};

/// The distance reported when the image has no zero pixel: `f32::MAX`, as OpenCV returns.
pub const NO_ZERO_DISTANCE: f32 = f32::MAX;

/// Chamfer weight of a horizontal or vertical step.
const EDGE: f32 = 1.0;
/// Chamfer weight of a diagonal step.
const DIAGONAL: f32 = 1.4;
/// Chamfer weight of a knight's-move step (2 along one axis, 1 along the other).
const KNIGHT: f32 = 2.1969;
/// Cells of padding around the image so the 5x5 mask never leaves the buffer.
const PAD: usize = 2;

/// OpenCV's `distanceTransform(DIST_L2, 5)`: the 5x5 chamfer distance from each
/// non-zero pixel to the nearest zero pixel; zero pixels get 0.
pub fn opencv_chamfer5(image: &GrayU8) -> GrayF32 {
    let (width, height) = image.dims();
    let stride = width + 2 * PAD;
    let mut buf = vec![NO_ZERO_DISTANCE; stride * (height + 2 * PAD)];
    // Per row, the best candidate through the two rows already passed; it does
    // not depend on the row itself, so it is computed for the whole row first.
    let mut across = vec![0.0f32; width];

    // Forward pass: top-left to bottom-right over the upper half of the mask.
    for y in 0..height {
        let (passed, rest) = buf.split_at_mut((y + PAD) * stride);
        let up2 = &passed[y * stride..(y + 1) * stride];
        let up1 = &passed[(y + 1) * stride..(y + 2) * stride];
        combine_row(
            &mut across,
            [
                &up2[PAD - 1..],
                &up2[PAD + 1..],
                &up1[PAD - 2..],
                &up1[PAD - 1..],
                &up1[PAD..],
                &up1[PAD + 1..],
                &up1[PAD + 2..],
            ],
        );
        let row = &mut rest[PAD..PAD + width];
        let mut left = NO_ZERO_DISTANCE;
        for ((d, &v), &a) in row.iter_mut().zip(image.row(y)).zip(&across) {
            *d = if v == 0 { 0.0 } else { min(a, left + EDGE) };
            left = *d;
        }
    }

    // Backward pass: bottom-right to top-left over the lower half of the mask.
    for y in (0..height).rev() {
        let (upto, below) = buf.split_at_mut((y + PAD + 1) * stride);
        let down1 = &below[..stride];
        let down2 = &below[stride..2 * stride];
        combine_row(
            &mut across,
            [
                &down2[PAD + 1..],
                &down2[PAD - 1..],
                &down1[PAD + 2..],
                &down1[PAD + 1..],
                &down1[PAD..],
                &down1[PAD - 1..],
                &down1[PAD - 2..],
            ],
        );
        let row = &mut upto[(y + PAD) * stride + PAD..(y + PAD) * stride + PAD + width];
        let mut right = NO_ZERO_DISTANCE;
        for (d, &a) in row.iter_mut().zip(&across).rev() {
            // Pixels at distance 0 or 1 cannot get closer (OpenCV skips them too).
            if *d > EDGE {
                *d = min(*d, min(a, right + EDGE));
            }
            right = *d;
        }
    }

    // Drop the padding in place: each row moves to an earlier position.
    for y in 0..height {
        let from = (y + PAD) * stride + PAD;
        buf.copy_within(from..from + width, y * width);
    }
    buf.truncate(width * height);
    GrayF32::new(width, height, buf).expect("output has the input's size")
}

/// `out[x]` = the smallest of `row[x] + weight` over the seven neighbours of the
/// other two rows, given as slices starting at each neighbour of pixel 0, in
/// the order knight, knight, knight, diagonal, edge, diagonal, knight.
fn combine_row(out: &mut [f32], neighbours: [&[f32]; 7]) {
    let n = out.len();
    let [k1, k2, k3, d1, e, d2, k4] = neighbours.map(|s| &s[..n]);
    for x in 0..n {
        out[x] = min(
            min(min(k1[x] + KNIGHT, k2[x] + KNIGHT), min(k3[x] + KNIGHT, d1[x] + DIAGONAL)),
            min(min(e[x] + EDGE, d2[x] + DIAGONAL), k4[x] + KNIGHT),
        );
    }
}

/// The smaller of two distances (never NaN), without `f32::min`'s NaN handling.
fn min(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// Exact Euclidean distance from each non-zero pixel to the nearest zero pixel.
///
/// First the vertical distance to the nearest zero pixel of the same column
/// (two sweeps over the rows), then per row the lower envelope of parabolas of
/// Felzenszwalb & Huttenlocher over those squared distances.
pub fn exact_euclidean(image: &GrayU8) -> GrayF32 {
    let (width, height) = image.dims();
    if !image.data().contains(&0) {
        return GrayF32::filled(width, height, NO_ZERO_DISTANCE);
    }
    // Stands for "no zero pixel in this column": larger than any squared
    // distance inside an image, yet finite so parabola crossings stay defined.
    const FAR: f64 = 1e20;
    let mut squared = vec![FAR; width * height];

    // Vertical distances: downwards, then upwards, kept as f64 (exact integers).
    for y in 0..height {
        let (above, rest) = squared.split_at_mut(y * width);
        let row = &mut rest[..width];
        let previous = (y > 0).then(|| &above[(y - 1) * width..]);
        for (x, (d, &v)) in row.iter_mut().zip(image.row(y)).enumerate() {
            *d = match (v, previous) {
                (0, _) => 0.0,
                (_, Some(p)) if p[x] < FAR => p[x] + 1.0,
                _ => FAR,
            };
        }
    }
    for y in (0..height.saturating_sub(1)).rev() {
        let (upto, below) = squared.split_at_mut((y + 1) * width);
        for (d, &b) in upto[y * width..].iter_mut().zip(&below[..width]) {
            if b + 1.0 < *d {
                *d = b + 1.0;
            }
        }
    }
    for d in squared.iter_mut() {
        if *d < FAR {
            *d *= *d;
        }
    }

    let mut envelope = Envelope::new(width);
    for row in squared.chunks_exact_mut(width) {
        envelope.transform(row);
    }
    let out = squared.iter().map(|&d| d.sqrt() as f32).collect();
    GrayF32::new(width, height, out).expect("output has the input's size")
}

/// Work space of the one-dimensional squared distance transform.
struct Envelope {
    /// Positions of the parabolas forming the lower envelope.
    vertices: Vec<usize>,
    /// Boundaries between consecutive envelope parabolas.
    bounds: Vec<f64>,
    /// Copy of the input samples.
    samples: Vec<f64>,
}

impl Envelope {
    fn new(len: usize) -> Self {
        Self { vertices: vec![0; len], bounds: vec![0.0; len + 1], samples: vec![0.0; len] }
    }

    /// Replaces `f[q]` by `min_p (q - p)^2 + f[p]`.
    fn transform(&mut self, f: &mut [f64]) {
        let n = f.len();
        if n == 0 {
            return;
        }
        let samples = &mut self.samples[..n];
        samples.copy_from_slice(f);
        let (v, z) = (&mut self.vertices, &mut self.bounds);
        let crossing = |q: usize, p: usize| {
            let (qf, pf) = (q as f64, p as f64);
            ((samples[q] + qf * qf) - (samples[p] + pf * pf)) / (2.0 * (qf - pf))
        };
        let mut k = 0usize;
        v[0] = 0;
        z[0] = f64::NEG_INFINITY;
        z[1] = f64::INFINITY;
        for q in 1..n {
            let mut s = crossing(q, v[k]);
            while s <= z[k] {
                k -= 1;
                s = crossing(q, v[k]);
            }
            k += 1;
            v[k] = q;
            z[k] = s;
            z[k + 1] = f64::INFINITY;
        }
        k = 0;
        for (q, out) in f.iter_mut().enumerate() {
            while z[k + 1] < q as f64 {
                k += 1;
            }
            let offset = q as f64 - v[k] as f64;
            *out = offset * offset + samples[v[k]];
        }
    }
}
