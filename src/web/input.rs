//! Decoding the files the user drops into pages the network can take, with the
//! page's size limit checked before any pixel is decoded.

use crate::imageio::{decode_pages_within, GrayImage, PageLimit};
use crate::Result;

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
/// messages). Fails with a message naming the file when it is corrupt or
/// unsupported, or when a page exceeds [`MAX_WEB_PIXELS`].
pub fn decode_upload(bytes: &[u8], name: &str) -> Result<Vec<GrayImage>> {
    decode_pages_within(bytes, name, &WEB_LIMIT)
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
}
