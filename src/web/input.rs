//! Decoding the files the user drops into pages the network can take, with the
//! page's size limit checked before any pixel is decoded, the smallest page a
//! network can segment, and the annotations fine-tuning takes.

use crate::imageio::{decode_image_file, Page, PageLimit};
use crate::inference::tiling::pooling_grid;
use crate::model::UNetConfig;
use crate::{annotation, Error, GrayU8, Result};

/// Largest page the web page segments, in pixels (4096 x 4096 or the same area). The
/// network, the nine post-processing steps and their renderings need about 80 bytes a
/// pixel at their peak, and a wasm32 module has at most 4 GiB of memory (browsers
/// often grant less), so larger images are refused with a message instead of
/// crashing the worker.
pub const MAX_WEB_PIXELS: u64 = 4096 * 4096;

/// The page's limit, with what to do about it.
pub const WEB_LIMIT: PageLimit = PageLimit {
    max_pixels: MAX_WEB_PIXELS,
    advice: " in the browser (4096 x 4096): crop or downscale it, or run `unetseg segment` on it, which takes up to \
             268 megapixels",
};

/// Decodes every page of the PNG, JPEG or TIFF file `bytes` (`name` is used in
/// messages), each with its pixel size when the file gives one (as
/// [`decode_image_file`] reads them). Fails with a message naming the file when it is
/// corrupt or unsupported, or when a page exceeds [`MAX_WEB_PIXELS`].
pub fn decode_upload(bytes: &[u8], name: &str) -> Result<Vec<Page>> {
    decode_image_file(bytes, name, &WEB_LIMIT)
}

/// Smallest side in pixels that the page segments with a network of `config`: its
/// pooling grid, `2^(depth-1)` (16 for the shipped network). The network halves its
/// input `depth - 1` times with 2x2 max-pooling, so it takes sides that are multiples
/// of the grid; the tiling ([`crate::inference::tiling`]) mirrors a smaller image up to
/// the grid, and below it most of what the network would see is mirrored copies of the
/// image rather than the image.
pub fn min_side(config: &UNetConfig) -> usize {
    pooling_grid(config)
}

/// Fails, naming `name`, when the `width` x `height` page is smaller than
/// [`min_side`] along either axis, saying what the minimum is and why.
pub fn check_segmentable(width: usize, height: usize, config: &UNetConfig, name: &str) -> Result<()> {
    let side = min_side(config);
    if width >= side && height >= side {
        return Ok(());
    }
    Err(Error::file(
        name,
        format!(
            "the image is {width} x {height} pixels, too small to segment: this network needs at least {side} x {side} \
             pixels, because it halves the image {} times (2x2 pooling) and a smaller image would be mostly mirrored \
             copies of itself",
            config.depth - 1
        ),
    ))
}

/// Decodes the annotation file `bytes` (`name` in messages) of a `width` x `height`
/// page: one 8-bit gray page (a colour file is converted to gray) of that size, every
/// pixel 0 (membrane), 128 (unlabelled) or 255 (cell). Fails naming the file otherwise.
pub fn decode_annotation(bytes: &[u8], name: &str, width: usize, height: usize) -> Result<GrayU8> {
    let mut pages = decode_upload(bytes, name)?;
    if pages.len() != 1 {
        return Err(Error::file(name, format!("an annotation is one image; this file has {} pages", pages.len())));
    }
    let page = pages.remove(0).image;
    if page.bit_depth() != 8 {
        return Err(Error::file(
            name,
            format!("an annotation is an 8-bit image (0, 128, 255); this one has {} bits a sample", page.bit_depth()),
        ));
    }
    if (page.width(), page.height()) != (width, height) {
        return Err(Error::file(
            name,
            format!(
                "the annotation is {} x {} pixels, its image {width} x {height}: they must be the same size",
                page.width(),
                page.height()
            ),
        ));
    }
    let mask = page.to_u8();
    annotation::check(&mask).map_err(|e| Error::file(name, e))?;
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imageio::encode_png_u8;
    use crate::GrayU8;

    #[test]
    fn pages_over_the_limit_are_refused_naming_the_file() {
        let wide = encode_png_u8(&GrayU8::filled(8193, 2049, 0)).unwrap();
        let message = decode_upload(&wide, "wide.png").unwrap_err().to_string();
        assert!(message.starts_with("wide.png: the image is 8193 x 2049 pixels"), "{message}");
        assert!(message.contains("exceeds the limit of 16777216 pixels") && message.contains("unetseg segment"));
        let fits = encode_png_u8(&GrayU8::filled(4096, 4096, 0)).unwrap();
        assert_eq!(decode_upload(&fits, "fits.png").unwrap().len(), 1);
    }

    #[test]
    fn pages_under_the_pooling_grid_are_too_small_and_the_message_says_why() {
        let compact = UNetConfig::compact();
        assert_eq!(min_side(&compact), 16);
        let message = check_segmentable(1, 1, &compact, "tiny.png").unwrap_err().to_string();
        assert!(message.starts_with("tiny.png: the image is 1 x 1 pixels, too small"), "{message}");
        assert!(
            message.contains("at least 16 x 16 pixels") && message.contains("halves the image 4 times"),
            "{message}"
        );
        assert!(check_segmentable(2000, 15, &compact, "strip.png").is_err());
        check_segmentable(16, 16, &compact, "sixteen.png").unwrap();
        check_segmentable(12000, 100, &compact, "wide.png").unwrap();
        let shallow = UNetConfig { depth: 3, ..compact };
        assert_eq!(min_side(&shallow), 4);
    }

    #[test]
    fn annotations_of_the_right_size_and_levels_decode_and_others_are_refused_naming_the_file() {
        let mut mask = GrayU8::filled(40, 24, 128);
        mask.data_mut()[..40].fill(0);
        mask.data_mut()[40..80].fill(255);
        let png = encode_png_u8(&mask).unwrap();
        assert_eq!(decode_annotation(&png, "a.png", 40, 24).unwrap(), mask);
        let size = decode_annotation(&png, "a.png", 24, 40).unwrap_err().to_string();
        assert!(size.starts_with("a.png: the annotation is 40 x 24 pixels, its image 24 x 40"), "{size}");
        mask.data_mut()[100] = 77;
        let values = decode_annotation(&encode_png_u8(&mask).unwrap(), "b.png", 40, 24).unwrap_err().to_string();
        assert!(values.starts_with("b.png: ") && values.contains("77"), "{values}");
        let corrupt = decode_annotation(b"not an image", "c.png", 40, 24).unwrap_err().to_string();
        assert!(corrupt.starts_with("c.png: "), "{corrupt}");
    }
}
