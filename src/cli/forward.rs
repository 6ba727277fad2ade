//! `unetseg forward`: one forward pass of the network over a whole image, with no
//! tiling, writing the raw logits as a float32 `.npy` file for cross-checking
//! against other implementations (PyTorch, ONNX Runtime).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};

use crate::imageio::read_pages;
use crate::model::{self, Padding, UNet, UNetConfig};
use crate::raster::SampleRows;
use crate::{Error, Result};

/// Arguments of `unetseg forward`.
#[derive(clap::Args, Debug)]
pub struct ForwardArgs {
    /// Weights file (unetseg safetensors, as written by `train` or `import-pytorch`).
    #[arg(long)]
    pub weights: PathBuf,
    /// Input image (first page of a multi-page TIFF); its size must suit the network.
    #[arg(long)]
    pub input: PathBuf,
    /// Output `.npy` file: float32 logits of shape [classes, H', W'].
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the subcommand on the CPU.
pub fn run(args: ForwardArgs) -> Result<()> {
    let device = Device::flex();
    let model = model::load(&args.weights, &device)?;
    let page = read_pages(&args.input)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::file(&args.input, "the file holds no image"))?;
    let (shape, logits) = whole_image_logits(&model, page.samples(), &args.input)?;
    std::fs::write(&args.out, encode_npy_f32(&shape, &logits))
        .map_err(|e| Error::file(&args.out, format!("cannot write: {e}")))?;
    println!(
        "{}: {}x{} -> logits [{}, {}, {}] written to {}",
        args.input.display(),
        page.width(),
        page.height(),
        shape[0],
        shape[1],
        shape[2],
        args.out.display()
    );
    Ok(())
}

/// Logits `[classes, H', W']` of one forward pass over `image`, scaled to `[0, 1]`
/// over the whole image by the network's normalisation (as tiled inference does).
/// Fails, listing the accepted sizes, when the network cannot take the image's size.
fn whole_image_logits(model: &UNet, image: &dyn SampleRows, path: &Path) -> Result<([usize; 3], Vec<f32>)> {
    let config = model.config();
    let (w, h) = image.dims();
    for (axis, size) in [("width", w), ("height", h)] {
        if config.output_size(size).is_none() {
            return Err(Error::file(
                path,
                format!("image {axis} {size} does not suit the network: {}", accepted_sizes(config, size)),
            ));
        }
    }
    let scale = config.normalization.range_of(image);
    let columns: Vec<usize> = (0..w).collect();
    let mut pixels = Vec::with_capacity(w * h);
    for y in 0..h {
        image.gather_row(y, &columns, &|v| scale.apply(v), &mut pixels);
    }
    let device = model.conv_out.weight.device();
    let input = Tensor::<4>::from_data(TensorData::new(pixels, [1, 1, h, w]), &device);
    let logits = model.forward(input);
    let [_, classes, oh, ow] = logits.dims();
    let data = logits.try_into_data().map_err(|e| Error::invalid(format!("reading the logits back failed: {e:?}")))?;
    let values = data
        .try_into_vec::<f32>()
        .map_err(|e| Error::invalid(format!("the network returned non-f32 logits: {e:?}")))?;
    Ok(([classes, oh, ow], values))
}

/// Which sizes the network takes, and the two nearest to `size`.
fn accepted_sizes(config: &UNetConfig, size: usize) -> String {
    let rule = match config.padding {
        Padding::Same => format!("multiples of {}", 1usize << (config.depth - 1)),
        Padding::Valid => {
            let first: Vec<String> =
                (1..).filter(|&s| config.output_size(s).is_some()).take(3).map(|s| s.to_string()).collect();
            format!("{}, ... in steps of {}", first.join(", "), 1usize << (config.depth - 1))
        }
    };
    let below = (1..size).rev().find(|&s| config.output_size(s).is_some());
    let above = config.valid_input_size_at_least(size);
    let nearest = match below {
        Some(b) => format!("{b} or {above}"),
        None => above.to_string(),
    };
    format!("this {:?}-padded network of depth {} accepts {rule} (nearest: {nearest})", config.padding, config.depth)
        .to_lowercase()
}

/// A NumPy `.npy` file (format 1.0) holding `values` as little-endian float32 of
/// C-ordered `shape`.
fn encode_npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + header length (2) + header, padded with spaces
    // and ended by a newline so that the data starts on a 64-byte boundary.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * values.len());
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_describes_the_array() {
        let bytes = encode_npy_f32(&[2, 3, 4], &[0.5; 24]);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + header_len + 96);
        assert_eq!(&bytes[10 + header_len..10 + header_len + 4], &0.5f32.to_le_bytes());
    }

    #[test]
    fn accepted_sizes_name_the_neighbours() {
        let seed = accepted_sizes(&UNetConfig::seed(), 500);
        assert!(seed.contains("188, 204, 220") && seed.contains("492 or 508"), "{seed}");
        let compact = accepted_sizes(&UNetConfig::compact(), 500);
        assert!(compact.contains("multiples of 16") && compact.contains("496 or 512"), "{compact}");
    }
}
