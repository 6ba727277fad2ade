//! The U-Net network itself (burn modules), generic over the device it runs on.
//!
//! Parameter layout and its correspondence with the original PyTorch `CleanU_Net`
//! (level `i` counts from 1 in PyTorch, from 0 here):
//!
//! | PyTorch name                        | burn path                           |
//! |-------------------------------------|-------------------------------------|
//! | `Conv_down{i}.conv.conv.0.{w,b}`    | `conv_down.{i-1}.conv.conv1.{w,b}`  |
//! | `Conv_down{i}.conv.conv.2.{w,b}`    | `conv_down.{i-1}.conv.conv2.{w,b}`  |
//! | `Conv_up{i}.up.{w,b}`               | `conv_up.{i-1}.up.{w,b}`            |
//! | `Conv_up{i}.conv.conv.0.{w,b}`      | `conv_up.{i-1}.conv.conv1.{w,b}`    |
//! | `Conv_up{i}.conv.conv.2.{w,b}`      | `conv_up.{i-1}.conv.conv2.{w,b}`    |
//! | `Conv_out.{w,b}`                    | `conv_out.{w,b}`                    |
//!
//! `Conv_up1` is the deepest up-convolution (1024 -> 512 in the seed preset), as in
//! the original. Tensor shapes are identical in both frameworks (`[out, in, kh, kw]`
//! for convolutions, `[in, out, kh, kw]` for transposed convolutions), so no transposes
//! are needed. With `batch_norm` the blocks also hold `norm1`/`norm2`, which the
//! original has no counterpart for.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::config::{Padding, UNetConfig};
use crate::Result;

/// Two 3x3 convolutions, each followed by (optional batch norm and) a ReLU.
#[derive(Module, Debug)]
pub struct DoubleConv {
    /// First 3x3 convolution (PyTorch `conv.0`).
    pub conv1: Conv2d,
    /// Batch norm after `conv1`, when the config asks for it.
    pub norm1: Option<BatchNorm>,
    /// Second 3x3 convolution (PyTorch `conv.2`).
    pub conv2: Conv2d,
    /// Batch norm after `conv2`, when the config asks for it.
    pub norm2: Option<BatchNorm>,
}

impl DoubleConv {
    fn new(config: &UNetConfig, channels_in: usize, channels_out: usize, device: &Device) -> Self {
        let padding = match config.padding {
            Padding::Valid => PaddingConfig2d::Valid,
            Padding::Same => PaddingConfig2d::Explicit(1, 1, 1, 1),
        };
        // He initialisation (normal, gain sqrt 2): keeps the activations' scale through the
        // ReLU stack, which matters without batch norm (PyTorch's default starts much smaller).
        let he = Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: false };
        let conv = |cin: usize| {
            Conv2dConfig::new([cin, channels_out], [3, 3])
                .with_padding(padding.clone())
                .with_initializer(he.clone())
                .init(device)
        };
        let norm = || config.batch_norm.then(|| BatchNormConfig::new(channels_out).init(device));
        Self { conv1: conv(channels_in), norm1: norm(), conv2: conv(channels_out), norm2: norm() }
    }

    /// Applies conv -> (norm) -> ReLU twice.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.conv1.forward(x);
        if let Some(norm) = &self.norm1 {
            x = norm.forward(x);
        }
        x = self.conv2.forward(relu(x));
        if let Some(norm) = &self.norm2 {
            x = norm.forward(x);
        }
        relu(x)
    }

    /// The same function without batch norm: each norm (in inference mode, i.e. with its
    /// running statistics) folded into the convolution before it.
    fn fold_batch_norm(self) -> Self {
        Self { conv1: fold(self.conv1, self.norm1), norm1: None, conv2: fold(self.conv2, self.norm2), norm2: None }
    }
}

/// `conv` followed by inference-mode `norm`, as one convolution:
/// `w' = w * s`, `b' = (b - mean) * s + beta` with `s = gamma / sqrt(var + eps)` per output channel.
fn fold(conv: Conv2d, norm: Option<BatchNorm>) -> Conv2d {
    let Some(norm) = norm else { return conv };
    let weight = conv.weight.val();
    let [channels, _, _, _] = weight.dims();
    let scale = norm.gamma.val() / norm.running_var.value().add_scalar(norm.epsilon).sqrt();
    let bias = match &conv.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([channels], &weight.device()),
    };
    let bias = (bias - norm.running_mean.value()) * scale.clone() + norm.beta.val();
    let weight = weight * scale.reshape([channels, 1, 1, 1]);
    Conv2d { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)), ..conv }
}

/// One level of the contracting path (PyTorch `Conv_down{i}`); the 2x2 max-pool
/// between levels belongs to the network, it has no parameters.
#[derive(Module, Debug)]
pub struct DownBlock {
    /// The level's two convolutions.
    pub conv: DoubleConv,
}

/// One level of the expanding path (PyTorch `Conv_up{i}`): 2x2 stride-2 transposed
/// convolution, concatenation with the centre-cropped skip, two convolutions.
#[derive(Module, Debug)]
pub struct UpBlock {
    /// The 2x2 stride-2 transposed convolution halving the channels.
    pub up: ConvTranspose2d,
    /// The two convolutions after the concatenation.
    pub conv: DoubleConv,
}

impl UpBlock {
    /// Upsamples `below`, concatenates `cat(upsampled, cropped skip)` on the channel axis, convolves.
    pub fn forward(&self, below: Tensor<4>, skip: Tensor<4>) -> Tensor<4> {
        let up = self.up.forward(below);
        let [_, _, h, w] = up.dims();
        let skip = center_crop(skip, h, w);
        self.conv.forward(Tensor::cat(vec![up, skip], 1))
    }
}

/// The centre `h` x `w` window of `x` (the original's `extract_img`).
fn center_crop(x: Tensor<4>, h: usize, w: usize) -> Tensor<4> {
    let [_, _, xh, xw] = x.dims();
    if xh == h && xw == w {
        return x;
    }
    x.narrow(2, (xh - h) / 2, h).narrow(3, (xw - w) / 2, w)
}

/// A U-Net: `depth` levels down (each a [`DownBlock`], max-pooled in between), `depth - 1`
/// levels up (each an [`UpBlock`]), and a 1x1 convolution to the class logits.
#[derive(Module, Debug)]
pub struct UNet {
    /// Contracting path, top level first (PyTorch `Conv_down1..Conv_down{depth}`).
    pub conv_down: Vec<DownBlock>,
    /// Expanding path, deepest level first (PyTorch `Conv_up1..Conv_up{depth-1}`).
    pub conv_up: Vec<UpBlock>,
    /// Final 1x1 convolution to `classes` logits (PyTorch `Conv_out`).
    pub conv_out: Conv2d,
    /// 2x2 max-pool, stride 2.
    pub pool: MaxPool2d,
    /// The architecture this network was built from.
    #[module(skip)]
    pub config: UNetConfig,
}

impl UNet {
    /// A freshly initialised network on `device`: He-normal 3x3 convolutions, burn's
    /// (PyTorch-style) Kaiming-uniform default for the up and output convolutions.
    pub fn new(config: &UNetConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let conv_down = (0..config.depth)
            .map(|level| {
                let cin = if level == 0 { config.in_channels } else { config.channels_at(level - 1) };
                DownBlock { conv: DoubleConv::new(config, cin, config.channels_at(level), device) }
            })
            .collect();
        let conv_up = (0..config.depth - 1)
            .rev()
            .map(|level| {
                let (below, here) = (config.channels_at(level + 1), config.channels_at(level));
                UpBlock {
                    up: ConvTranspose2dConfig::new([below, here], [2, 2]).with_stride([2, 2]).init(device),
                    conv: DoubleConv::new(config, 2 * here, here, device),
                }
            })
            .collect();
        let conv_out = Conv2dConfig::new([config.base_channels, config.classes], [1, 1]).init(device);
        let pool = MaxPool2dConfig::new([2, 2]).init();
        Ok(Self { conv_down, conv_up, conv_out, pool, config: config.clone() })
    }

    /// The architecture of this network.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// The same network without batch norm (each norm folded into its convolution, see
    /// [`DoubleConv`]); gives the inference-mode outputs of `self`. Unchanged when the
    /// network has no batch norm.
    pub fn fold_batch_norm(self) -> Self {
        if !self.config.batch_norm {
            return self;
        }
        let fold_down = |b: DownBlock| DownBlock { conv: b.conv.fold_batch_norm() };
        let fold_up = |b: UpBlock| UpBlock { up: b.up, conv: b.conv.fold_batch_norm() };
        Self {
            conv_down: self.conv_down.into_iter().map(fold_down).collect(),
            conv_up: self.conv_up.into_iter().map(fold_up).collect(),
            conv_out: self.conv_out,
            pool: self.pool,
            config: UNetConfig { batch_norm: false, ..self.config },
        }
    }

    /// Class logits `[N, classes, H', W']` for a batch `[N, in_channels, H, W]`, where
    /// `H' = config.output_size(H)` (the caller picks sizes that `output_size` accepts).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut skips = Vec::with_capacity(self.conv_down.len());
        let mut x = x;
        for (level, block) in self.conv_down.iter().enumerate() {
            if level > 0 {
                x = self.pool.forward(x);
            }
            x = block.conv.forward(x);
            skips.push(x.clone());
        }
        // The bottom level's output is `x` itself, not a skip.
        skips.pop();
        for (block, skip) in self.conv_up.iter().zip(skips.into_iter().rev()) {
            x = block.forward(x, skip);
        }
        self.conv_out.forward(x)
    }
}
