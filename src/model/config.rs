//! The U-Net architecture as data: depth, widths, padding, normalisation,
//! and the size arithmetic that follows from them.

use serde::{Deserialize, Serialize};

use crate::normalization::Normalization;
use crate::{Error, Result};

/// How the 3x3 convolutions treat the border.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// No padding: each 3x3 convolution loses one pixel per side (the original U-Net, 572 -> 388).
    Valid,
    /// Zero padding of one pixel: every convolution keeps the size, output = input.
    Same,
}

/// Architecture of a [`UNet`](super::UNet). Travels with the weights (see [`super::weights`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UNetConfig {
    /// Number of levels including the bottom one (5 in the original: 4 pools, 4 up-convolutions).
    pub depth: usize,
    /// Channels of the first level; level `i` has `base_channels * 2^i`.
    pub base_channels: usize,
    /// Border treatment of the 3x3 convolutions.
    pub padding: Padding,
    /// Batch normalisation after each 3x3 convolution (before its ReLU).
    pub batch_norm: bool,
    /// Channels of the input image (1: grayscale).
    pub in_channels: usize,
    /// Number of output classes (2: membrane, cell).
    pub classes: usize,
    /// How input images are scaled to `[0, 1]` before the network (min-max in weights
    /// files that do not say, such as every one made before the field existed).
    #[serde(default)]
    pub normalization: Normalization,
}

impl UNetConfig {
    /// The original project's CleanU_Net: valid 3x3 convolutions, 64-128-256-512-1024, no batch norm.
    pub fn seed() -> Self {
        Self {
            depth: 5,
            base_channels: 64,
            padding: Padding::Valid,
            batch_norm: false,
            in_channels: 1,
            classes: 2,
            normalization: Normalization::MinMax,
        }
    }

    /// The web default: the same layers and parameter names as [`seed`](Self::seed) at
    /// 16-32-64-128-256 channels, with same-padded convolutions (output size = input size).
    pub fn compact() -> Self {
        Self { base_channels: 16, padding: Padding::Same, ..Self::seed() }
    }

    /// This configuration with `base_channels` replaced.
    pub fn with_base_channels(self, base_channels: usize) -> Self {
        Self { base_channels, ..self }
    }

    /// Checks that the numbers describe a buildable network.
    pub fn validate(&self) -> Result<()> {
        if self.depth < 1 || self.depth > 8 {
            return Err(Error::invalid(format!("U-Net depth must be 1..=8, got {}", self.depth)));
        }
        if self.base_channels == 0 || self.base_channels > 4096 {
            return Err(Error::invalid(format!("U-Net base_channels must be 1..=4096, got {}", self.base_channels)));
        }
        if self.in_channels == 0 || self.classes == 0 {
            return Err(Error::invalid("U-Net in_channels and classes must be at least 1"));
        }
        Ok(())
    }

    /// Channels of level `level` (0 = top, `depth - 1` = bottom).
    pub fn channels_at(&self, level: usize) -> usize {
        self.base_channels << level
    }

    /// Pixels lost by one 3x3 convolution (0 when same-padded, 2 when valid).
    fn conv_loss(&self) -> usize {
        match self.padding {
            Padding::Valid => 2,
            Padding::Same => 0,
        }
    }

    /// Output height/width for an input of `input` pixels, or `None` when the network
    /// cannot take that size (a pooled size would be odd, or a size would vanish).
    pub fn output_size(&self, input: usize) -> Option<usize> {
        let loss = 2 * self.conv_loss();
        let mut n = input;
        for level in 0..self.depth {
            n = n.checked_sub(loss).filter(|&v| v > 0)?;
            if level + 1 < self.depth {
                if n % 2 != 0 {
                    return None;
                }
                n /= 2;
            }
        }
        for _ in 1..self.depth {
            n = (n * 2).checked_sub(loss).filter(|&v| v > 0)?;
        }
        Some(n)
    }

    /// The smallest input size of at least `n` pixels that [`output_size`](Self::output_size) accepts.
    pub fn valid_input_size_at_least(&self, n: usize) -> usize {
        (n.max(1)..).find(|&s| self.output_size(s).is_some()).unwrap_or(n)
    }

    /// Pixels lost per side between input and output (92 for the seed preset, 0 when same-padded).
    pub fn margin(&self) -> usize {
        let input = self.valid_input_size_at_least(1);
        let output = self.output_size(input).unwrap_or(input);
        (input - output) / 2
    }

    /// Number of trainable parameters (weights and biases, plus batch-norm scale and shift).
    pub fn parameter_count(&self) -> usize {
        let conv = |cin: usize, cout: usize, k: usize| cin * cout * k * k + cout;
        let norm = |c: usize| if self.batch_norm { 2 * c } else { 0 };
        let double = |cin: usize, cout: usize| conv(cin, cout, 3) + norm(cout) + conv(cout, cout, 3) + norm(cout);
        let mut total = 0;
        for level in 0..self.depth {
            let cin = if level == 0 { self.in_channels } else { self.channels_at(level - 1) };
            total += double(cin, self.channels_at(level));
        }
        for level in (0..self.depth - 1).rev() {
            let (below, here) = (self.channels_at(level + 1), self.channels_at(level));
            total += conv(below, here, 2) + double(2 * here, here);
        }
        total + conv(self.base_channels, self.classes, 1)
    }
}
