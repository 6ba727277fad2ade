//! The U-Net's layers, forward and backward, on batches of zero-bordered NHWC
//! activations: every convolution a few `gemm` matrix products over shifted rows, as in
//! [`super::cpu_unet`], here with the gradients that training needs. [`super::gemm_ops`]
//! registers these kernels with burn's autodiff.
//!
//! A batch is stored as `[images, height + 2, width + 2, channels]` with a one-pixel zero
//! border around each image (see [`Bordered`]). A 3x3 convolution treats the whole batch
//! as one tall image: the stored rows of image `i + 1` follow those of image `i`, so output
//! rows that fall on the two border rows between images are junk and are zeroed again, as
//! are the junk border columns. With `P = width + 2` and the output pixel `m + P + 1`
//! (stored index) for every `m`:
//!
//! - forward: for each kernel row `ky`, the rows `m + ky P` of the input read with a row
//!   stride of `C` values are the `3C` inputs under output pixel `m + P + 1`; one product
//!   with the `3C x O` weights of that kernel row;
//! - weight gradient: the same shifted input matrix, transposed, times the output gradient
//!   (`3C x pixels` times `pixels x O`); the output gradient is zero on every border pixel,
//!   so the junk positions add nothing;
//! - input gradient: the forward convolution of the output gradient with the kernel
//!   rotated by 180 degrees and its input and output channels swapped.
//!
//! The 2x2 stride-2 transposed convolution and the 1x1 output convolution are products per
//! image row; the max-pool routes each gradient to the first maximum of its window; the
//! batch norm (training mode, fused with its ReLU) takes two passes each way.
//! Gradients of activations come back with zero borders, and the kernels read only the
//! inner pixels of the gradients they are given, except where a border value is provably
//! zero (the output of a ReLU is zero there, so is its gradient after masking).

use core::ops::Range;
use std::borrow::Cow;

use super::cpu_unet::{for_row_chunks, SendPtr};
use super::matmul::{matmul, Strided};

/// The shape of a batch of activations stored with a one-pixel zero border around each
/// image: `[images, height + 2, width + 2, channels]`, row-major, channels innermost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bordered {
    /// Images in the batch.
    pub images: usize,
    /// Inner height of each image, in pixels.
    pub height: usize,
    /// Inner width of each image, in pixels.
    pub width: usize,
    /// Values per pixel.
    pub channels: usize,
}

impl Bordered {
    /// The shape of a stored batch with dims `[images, height + 2, width + 2, channels]`.
    ///
    /// # Panics
    /// When a stored side is shorter than 3 (no inner pixel).
    pub fn from_stored([images, rows, columns, channels]: [usize; 4]) -> Self {
        assert!(rows >= 3 && columns >= 3, "a bordered batch needs at least 3x3 stored pixels, got {rows}x{columns}");
        Self { images, height: rows - 2, width: columns - 2, channels }
    }

    /// The stored dims `[images, height + 2, width + 2, channels]`.
    pub fn stored(&self) -> [usize; 4] {
        [self.images, self.height + 2, self.width + 2, self.channels]
    }

    /// Number of stored values (borders included).
    pub fn len(&self) -> usize {
        self.stored().iter().product()
    }

    /// Whether the batch stores no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same images with `channels` values per pixel.
    pub fn with_channels(self, channels: usize) -> Self {
        Self { channels, ..self }
    }

    /// Stored pixels per row.
    fn pitch(&self) -> usize {
        self.width + 2
    }

    /// Stored rows of the whole batch.
    fn stored_rows(&self) -> usize {
        self.images * (self.height + 2)
    }

    /// Stored index of the first value of inner pixel `(x, y)` of image `image`.
    fn at(&self, image: usize, y: usize, x: usize) -> usize {
        ((image * (self.height + 2) + y + 1) * self.pitch() + x + 1) * self.channels
    }

    /// Whether stored row `row` (counted over the whole batch) is a border row.
    fn is_border_row(&self, row: usize) -> bool {
        let y = row % (self.height + 2);
        y == 0 || y == self.height + 1
    }
}

/// Gradients of a layer's inputs, weights in burn's layout.
#[derive(Clone, Debug)]
pub struct LayerGradients {
    /// Gradient of each activation input (bordered, zero border), where asked for.
    pub inputs: Vec<Option<Vec<f32>>>,
    /// Gradient of the weight.
    pub weight: Vec<f32>,
    /// Gradient of the bias.
    pub bias: Vec<f32>,
}

/// Values of output written per block of [`convolve`] (256 KiB of `f32`), so that the
/// epilogue finds them in cache.
const BLOCK_VALUES: usize = 1 << 16;

/// The input channels `first .. first + count` of a 3x3 convolution's burn weight
/// `[out, in, 3, 3]` (`in = channels_in`).
#[derive(Clone, Copy)]
struct Slab<'a> {
    weight: &'a [f32],
    channels_in: usize,
    first: usize,
    count: usize,
    channels_out: usize,
}

impl Slab<'_> {
    /// Weight of output `o`, input `first + i`, at kernel position `(ky, kx)`.
    fn at(&self, o: usize, i: usize, ky: usize, kx: usize) -> f32 {
        self.weight[((o * self.channels_in + self.first + i) * 3 + ky) * 3 + kx]
    }
}

/// A 3x3 convolution's weights as three matrices, one per kernel row `ky`, each with
/// rows `kx * channels_in + i` and columns the output channels.
struct KernelRows {
    rows: [Vec<f32>; 3],
    channels_in: usize,
    channels_out: usize,
}

impl KernelRows {
    /// The convolution by `slab`.
    fn forward(slab: Slab) -> Self {
        let (cin, cout) = (slab.count, slab.channels_out);
        let rows = core::array::from_fn(|ky| {
            let mut m = vec![0.0; 3 * cin * cout];
            for kx in 0..3 {
                for i in 0..cin {
                    for o in 0..cout {
                        m[(kx * cin + i) * cout + o] = slab.at(o, i, ky, kx);
                    }
                }
            }
            m
        });
        Self { rows, channels_in: cin, channels_out: cout }
    }

    /// The kernel whose convolution of the output gradient is the gradient of the input
    /// channels of `slab`: rotated by 180 degrees, inputs and outputs swapped.
    fn input_gradient(slab: Slab) -> Self {
        let (cin, cout) = (slab.count, slab.channels_out);
        let rows = core::array::from_fn(|ky| {
            let mut m = vec![0.0; 3 * cin * cout];
            for kx in 0..3 {
                for o in 0..cout {
                    for i in 0..cin {
                        m[(kx * cout + o) * cin + i] = slab.at(o, i, 2 - ky, 2 - kx);
                    }
                }
            }
            m
        });
        Self { rows, channels_in: cout, channels_out: cin }
    }
}

/// Adds (or, unless `accumulate`, writes) the raw sums of the 3x3 convolution of `input`
/// (a tall image of row pitch `pitch`) for the tall output rows `rows`, i.e. stored rows
/// `rows.start + 1 ..= rows.end`, into the output buffer at `dst`, junk included on the
/// border columns of those rows.
///
/// # Safety
/// `input` must hold the stored rows `rows.start ..= rows.end + 1` of `kernel.channels_in`
/// values per pixel, `dst` a buffer of the same rows with `kernel.channels_out` values per
/// pixel, and no other thread may touch rows `rows.start + 1 ..= rows.end` of `dst`.
unsafe fn convolve_rows(
    input: &[f32],
    pitch: usize,
    kernel: &KernelRows,
    dst: SendPtr,
    rows: Range<usize>,
    accumulate: bool,
) {
    let (c, out_c) = (kernel.channels_in, kernel.channels_out);
    // Outputs p = m + pitch + 1 for m in m0..m1: the last row's two junk columns are left
    // out (they would land in the next block's first row).
    let (m0, m1) = (rows.start * pitch, rows.end * pitch - 2);
    debug_assert!((m1 - 1 + 2 * pitch + 3) * c <= input.len());
    for (ky, weights) in kernel.rows.iter().enumerate() {
        // SAFETY: lhs reads pixels m0 + ky * pitch .. m1 + ky * pitch + 2 of the input (inside
        // it, see the debug assertion); dst writes pixels m0 + pitch + 1 .. m1 + pitch of the
        // output, i.e. stored rows rows.start + 1 ..= rows.end, which the caller reserves.
        unsafe {
            matmul(
                (m1 - m0, out_c, 3 * c),
                dst.at((m0 + pitch + 1) * out_c),
                out_c,
                accumulate || ky > 0,
                Strided::rows(input.as_ptr().add((m0 + ky * pitch) * c), c),
                Strided::rows(weights.as_ptr(), out_c),
            );
        }
    }
}

/// The sum of the 3x3 convolutions of the bordered batches `inputs` (each with its kernel;
/// all with the images of `frame`) into `out_c` channels, with `finish(stored_row, values)`
/// applied to every stored output row computed (each inner row and the border rows
/// between images; the first and last stored rows stay zero). `finish` must overwrite
/// the junk on border pixels.
fn convolve(
    inputs: &[(&[f32], KernelRows)],
    frame: Bordered,
    out_c: usize,
    finish: impl Fn(usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    for (input, kernel) in inputs {
        assert_eq!(input.len(), frame.with_channels(kernel.channels_in).len(), "a convolution input's size is wrong");
        assert_eq!(kernel.channels_out, out_c);
    }
    let mut out = vec![0.0; frame.with_channels(out_c).len()];
    let pitch = frame.pitch();
    let row_len = pitch * out_c;
    let dst = SendPtr(out.as_mut_ptr());
    let block_rows = (BLOCK_VALUES / row_len).max(1);
    // The tall image's output rows: every stored row but the first and the last.
    for_row_chunks(frame.stored_rows() - 2, |rows| {
        for start in rows.clone().step_by(block_rows) {
            let block = start..(start + block_rows).min(rows.end);
            for (i, (input, kernel)) in inputs.iter().enumerate() {
                // SAFETY: the input holds every stored row, and this chunk alone writes the
                // stored rows block.start + 1 ..= block.end.
                unsafe { convolve_rows(input, pitch, kernel, dst, block.clone(), i > 0) };
            }
            for stored_row in block.start + 1..=block.end {
                // SAFETY: as above, this row belongs to this chunk alone.
                finish(stored_row, unsafe { dst.slice(stored_row * row_len, row_len) });
            }
        }
    });
    out
}

/// The channel count of the concatenation of `inputs` (bordered batches of one image
/// shape), checked.
fn concatenated(inputs: &[(&[f32], Bordered)]) -> Bordered {
    let (_, first) = inputs.first().expect("a convolution has an input");
    let mut channels = 0;
    for (values, shape) in inputs {
        assert_eq!(shape.with_channels(0), first.with_channels(0), "the convolution's inputs differ in image size");
        assert_eq!(values.len(), shape.len(), "a convolution input does not match its shape");
        channels += shape.channels;
    }
    first.with_channels(channels)
}

/// The slabs of `weight` (burn's `[out, in, 3, 3]`) that convolve each of `inputs`.
fn slabs<'a>(inputs: &[(&[f32], Bordered)], weight: &'a [f32], out_c: usize) -> Vec<Slab<'a>> {
    let channels_in = concatenated(inputs).channels;
    assert_eq!(weight.len(), 9 * channels_in * out_c, "the convolution's weight does not match its inputs");
    let mut first = 0;
    inputs
        .iter()
        .map(|(_, shape)| {
            let slab = Slab { weight, channels_in, first, count: shape.channels, channels_out: out_c };
            first += shape.channels;
            slab
        })
        .collect()
}

/// `conv3x3(cat(inputs)) + bias`, followed by a ReLU when `relu`, with zero padding
/// (output size = input size), the concatenation on the channel axis of the bordered
/// batches `inputs` (each with its shape) never built; `weight` in burn's
/// `[out, in, 3, 3]` layout. Returns the bordered output (`bias.len()` channels, zero border).
pub fn conv3x3(inputs: &[(&[f32], Bordered)], weight: &[f32], bias: &[f32], relu: bool) -> Vec<f32> {
    let out_c = bias.len();
    let frame = concatenated(inputs);
    let parts: Vec<(&[f32], KernelRows)> =
        inputs.iter().zip(slabs(inputs, weight, out_c)).map(|((x, _), slab)| (*x, KernelRows::forward(slab))).collect();
    let floor = if relu { 0.0 } else { f32::NEG_INFINITY };
    convolve(&parts, frame, out_c, |stored_row, row| {
        if frame.is_border_row(stored_row) {
            row.fill(0.0);
            return;
        }
        let (left, rest) = row.split_at_mut(out_c);
        let (inner, right) = rest.split_at_mut(frame.width * out_c);
        left.fill(0.0);
        right.fill(0.0);
        for pixel in inner.chunks_exact_mut(out_c) {
            for (v, b) in pixel.iter_mut().zip(bias) {
                *v = (*v + b).max(floor);
            }
        }
    })
}

/// The gradients of [`conv3x3`]'s inputs (those flagged in `input_gradients`), weight and
/// bias, from its inputs, `weight`, its `output` and the gradient of that output
/// `grad_output` (both bordered, with `weight`'s output channels; the gradient's border is
/// ignored).
pub fn conv3x3_backward(
    inputs: &[(&[f32], Bordered)],
    weight: &[f32],
    output: &[f32],
    grad_output: &[f32],
    relu: bool,
    input_gradients: &[bool],
) -> LayerGradients {
    let frame = concatenated(inputs);
    let out_c = weight.len() / (9 * frame.channels);
    let out_shape = frame.with_channels(out_c);
    assert_eq!(output.len(), out_shape.len(), "the convolution's output does not match its shape");
    assert_eq!(grad_output.len(), out_shape.len(), "the convolution's output gradient does not match its shape");
    assert_eq!(input_gradients.len(), inputs.len());
    // The gradient before the ReLU (if any), zero on every border pixel: there the
    // output is zero, and so is the ReLU's gradient. Without a ReLU, a gradient that is
    // zero on the border already (as the batch norm's is) is used as it is.
    let row_len = out_shape.pitch() * out_c;
    let (pre_relu, bias_sums) = if !relu && has_zero_border(grad_output, out_shape) {
        let sums = map_row_chunks(out_shape.stored_rows(), |rows| {
            let mut sums = vec![0f64; out_c];
            for pixel in grad_output[rows.start * row_len..rows.end * row_len].chunks_exact(out_c) {
                for (s, &v) in sums.iter_mut().zip(pixel) {
                    *s += f64::from(v);
                }
            }
            sums
        });
        (Cow::Borrowed(grad_output), sums)
    } else {
        let mut pre_relu = vec![0.0; out_shape.len()];
        let dst = SendPtr(pre_relu.as_mut_ptr());
        let sums = map_row_chunks(out_shape.stored_rows(), |rows| {
            let mut sums = vec![0f64; out_c];
            for stored_row in rows {
                if out_shape.is_border_row(stored_row) {
                    continue;
                }
                // Inner pixels only: the border of `pre_relu` stays zero.
                let range = stored_row * row_len + out_c..(stored_row + 1) * row_len - out_c;
                // SAFETY: this stored row belongs to this chunk alone.
                let row = unsafe { dst.slice(range.start, range.len()) };
                let pixels = output[range.clone()].chunks_exact(out_c).zip(grad_output[range].chunks_exact(out_c));
                for (d, (y, g)) in row.chunks_exact_mut(out_c).zip(pixels) {
                    for o in 0..out_c {
                        let v = if !relu || y[o] > 0.0 { g[o] } else { 0.0 };
                        d[o] = v;
                        sums[o] += f64::from(v);
                    }
                }
            }
            sums
        });
        (Cow::Owned(pre_relu), sums)
    };
    let bias = sum_partials(&bias_sums, out_c);
    let mut weight_grad = vec![0.0; weight.len()];
    let mut grads = Vec::with_capacity(inputs.len());
    for ((&(x, shape), slab), &wanted) in inputs.iter().zip(slabs(inputs, weight, out_c)).zip(input_gradients) {
        conv3x3_weight_gradient(x, shape, &pre_relu, slab, &mut weight_grad);
        grads.push(wanted.then(|| {
            let c = shape.channels;
            convolve(&[(&pre_relu, KernelRows::input_gradient(slab))], frame, c, |stored_row, row| {
                if frame.is_border_row(stored_row) {
                    row.fill(0.0);
                } else {
                    row[..c].fill(0.0);
                    row[(frame.width + 1) * c..].fill(0.0);
                }
            })
        }));
    }
    LayerGradients { inputs: grads, weight: weight_grad, bias }
}

/// Whether every border value of the bordered batch `values` is zero.
fn has_zero_border(values: &[f32], shape: Bordered) -> bool {
    let (c, row_len) = (shape.channels, shape.pitch() * shape.channels);
    values.chunks_exact(row_len).enumerate().all(|(stored_row, row)| {
        if shape.is_border_row(stored_row) {
            row.iter().all(|&v| v == 0.0)
        } else {
            row[..c].iter().chain(&row[row_len - c..]).all(|&v| v == 0.0)
        }
    })
}

/// Statistics of a batch norm in training mode, per channel over the inner pixels of
/// the batch: the mean and the biased variance (what burn's running statistics take).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStatistics {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Biased variance of each channel.
    pub variance: Vec<f32>,
}

impl BatchStatistics {
    /// Per channel `1 / sqrt(variance + epsilon)`.
    fn inverse_std(&self, epsilon: f64) -> Vec<f64> {
        self.variance.iter().map(|&v| 1.0 / (f64::from(v) + epsilon).sqrt()).collect()
    }
}

/// Runs `body` on chunks of the inner rows of the batch `shape` (row `image * height + y`
/// is inner row `y` of image `image`), one chunk per thread, and returns each chunk's result.
fn map_inner_rows<T: Send>(shape: Bordered, body: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    map_row_chunks(shape.images * shape.height, body)
}

/// `relu(gamma (z - mean) / sqrt(variance + epsilon) + beta)` of the bordered batch `z`,
/// with the batch's own statistics (batch norm in training mode): the bordered output
/// (zero border) and the statistics.
pub fn batch_norm_relu(
    z: &[f32],
    shape: Bordered,
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> (Vec<f32>, BatchStatistics) {
    let c = shape.channels;
    assert_eq!(z.len(), shape.len(), "the batch norm's input does not match its shape");
    assert!(gamma.len() == c && beta.len() == c, "the batch norm's gamma and beta need {c} values");
    let sums = map_inner_rows(shape, |rows| {
        let (mut sum, mut squares) = (vec![0f64; c], vec![0f64; c]);
        for row in rows {
            let at = shape.at(row / shape.height, row % shape.height, 0);
            for pixel in z[at..][..shape.width * c].chunks_exact(c) {
                for (i, &v) in pixel.iter().enumerate() {
                    sum[i] += f64::from(v);
                    squares[i] += f64::from(v) * f64::from(v);
                }
            }
        }
        (sum, squares)
    });
    let count = (shape.images * shape.height * shape.width) as f64;
    let mut stats = BatchStatistics { mean: vec![0.0; c], variance: vec![0.0; c] };
    let (mut scale, mut shift) = (vec![0f32; c], vec![0f32; c]);
    for i in 0..c {
        let mean = sums.iter().map(|(s, _)| s[i]).sum::<f64>() / count;
        let variance = (sums.iter().map(|(_, q)| q[i]).sum::<f64>() / count - mean * mean).max(0.0);
        let a = f64::from(gamma[i]) / (variance + epsilon).sqrt();
        (stats.mean[i], stats.variance[i]) = (mean as f32, variance as f32);
        (scale[i], shift[i]) = (a as f32, (f64::from(beta[i]) - mean * a) as f32);
    }
    let mut out = vec![0.0; shape.len()];
    let dst = SendPtr(out.as_mut_ptr());
    map_inner_rows(shape, |rows| {
        for row in rows {
            let at = shape.at(row / shape.height, row % shape.height, 0);
            // SAFETY: this inner row belongs to this chunk alone.
            let out_row = unsafe { dst.slice(at, shape.width * c) };
            for (o, pixel) in out_row.chunks_exact_mut(c).zip(z[at..][..shape.width * c].chunks_exact(c)) {
                for i in 0..c {
                    o[i] = (scale[i] * pixel[i] + shift[i]).max(0.0);
                }
            }
        }
    });
    (out, stats)
}

/// The gradients of [`batch_norm_relu`]'s input `z` (bordered, zero border), gamma (as
/// `weight`) and beta (as `bias`), from `z`, gamma, the statistics and output it returned,
/// and the gradient of that output (its border ignored).
pub fn batch_norm_relu_backward(
    z: &[f32],
    shape: Bordered,
    gamma: &[f32],
    stats: &BatchStatistics,
    epsilon: f64,
    output: &[f32],
    grad_output: &[f32],
) -> LayerGradients {
    let c = shape.channels;
    assert!(z.len() == shape.len() && output.len() == shape.len() && grad_output.len() == shape.len());
    let inverse_std = stats.inverse_std(epsilon);
    let normalized = |i: usize, v: f32| ((f64::from(v) - f64::from(stats.mean[i])) * inverse_std[i]) as f32;
    // Per channel: the sums of the gradient after the ReLU and of its product with the
    // normalised input.
    let sums = map_inner_rows(shape, |rows| {
        let (mut sum, mut dot) = (vec![0f64; c], vec![0f64; c]);
        for row in rows {
            let at = shape.at(row / shape.height, row % shape.height, 0);
            let len = shape.width * c;
            for ((zp, yp), gp) in z[at..][..len]
                .chunks_exact(c)
                .zip(output[at..][..len].chunks_exact(c))
                .zip(grad_output[at..][..len].chunks_exact(c))
            {
                for i in 0..c {
                    if yp[i] > 0.0 {
                        sum[i] += f64::from(gp[i]);
                        dot[i] += f64::from(gp[i] * normalized(i, zp[i]));
                    }
                }
            }
        }
        (sum, dot)
    });
    let sum: Vec<f64> = (0..c).map(|i| sums.iter().map(|(s, _)| s[i]).sum()).collect();
    let dot: Vec<f64> = (0..c).map(|i| sums.iter().map(|(_, d)| d[i]).sum()).collect();
    let count = (shape.images * shape.height * shape.width) as f64;
    let scale: Vec<f32> = (0..c).map(|i| (f64::from(gamma[i]) * inverse_std[i]) as f32).collect();
    let mean_grad: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let mean_dot: Vec<f32> = dot.iter().map(|d| (d / count) as f32).collect();
    let mut grad = vec![0.0; shape.len()];
    let dst = SendPtr(grad.as_mut_ptr());
    map_inner_rows(shape, |rows| {
        for row in rows {
            let at = shape.at(row / shape.height, row % shape.height, 0);
            let len = shape.width * c;
            // SAFETY: this inner row belongs to this chunk alone.
            let grad_row = unsafe { dst.slice(at, len) };
            let pixels = z[at..][..len]
                .chunks_exact(c)
                .zip(output[at..][..len].chunks_exact(c))
                .zip(grad_output[at..][..len].chunks_exact(c));
            for (d, ((zp, yp), gp)) in grad_row.chunks_exact_mut(c).zip(pixels) {
                for i in 0..c {
                    let g = if yp[i] > 0.0 { gp[i] } else { 0.0 };
                    d[i] = scale[i] * (g - mean_grad[i] - normalized(i, zp[i]) * mean_dot[i]);
                }
            }
        }
    });
    LayerGradients {
        inputs: vec![Some(grad)],
        weight: dot.iter().map(|&d| d as f32).collect(),
        bias: sum.iter().map(|&s| s as f32).collect(),
    }
}

/// Writes into `weight_grad` (burn's `[out, in, 3, 3]` layout) the gradient of the
/// weights of `slab`, which convolve `x`, given the gradient `grad` before the bias
/// (bordered, zero border).
fn conv3x3_weight_gradient(x: &[f32], shape: Bordered, grad: &[f32], slab: Slab, weight_grad: &mut [f32]) {
    let (c, out_c, pitch) = (shape.channels, slab.channels_out, shape.pitch());
    // Per chunk of tall output rows, for each kernel row: the shifted input rows transposed
    // (3c x pixels) times the gradient (pixels x out_c).
    let partials = map_row_chunks(shape.stored_rows() - 2, |rows| {
        let (m0, m1) = (rows.start * pitch, rows.end * pitch - 2);
        core::array::from_fn::<_, 3, _>(|ky| {
            let mut sums = vec![0.0f32; 3 * c * out_c];
            // SAFETY: lhs reads pixels m0 + ky * pitch .. m1 + ky * pitch + 2 of `x` and rhs
            // pixels m0 + pitch + 1 .. m1 + pitch + 1 of `grad`, all stored rows of the batch;
            // dst is this chunk's own 3c x out_c sums.
            unsafe {
                matmul(
                    (3 * c, out_c, m1 - m0),
                    sums.as_mut_ptr(),
                    out_c,
                    false,
                    Strided::transposed(x.as_ptr().add((m0 + ky * pitch) * c), c),
                    Strided::rows(grad.as_ptr().add((m0 + pitch + 1) * out_c), out_c),
                );
            }
            sums
        })
    });
    for rows in &partials {
        for (ky, sums) in rows.iter().enumerate() {
            for kx in 0..3 {
                for i in 0..c {
                    for o in 0..out_c {
                        let at = ((o * slab.channels_in + slab.first + i) * 3 + ky) * 3 + kx;
                        weight_grad[at] += sums[(kx * c + i) * out_c + o];
                    }
                }
            }
        }
    }
}

/// The per-channel sums of the chunks' partial sums, as `f32`.
fn sum_partials(partials: &[Vec<f64>], len: usize) -> Vec<f32> {
    (0..len).map(|i| partials.iter().map(|p| p[i]).sum::<f64>() as f32).collect()
}

/// 2x2 max-pool, stride 2, of the bordered batch `x` (even inner sides): the bordered
/// `[images, height / 2 + 2, width / 2 + 2, channels]` batch.
pub fn max_pool2x2(x: &[f32], shape: Bordered) -> Vec<f32> {
    assert_eq!(x.len(), shape.len(), "the max-pool's input does not match its shape");
    let out_shape = pooled(shape);
    let c = shape.channels;
    let mut out = vec![0.0; out_shape.len()];
    let dst = SendPtr(out.as_mut_ptr());
    for_row_chunks(shape.images * out_shape.height, |rows| {
        for row in rows {
            let (image, y) = (row / out_shape.height, row % out_shape.height);
            // SAFETY: output row y of this image belongs to this chunk alone.
            let out_row = unsafe { dst.slice(out_shape.at(image, y, 0), out_shape.width * c) };
            let top = &x[shape.at(image, 2 * y, 0)..][..shape.width * c];
            let bottom = &x[shape.at(image, 2 * y + 1, 0)..][..shape.width * c];
            for (px, pixel) in out_row.chunks_exact_mut(c).enumerate() {
                let (a, b) = (&top[2 * px * c..][..2 * c], &bottom[2 * px * c..][..2 * c]);
                for (i, v) in pixel.iter_mut().enumerate() {
                    *v = a[i].max(a[c + i]).max(b[i]).max(b[c + i]);
                }
            }
        }
    });
    out
}

/// The shape of [`max_pool2x2`]'s output.
fn pooled(shape: Bordered) -> Bordered {
    assert!(
        shape.height.is_multiple_of(2) && shape.width.is_multiple_of(2),
        "the max-pool needs even sides, got {}x{}",
        shape.width,
        shape.height
    );
    Bordered { height: shape.height / 2, width: shape.width / 2, ..shape }
}

/// The gradient of [`max_pool2x2`]'s input `x` (bordered, zero border) from the gradient
/// of its output: each output's gradient goes to the first maximum of its window (in the
/// order top left, top right, bottom left, bottom right).
pub fn max_pool2x2_backward(x: &[f32], shape: Bordered, grad_output: &[f32]) -> Vec<f32> {
    let out_shape = pooled(shape);
    assert_eq!(x.len(), shape.len(), "the max-pool's input does not match its shape");
    assert_eq!(grad_output.len(), out_shape.len(), "the max-pool's output gradient does not match its shape");
    let c = shape.channels;
    let mut grad = vec![0.0; shape.len()];
    let dst = SendPtr(grad.as_mut_ptr());
    for_row_chunks(shape.images * out_shape.height, |rows| {
        for row in rows {
            let (image, y) = (row / out_shape.height, row % out_shape.height);
            let g = &grad_output[out_shape.at(image, y, 0)..][..out_shape.width * c];
            let (top_at, bottom_at) = (shape.at(image, 2 * y, 0), shape.at(image, 2 * y + 1, 0));
            // SAFETY: input rows 2y and 2y + 1 of this image belong to output row y, so to this
            // chunk alone.
            let (top_grad, bottom_grad) =
                unsafe { (dst.slice(top_at, shape.width * c), dst.slice(bottom_at, shape.width * c)) };
            let (top, bottom) = (&x[top_at..][..shape.width * c], &x[bottom_at..][..shape.width * c]);
            for (px, g) in g.chunks_exact(c).enumerate() {
                for (i, &g) in g.iter().enumerate() {
                    let (left, right) = (2 * px * c + i, (2 * px + 1) * c + i);
                    let window = [top[left], top[right], bottom[left], bottom[right]];
                    let max = window[0].max(window[1]).max(window[2]).max(window[3]);
                    match window.iter().position(|&v| v == max) {
                        Some(0) => top_grad[left] = g,
                        Some(1) => top_grad[right] = g,
                        Some(2) => bottom_grad[left] = g,
                        _ => bottom_grad[right] = g,
                    }
                }
            }
        }
    });
    grad
}

/// The 2x2 stride-2 transposed convolution's weights as one matrix: row `i` (input
/// channel), columns `(dy * 2 + dx) * out + o`.
fn up_weights(weight: &[f32], channels_in: usize, out_c: usize) -> Vec<f32> {
    let mut m = vec![0.0; weight.len()];
    for i in 0..channels_in {
        for o in 0..out_c {
            for k in 0..4 {
                m[i * 4 * out_c + k * out_c + o] = weight[(i * out_c + o) * 4 + k];
            }
        }
    }
    m
}

/// The 2x2 stride-2 transposed convolution of the bordered batch `x` plus `bias`
/// (`weight` in burn's `[in, out, 2, 2]` layout): the bordered batch of twice the inner
/// size with `bias.len()` channels.
pub fn up_conv2x2(x: &[f32], shape: Bordered, weight: &[f32], bias: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), shape.len(), "the up-convolution's input does not match its shape");
    let (c, out_c) = (shape.channels, bias.len());
    let weights = up_weights(weight, c, out_c);
    let out_shape = Bordered { height: 2 * shape.height, width: 2 * shape.width, channels: out_c, ..shape };
    let mut out = vec![0.0; out_shape.len()];
    let dst = SendPtr(out.as_mut_ptr());
    let w = shape.width;
    for_row_chunks(shape.images * shape.height, |rows| {
        for row in rows {
            let (image, y) = (row / shape.height, row % shape.height);
            for dy in 0..2 {
                // SAFETY: output row 2y + dy of this image belongs to input row y, so to this
                // chunk alone.
                let out_row = unsafe { dst.slice(out_shape.at(image, 2 * y + dy, 0), 2 * w * out_c) };
                // Input pixel x gives output pixels 2x and 2x + 1 of this row: a matrix row
                // of 2 out_c values at a stride of 2 out_c, the weight columns of this dy.
                // SAFETY: lhs reads the w inner pixels of input row y; dst writes the 2w inner
                // pixels of this output row; rhs reads 2 out_c of every 4 out_c weight columns.
                unsafe {
                    matmul(
                        (w, 2 * out_c, c),
                        out_row.as_mut_ptr(),
                        2 * out_c,
                        false,
                        Strided::rows(x.as_ptr().add(shape.at(image, y, 0)), c),
                        Strided::rows(weights.as_ptr().add(dy * 2 * out_c), 4 * out_c),
                    );
                }
                for pixel in out_row.chunks_exact_mut(out_c) {
                    for (v, b) in pixel.iter_mut().zip(bias) {
                        *v += b;
                    }
                }
            }
        }
    });
    out
}

/// The gradients of [`up_conv2x2`]'s input (when `input_gradient`), weight and bias, from
/// its input `x`, `weight` and the gradient of its output (bordered; border ignored).
pub fn up_conv2x2_backward(
    x: &[f32],
    shape: Bordered,
    weight: &[f32],
    grad_output: &[f32],
    input_gradient: bool,
) -> LayerGradients {
    let c = shape.channels;
    let out_c = weight.len() / (4 * c);
    let out_shape = Bordered { height: 2 * shape.height, width: 2 * shape.width, channels: out_c, ..shape };
    assert_eq!(x.len(), shape.len(), "the up-convolution's input does not match its shape");
    assert_eq!(grad_output.len(), out_shape.len(), "the up-convolution's output gradient does not match its shape");
    let w = shape.width;
    let weights = up_weights(weight, c, out_c);
    // Weight and bias: per chunk of input rows, sums over its rows and both output rows of each.
    let partials = map_row_chunks(shape.images * shape.height, |rows| {
        let mut weight_sum = vec![0.0f32; 4 * c * out_c];
        let mut bias_sum = vec![0f64; out_c];
        for row in rows {
            let (image, y) = (row / shape.height, row % shape.height);
            for dy in 0..2 {
                let g = &grad_output[out_shape.at(image, 2 * y + dy, 0)..][..2 * w * out_c];
                // weight[i, (dy, dx, o)] += sum_x x[x, i] * g[2x + dx, o]: the input row
                // transposed (c x w) times this output row as w rows of 2 out_c values.
                // SAFETY: lhs reads the w inner pixels of input row y, rhs the 2w inner pixels
                // of this output row; dst is this chunk's own sums, columns of this dy.
                unsafe {
                    matmul(
                        (c, 2 * out_c, w),
                        weight_sum.as_mut_ptr().add(dy * 2 * out_c),
                        4 * out_c,
                        true,
                        Strided::transposed(x.as_ptr().add(shape.at(image, y, 0)), c),
                        Strided::rows(g.as_ptr(), 2 * out_c),
                    );
                }
                for pixel in g.chunks_exact(out_c) {
                    for (s, &v) in bias_sum.iter_mut().zip(pixel) {
                        *s += f64::from(v);
                    }
                }
            }
        }
        (weight_sum, bias_sum)
    });
    let mut summed = vec![0.0f32; 4 * c * out_c];
    for (part, _) in &partials {
        for (s, v) in summed.iter_mut().zip(part) {
            *s += v;
        }
    }
    let mut weight_grad = vec![0.0; weight.len()];
    for i in 0..c {
        for o in 0..out_c {
            for k in 0..4 {
                weight_grad[(i * out_c + o) * 4 + k] = summed[i * 4 * out_c + k * out_c + o];
            }
        }
    }
    let bias_partials: Vec<Vec<f64>> = partials.into_iter().map(|(_, b)| b).collect();
    let bias = sum_partials(&bias_partials, out_c);
    let input = input_gradient.then(|| {
        let mut grad = vec![0.0; shape.len()];
        let dst = SendPtr(grad.as_mut_ptr());
        for_row_chunks(shape.images * shape.height, |rows| {
            for row in rows {
                let (image, y) = (row / shape.height, row % shape.height);
                for dy in 0..2 {
                    // grad[x, i] += sum_(dx, o) g[2x + dx, o] weight[i, (dy, dx, o)]: this output
                    // row as w rows of 2 out_c values times the weight columns of this dy, transposed.
                    // SAFETY: lhs reads the 2w inner pixels of output row 2y + dy, rhs 2 out_c of
                    // every 4 out_c weight columns; dst writes the w inner pixels of input row y,
                    // which belongs to this chunk alone.
                    unsafe {
                        matmul(
                            (w, c, 2 * out_c),
                            dst.at(shape.at(image, y, 0)),
                            c,
                            dy > 0,
                            Strided::rows(grad_output.as_ptr().add(out_shape.at(image, 2 * y + dy, 0)), 2 * out_c),
                            Strided::transposed(weights.as_ptr().add(dy * 2 * out_c), 4 * out_c),
                        );
                    }
                }
            }
        });
        grad
    });
    LayerGradients { inputs: vec![input], weight: weight_grad, bias }
}

/// The 1x1 output convolution of the bordered batch `x`: planar logits
/// `[images, classes, height, width]` (no border), `weight` `[classes, channels]` (burn's
/// `[classes, channels, 1, 1]`), `classes = bias.len()`.
pub fn head1x1(x: &[f32], shape: Bordered, weight: &[f32], bias: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), shape.len(), "the output convolution's input does not match its shape");
    let (c, classes, plane) = (shape.channels, bias.len(), shape.height * shape.width);
    let mut logits = vec![0.0; shape.images * classes * plane];
    let dst = SendPtr(logits.as_mut_ptr());
    for_row_chunks(shape.images * shape.height, |rows| {
        for row in rows {
            let (image, y) = (row / shape.height, row % shape.height);
            let pixels = &x[shape.at(image, y, 0)..][..shape.width * c];
            for (k, (weights, b)) in weight.chunks_exact(c).zip(bias).enumerate() {
                // SAFETY: row y of plane k of this image belongs to this chunk alone.
                let out = unsafe { dst.slice((image * classes + k) * plane + y * shape.width, shape.width) };
                for (v, pixel) in out.iter_mut().zip(pixels.chunks_exact(c)) {
                    *v = b + pixel.iter().zip(weights).map(|(a, w)| a * w).sum::<f32>();
                }
            }
        }
    });
    logits
}

/// The gradients of [`head1x1`]'s input (when `input_gradient`; bordered, zero border),
/// weight and bias from its input `x`, `weight` and the gradient of the logits.
pub fn head1x1_backward(
    x: &[f32],
    shape: Bordered,
    weight: &[f32],
    grad_logits: &[f32],
    input_gradient: bool,
) -> LayerGradients {
    let c = shape.channels;
    let classes = weight.len() / c;
    let plane = shape.height * shape.width;
    assert_eq!(x.len(), shape.len(), "the output convolution's input does not match its shape");
    assert_eq!(grad_logits.len(), shape.images * classes * plane, "the logits' gradient does not match");
    let mut grad = input_gradient.then(|| vec![0.0; shape.len()]);
    let dst = grad.as_mut().map(|g| SendPtr(g.as_mut_ptr()));
    let partials = map_row_chunks(shape.images * shape.height, |rows| {
        let mut weight_sum = vec![0f64; classes * c];
        let mut bias_sum = vec![0f64; classes];
        for row in rows {
            let (image, y) = (row / shape.height, row % shape.height);
            let at = shape.at(image, y, 0);
            let pixels = &x[at..][..shape.width * c];
            // SAFETY: inner row y of this image belongs to this chunk alone.
            let mut grad_row = dst.map(|d| unsafe { d.slice(at, shape.width * c) });
            for k in 0..classes {
                let g = &grad_logits[(image * classes + k) * plane + y * shape.width..][..shape.width];
                let weights = &weight[k * c..][..c];
                for (px, (&g, pixel)) in g.iter().zip(pixels.chunks_exact(c)).enumerate() {
                    bias_sum[k] += f64::from(g);
                    for (s, &v) in weight_sum[k * c..][..c].iter_mut().zip(pixel) {
                        *s += f64::from(g * v);
                    }
                    if let Some(grad_row) = grad_row.as_deref_mut() {
                        for (d, &w) in grad_row[px * c..][..c].iter_mut().zip(weights) {
                            *d += g * w;
                        }
                    }
                }
            }
        }
        (weight_sum, bias_sum)
    });
    let (weight_partials, bias_partials): (Vec<_>, Vec<_>) = partials.into_iter().unzip();
    LayerGradients {
        inputs: vec![grad],
        weight: sum_partials(&weight_partials, classes * c),
        bias: sum_partials(&bias_partials, classes),
    }
}

/// Runs `body` on contiguous chunks of `0..rows`, one per thread (natively; on wasm, one
/// chunk on the calling thread), and returns the chunks' results in order.
fn map_row_chunks<T: Send>(rows: usize, body: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        let threads = rayon::current_num_threads().min(rows).max(1);
        (0..threads).into_par_iter().map(|t| body(rows * t / threads..rows * (t + 1) / threads)).collect()
    }
    #[cfg(target_family = "wasm")]
    vec![body(0..rows)]
}
