//! The U-Net's inference on the CPU without burn: same-padded networks only,
//! activations in zero-bordered NHWC buffers, every convolution a few calls of the
//! `gemm` crate's matrix product, no im2col copy.
//!
//! A 3x3 convolution over an `H x W x C` input kept as a `(H+2) x (W+2) x C` buffer
//! with a zero border is, for each kernel row `ky`, one matrix product: reading the
//! buffer from pixel `(ky, 0)` with a row stride of `C` values gives, for every output
//! pixel `p = y (W+2) + x`, the `3C` values of kernel row `ky` under it as one matrix
//! row (rows overlap, which `gemm`'s strides allow). The two extra columns per image
//! row produce junk outputs that land exactly on the output buffer's border, which is
//! zeroed again afterwards. The decoder's concatenation is never built: the first
//! convolution of an up level sums products over the two inputs with the matching
//! halves of its weights.
//!
//! Gives the logits of [`UNet::forward`] to float rounding (see the tests); about 4x
//! faster than burn's Flex backend on this network (see BENCHMARKS.md).

use std::sync::Mutex;

use burn::tensor::Tensor;

use super::matmul::{matmul, Strided};
use super::{Padding, UNet, UNetConfig};
use crate::{Error, Result};

/// An image's activations: `height x width` pixels of `channels` values each, stored
/// with a one-pixel zero border, row-major, channels innermost.
struct Activation {
    data: Vec<f32>,
    height: usize,
    width: usize,
    channels: usize,
}

impl Activation {
    /// An activation whose border is zero and whose inner pixels hold arbitrary values
    /// (every producer writes all of them), in a buffer from `pool`.
    fn new(pool: &BufferPool, height: usize, width: usize, channels: usize) -> Self {
        let pitch = (width + 2) * channels;
        let mut data = pool.take((height + 2) * pitch);
        data[..pitch].fill(0.0);
        data[(height + 1) * pitch..].fill(0.0);
        for row in data[pitch..(height + 1) * pitch].chunks_exact_mut(pitch) {
            row[..channels].fill(0.0);
            row[pitch - channels..].fill(0.0);
        }
        Self { data, height, width, channels }
    }

    /// Width of a stored row in pixels (border included).
    fn pitch(&self) -> usize {
        self.width + 2
    }
}

/// Activation buffers no longer needed, reused by later layers and later calls
/// instead of fresh (page-faulting, zero-filled) allocations.
#[derive(Default)]
struct BufferPool(Mutex<Vec<Vec<f32>>>);

impl BufferPool {
    /// A buffer of `len` values with arbitrary contents: the smallest free one that is
    /// large enough, or a new one.
    fn take(&self, len: usize) -> Vec<f32> {
        let mut free = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let best = (0..free.len()).filter(|&i| free[i].capacity() >= len).min_by_key(|&i| free[i].capacity());
        match best {
            Some(i) => {
                let mut buffer = free.swap_remove(i);
                buffer.resize(len, 0.0);
                buffer
            }
            None => vec![0.0; len],
        }
    }

    /// Frees every kept buffer.
    fn clear(&self) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    /// Returns `activation`'s buffer for reuse.
    fn give(&self, activation: Activation) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(activation.data);
    }
}

/// A 3x3 convolution's weights as matrices: for kernel row `ky`, rows `kx * C + c`,
/// columns the output channels (`weights[ky][(kx * C + c) * out + o]`).
struct Conv3x3 {
    /// One weight slab per input the convolution reads (two after a concatenation).
    slabs: Vec<[Vec<f32>; 3]>,
    bias: Vec<f32>,
    channels_out: usize,
}

impl Conv3x3 {
    /// Splits burn's `[out, in, 3, 3]` weight at the input-channel counts `parts`.
    fn new(weight: Vec<f32>, bias: Vec<f32>, channels_in: usize, parts: &[usize]) -> Self {
        let out = bias.len();
        let mut slabs = Vec::with_capacity(parts.len());
        let mut first = 0;
        for &c in parts {
            let slab = core::array::from_fn(|ky| {
                let mut m = vec![0.0; 3 * c * out];
                for kx in 0..3 {
                    for ci in 0..c {
                        for o in 0..out {
                            m[(kx * c + ci) * out + o] = weight[((o * channels_in + first + ci) * 3 + ky) * 3 + kx];
                        }
                    }
                }
                m
            });
            slabs.push(slab);
            first += c;
        }
        Self { slabs, bias, channels_out: out }
    }

    /// `relu(conv(inputs) + bias)`, the inputs being the parts of a channel concatenation.
    fn forward(&self, pool: &BufferPool, inputs: &[&Activation]) -> Activation {
        let (h, w) = (inputs[0].height, inputs[0].width);
        let out_c = self.channels_out;
        let mut out = Activation::new(pool, h, w, out_c);
        let pitch = out.pitch();
        let dst = SendPtr(out.data.as_mut_ptr());
        // Blocks of rows small enough that the epilogue finds them in cache.
        let block_rows = (BLOCK_VALUES / (pitch * out_c)).max(1);
        for_row_chunks(h, |rows| {
            for start in rows.clone().step_by(block_rows) {
                let block = start..(start + block_rows).min(rows.end);
                self.convolve_rows(inputs, dst, pitch, block.clone());
                // SAFETY: output rows block.start + 1 ..= block.end belong to this block alone.
                let out_rows = unsafe { dst.slice((block.start + 1) * pitch * out_c, block.len() * pitch * out_c) };
                for row in out_rows.chunks_exact_mut(pitch * out_c) {
                    let (border_left, rest) = row.split_at_mut(out_c);
                    let (inner, border_right) = rest.split_at_mut(w * out_c);
                    border_left.fill(0.0);
                    border_right.fill(0.0);
                    for pixel in inner.chunks_exact_mut(out_c) {
                        for (v, b) in pixel.iter_mut().zip(&self.bias) {
                            *v = (*v + b).max(0.0);
                        }
                    }
                }
            }
        });
        out
    }

    /// The raw sums (no bias) of the output rows `rows`, written into `dst` (the
    /// output buffer), junk included on the border columns of those rows.
    fn convolve_rows(&self, inputs: &[&Activation], dst: SendPtr, pitch: usize, rows: core::ops::Range<usize>) {
        let out_c = self.channels_out;
        // Output pixels p = y * pitch + x of these rows, minus the last row's two junk
        // columns (they would land in the next block's first row).
        let (m0, m1) = (rows.start * pitch, rows.end * pitch - 2);
        for (i, (input, slab)) in inputs.iter().zip(&self.slabs).enumerate() {
            let c = input.channels;
            for (ky, weights) in slab.iter().enumerate() {
                // SAFETY: lhs reads pixels (m0 + ky * pitch) .. (m1 - 1 + ky * pitch + 2) of the
                // input, all inside its (h + 2) x pitch buffer; dst writes pixels
                // m0 + pitch + 1 .. m1 + pitch of the output, the rows `rows` only.
                unsafe {
                    matmul(
                        (m1 - m0, out_c, 3 * c),
                        dst.at((m0 + pitch + 1) * out_c),
                        out_c,
                        i > 0 || ky > 0,
                        Strided::rows(input.data.as_ptr().add((m0 + ky * pitch) * c), c),
                        Strided::rows(weights.as_ptr(), out_c),
                    );
                }
            }
        }
    }
}

/// Values of output written per block of [`Conv3x3::forward`] (256 KiB of `f32`).
const BLOCK_VALUES: usize = 1 << 16;

/// The 2x2 stride-2 transposed convolution: `weights[c * 4 * out + (dy * 2 + dx) * out + o]`.
struct UpConv {
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl UpConv {
    /// From burn's `[in, out, 2, 2]` weight.
    fn new(weight: Vec<f32>, bias: Vec<f32>) -> Self {
        let out = bias.len();
        let cin = weight.len() / (4 * out);
        let mut weights = vec![0.0; weight.len()];
        for c in 0..cin {
            for o in 0..out {
                for k in 0..4 {
                    weights[c * 4 * out + k * out + o] = weight[(c * out + o) * 4 + k];
                }
            }
        }
        Self { weights, bias }
    }

    fn forward(&self, pool: &BufferPool, input: &Activation) -> Activation {
        let (h, w, cin, out_c) = (input.height, input.width, input.channels, self.bias.len());
        let mut out = Activation::new(pool, 2 * h, 2 * w, out_c);
        let (in_pitch, out_pitch) = (input.pitch(), out.pitch());
        let dst = SendPtr(out.data.as_mut_ptr());
        for_row_chunks(h, |rows| {
            for y in rows {
                for dy in 0..2 {
                    let oy = 2 * y + dy + 1;
                    // SAFETY: output row oy belongs to input row y, so to this chunk alone.
                    let row = unsafe { dst.slice(oy * out_pitch * out_c, out_pitch * out_c) };
                    // Input pixel x of row y gives output pixels 2x + 1 + dx, dx = 0, 1: a
                    // matrix row of 2 out values at a stride of 2 out, the weights' columns
                    // (dy, dx, o) for this dy.
                    // SAFETY: lhs reads the w inner pixels of input row y + 1; dst writes
                    // output pixels 1 ..= 2w of row oy; rhs reads 2 out of every 4 out columns.
                    unsafe {
                        matmul(
                            (w, 2 * out_c, cin),
                            row.as_mut_ptr().add(out_c),
                            2 * out_c,
                            false,
                            Strided::rows(input.data.as_ptr().add(((y + 1) * in_pitch + 1) * cin), cin),
                            Strided::rows(self.weights.as_ptr().add(dy * 2 * out_c), 4 * out_c),
                        );
                    }
                    for pixel in row[out_c..(2 * w + 1) * out_c].chunks_exact_mut(out_c) {
                        for (v, b) in pixel.iter_mut().zip(&self.bias) {
                            *v += b;
                        }
                    }
                }
            }
        });
        out
    }
}

/// 2x2 max-pool, stride 2 (even sizes).
fn max_pool(pool: &BufferPool, input: &Activation) -> Activation {
    let (h, w, c) = (input.height / 2, input.width / 2, input.channels);
    let mut out = Activation::new(pool, h, w, c);
    let (in_pitch, out_pitch) = (input.pitch(), out.pitch());
    let dst = SendPtr(out.data.as_mut_ptr());
    for_row_chunks(h, |rows| {
        for y in rows {
            // SAFETY: output row y + 1 belongs to this chunk alone.
            let row = unsafe { dst.slice(((y + 1) * out_pitch + 1) * c, w * c) };
            let top = &input.data[((2 * y + 1) * in_pitch + 1) * c..][..2 * w * c];
            let bottom = &input.data[((2 * y + 2) * in_pitch + 1) * c..][..2 * w * c];
            for (x, pixel) in row.chunks_exact_mut(c).enumerate() {
                let (a, b) = (&top[2 * x * c..][..2 * c], &bottom[2 * x * c..][..2 * c]);
                for (i, v) in pixel.iter_mut().enumerate() {
                    *v = a[i].max(a[c + i]).max(b[i]).max(b[c + i]);
                }
            }
        }
    });
    out
}

/// A same-padded U-Net without batch norm, ready for [`CpuUNet::forward`].
pub struct CpuUNet {
    config: UNetConfig,
    down: Vec<[Conv3x3; 2]>,
    up: Vec<(UpConv, [Conv3x3; 2])>,
    /// The 1x1 output convolution, `[classes, channels]`.
    head: Vec<f32>,
    head_bias: Vec<f32>,
    pool: BufferPool,
}

impl CpuUNet {
    /// Whether the engine runs networks of this architecture (same padding only).
    pub fn supports(config: &UNetConfig) -> bool {
        config.padding == Padding::Same
    }

    /// Copies the weights of `model` (batch norm is folded first). Fails for
    /// architectures the engine does not [support](Self::supports).
    pub fn new(model: &UNet) -> Result<Self> {
        if !Self::supports(model.config()) {
            return Err(Error::invalid("the CPU engine only runs same-padded networks"));
        }
        let model = model.clone().fold_batch_norm();
        let conv_pair = |block: &super::DoubleConv, parts: &[usize]| -> Result<[Conv3x3; 2]> {
            let first = conv3x3(&block.conv1, parts)?;
            let second = conv3x3(&block.conv2, &[first.channels_out])?;
            Ok([first, second])
        };
        let config = model.config().clone();
        let mut down = Vec::new();
        for (level, block) in model.conv_down.iter().enumerate() {
            let cin = if level == 0 { config.in_channels } else { config.channels_at(level - 1) };
            down.push(conv_pair(&block.conv, &[cin])?);
        }
        let mut up = Vec::new();
        for block in &model.conv_up {
            let [cin, cout, _, _] = block.up.weight.dims();
            let up_conv = UpConv::new(values(block.up.weight.val())?, bias_values(&block.up.bias, cout)?);
            debug_assert_eq!(cin, 2 * cout);
            up.push((up_conv, conv_pair(&block.conv, &[cout, cout])?));
        }
        let [classes, _, _, _] = model.conv_out.weight.dims();
        let head = values(model.conv_out.weight.val())?;
        let head_bias = bias_values(&model.conv_out.bias, classes)?;
        Ok(Self { config, down, up, head, head_bias, pool: BufferPool::default() })
    }

    /// The architecture.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// Frees the activation buffers kept for the next call (they make repeated calls
    /// about 25 % faster, but hold about as much memory as one call needs).
    pub fn release_buffers(&self) {
        self.pool.clear();
    }

    /// Class logits `[classes, height, width]` (row-major) of one single-channel image
    /// `[height, width]`; both sides must be multiples of `2^(depth - 1)`.
    pub fn forward(&self, image: &[f32], height: usize, width: usize) -> Result<Vec<f32>> {
        let factor = 1 << (self.config.depth - 1);
        if self.config.in_channels != 1 || height % factor != 0 || width % factor != 0 || image.len() != height * width
        {
            return Err(Error::invalid(format!(
                "the CPU engine needs a 1-channel image with sides that are multiples of {factor}, got {} values for {width}x{height}",
                image.len()
            )));
        }
        let pool = &self.pool;
        let mut input = Activation::new(pool, height, width, 1);
        for (y, row) in image.chunks_exact(width).enumerate() {
            input.data[(y + 1) * (width + 2) + 1..][..width].copy_from_slice(row);
        }
        let double_conv = |[first, second]: &[Conv3x3; 2], inputs: &[&Activation]| {
            let middle = first.forward(pool, inputs);
            let out = second.forward(pool, &[&middle]);
            pool.give(middle);
            out
        };
        let mut skips: Vec<Activation> = Vec::with_capacity(self.down.len());
        skips.push(double_conv(&self.down[0], &[&input]));
        pool.give(input);
        for convs in &self.down[1..] {
            let pooled = max_pool(pool, &skips[skips.len() - 1]);
            skips.push(double_conv(convs, &[&pooled]));
            pool.give(pooled);
        }
        let mut x = skips.pop().expect("depth >= 1");
        for ((up_conv, convs), skip) in self.up.iter().zip(skips.into_iter().rev()) {
            let upsampled = up_conv.forward(pool, &x);
            pool.give(std::mem::replace(&mut x, double_conv(convs, &[&upsampled, &skip])));
            pool.give(upsampled);
            pool.give(skip);
        }
        let logits = self.head_logits(&x);
        pool.give(x);
        Ok(logits)
    }

    /// The 1x1 output convolution, as planar `[classes, height, width]` logits.
    fn head_logits(&self, x: &Activation) -> Vec<f32> {
        let (h, w, c, classes) = (x.height, x.width, x.channels, self.head_bias.len());
        let pitch = x.pitch();
        let mut logits = vec![0.0; classes * h * w];
        let dst = SendPtr(logits.as_mut_ptr());
        for_row_chunks(h, |rows| {
            for y in rows {
                let row = &x.data[((y + 1) * pitch + 1) * c..][..w * c];
                for (k, (weights, bias)) in self.head.chunks_exact(c).zip(&self.head_bias).enumerate() {
                    // SAFETY: row y of plane k belongs to this chunk alone.
                    let out = unsafe { dst.slice((k * h + y) * w, w) };
                    for (v, pixel) in out.iter_mut().zip(row.chunks_exact(c)) {
                        *v = bias + pixel.iter().zip(weights).map(|(a, b)| a * b).sum::<f32>();
                    }
                }
            }
        });
        logits
    }
}

/// A raw pointer that may cross threads; each thread writes disjoint rows through it.
#[derive(Clone, Copy)]
pub(super) struct SendPtr(pub(super) *mut f32);
// SAFETY: only used by `for_row_chunks` bodies (here and in `gemm_kernels`), which write disjoint rows.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer `offset` values further.
    ///
    /// # Safety
    /// As for [`pointer::add`]: the result must stay inside the buffer.
    pub(super) unsafe fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: forwarded to the caller.
        unsafe { self.0.add(offset) }
    }

    /// The `len` values from `offset` on, as a slice that this thread alone uses.
    ///
    /// # Safety
    /// The range must lie inside the buffer, and no other live reference or thread may
    /// touch it while the slice lives.
    pub(super) unsafe fn slice<'a>(self, offset: usize, len: usize) -> &'a mut [f32] {
        // SAFETY: forwarded to the caller.
        unsafe { std::slice::from_raw_parts_mut(self.at(offset), len) }
    }
}

/// Runs `body` on contiguous chunks of `0..rows`, one per thread (natively; on wasm,
/// one chunk on the calling thread).
pub(super) fn for_row_chunks(rows: usize, body: impl Fn(core::ops::Range<usize>) + Sync) {
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        let threads = rayon::current_num_threads().min(rows).max(1);
        (0..threads).into_par_iter().for_each(|t| body(rows * t / threads..rows * (t + 1) / threads));
    }
    #[cfg(target_family = "wasm")]
    body(0..rows);
}

fn conv3x3(conv: &burn::nn::conv::Conv2d, parts: &[usize]) -> Result<Conv3x3> {
    let [out, cin, kh, kw] = conv.weight.dims();
    if (kh, kw) != (3, 3) || parts.iter().sum::<usize>() != cin {
        return Err(Error::invalid(format!(
            "expected a 3x3 convolution over {parts:?} channels, found {out}x{cin}x{kh}x{kw}"
        )));
    }
    Ok(Conv3x3::new(values(conv.weight.val())?, bias_values(&conv.bias, out)?, cin, parts))
}

fn values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::invalid(format!("reading weights failed: {e:?}")))
}

fn bias_values(bias: &Option<burn::module::Param<Tensor<1>>>, len: usize) -> Result<Vec<f32>> {
    match bias {
        Some(b) => values(b.val()),
        None => Ok(vec![0.0; len]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn compare(config: UNetConfig, size: usize) {
        let device = Device::flex();
        let model = UNet::new(&config, &device).unwrap();
        let input = Tensor::<4>::random([1, 1, size, size], Distribution::Uniform(0.0, 1.0), &device);
        let image = values(input.clone()).unwrap();
        let expected = values(model.forward(input)).unwrap();
        let engine = CpuUNet::new(&model).unwrap();
        // A first call on another image leaves non-zero buffers in the pool: the second
        // must not depend on what they held.
        let other: Vec<f32> = (0..4 * size * size).map(|i| (i % 7) as f32).collect();
        engine.forward(&other, 2 * size, 2 * size).unwrap();
        let actual = engine.forward(&image, size, size).unwrap();
        assert_eq!(actual.len(), expected.len());
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, e) in actual.iter().zip(&expected) {
            assert!((a - e).abs() <= 1e-4 * scale.max(1.0), "{a} vs {e} (scale {scale})");
        }
    }

    #[test]
    fn matches_burn_forward_on_compact_shapes() {
        compare(UNetConfig::compact().with_base_channels(4), 32);
    }

    #[test]
    fn matches_burn_forward_when_rows_split_into_several_blocks() {
        // 258 x 2 values per row: 127-row blocks at the top level, so 256 rows take 3 blocks.
        compare(UNetConfig::compact().with_base_channels(2), 256);
    }

    #[test]
    fn matches_burn_forward_with_folded_batch_norm_and_non_square_input() {
        let config = UNetConfig { depth: 3, batch_norm: true, ..UNetConfig::compact().with_base_channels(3) };
        let device = Device::flex();
        let model = UNet::new(&config, &device).unwrap();
        let (h, w) = (12, 20);
        let input = Tensor::<4>::random([1, 1, h, w], Distribution::Uniform(0.0, 1.0), &device);
        let image = values(input.clone()).unwrap();
        let expected = values(model.clone().fold_batch_norm().forward(input)).unwrap();
        let actual = CpuUNet::new(&model).unwrap().forward(&image, h, w).unwrap();
        for (a, e) in actual.iter().zip(&expected) {
            assert!((a - e).abs() <= 1e-4, "{a} vs {e}");
        }
    }

    #[test]
    fn refuses_valid_padding_and_bad_sizes() {
        let device = Device::flex();
        let seed_like = UNetConfig { depth: 2, ..UNetConfig::seed().with_base_channels(2) };
        assert!(CpuUNet::new(&UNet::new(&seed_like, &device).unwrap()).is_err());
        let engine = CpuUNet::new(&UNet::new(&UNetConfig::compact().with_base_channels(2), &device).unwrap()).unwrap();
        assert!(engine.forward(&[0.0; 10 * 16], 10, 16).is_err());
        assert!(engine.forward(&[0.0; 5], 16, 16).is_err());
    }
}
