//! The robustness check behind `unetseg robustness`: labelled slices shifted the way
//! users' images differ from ISBI's (another pixel size, tone curve, noise, blur,
//! compression, contrast or polarity), each version segmented as `unetseg eval`
//! segments and scored as one stack by the challenge's V_rand
//! ([`metrics::stack_report`] of the probability maps), beside the unshifted slices.
//!
//! Shifts are made from the 8-bit slice ([`GrayImage::to_u8`]); the unshifted row
//! predicts from the page as it was read, so it is exactly `eval`'s score. Only
//! [`Shift::Scale`] changes the geometry: the mask is resampled by nearest
//! neighbour and the slice is scored at its shifted size.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::augment::{contrast, gamma, gaussian_blur, gaussian_noise, invert, resize, resize_nearest, scaled_size};
use crate::error::{Error, Result};
use crate::imageio::{decode_pages, GrayImage};
use crate::inference::{predict_probability, Network, TileOptions};
use crate::metrics::{self, MetricsReport, SliceScores};
use crate::raster::GrayU8;

/// One way of shifting a slice away from what the network was trained on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shift {
    /// The slice as it is.
    None,
    /// Rescaled by this factor: area-averaged when shrinking, bilinear when growing
    /// ([`resize`]), the mask by nearest neighbour.
    Scale(f64),
    /// The gamma curve `v -> 255 (v / 255)^gamma` ([`gamma`]): below 1 brighter.
    Gamma(f64),
    /// Gaussian noise of this standard deviation in gray levels, rounded and clipped
    /// ([`gaussian_noise`]).
    Noise(f64),
    /// Gaussian blur of this sigma in pixels ([`gaussian_blur`]).
    Blur(f64),
    /// JPEG compression at this quality (1-100), decoded back.
    Jpeg(u8),
    /// Contrast scaled by this factor around the slice's mean ([`contrast`]).
    Contrast(f64),
    /// Inverted contrast, `v -> 255 - v` ([`invert`]).
    Invert,
}

/// The shifts of the check, the unshifted slices first: rescaled 0.5x and 2x, gamma
/// 0.6 and 1.6, noise sigma 15, blur sigma 1.5, JPEG quality 30, contrast x0.5,
/// inverted.
pub const SHIFTS: [Shift; 10] = [
    Shift::None,
    Shift::Scale(0.5),
    Shift::Scale(2.0),
    Shift::Gamma(0.6),
    Shift::Gamma(1.6),
    Shift::Noise(15.0),
    Shift::Blur(1.5),
    Shift::Jpeg(30),
    Shift::Contrast(0.5),
    Shift::Invert,
];

impl Shift {
    /// A short name for tables and JSON: `none`, `scale-0.5x`, `gamma-0.6`, `noise-15`,
    /// `blur-1.5`, `jpeg-30`, `contrast-0.5`, `invert`.
    pub fn name(&self) -> String {
        match *self {
            Shift::None => "none".into(),
            Shift::Scale(f) => format!("scale-{f}x"),
            Shift::Gamma(g) => format!("gamma-{g}"),
            Shift::Noise(s) => format!("noise-{s}"),
            Shift::Blur(s) => format!("blur-{s}"),
            Shift::Jpeg(q) => format!("jpeg-{q}"),
            Shift::Contrast(c) => format!("contrast-{c}"),
            Shift::Invert => "invert".into(),
        }
    }

    /// What the shift does, in words.
    pub fn description(&self) -> String {
        match *self {
            Shift::None => "unshifted".into(),
            Shift::Scale(f) => format!("rescaled {f}x (mask nearest, scored at that size)"),
            Shift::Gamma(g) => format!("gamma {g} ({})", if g < 1.0 { "brighter" } else { "darker" }),
            Shift::Noise(s) => format!("Gaussian noise, sigma {s} gray levels"),
            Shift::Blur(s) => format!("Gaussian blur, sigma {s} px"),
            Shift::Jpeg(q) => format!("JPEG, quality {q}"),
            Shift::Contrast(c) => format!("contrast x{c} around the mean"),
            Shift::Invert => "inverted contrast".into(),
        }
    }

    /// The shifted 8-bit `image` and its `mask` (changed only by a rescale); `rng`
    /// draws the noise.
    pub fn apply<R: Rng + ?Sized>(&self, image: &GrayU8, mask: &GrayU8, rng: &mut R) -> Result<(GrayU8, GrayU8)> {
        let shifted = match *self {
            Shift::None => image.clone(),
            Shift::Scale(factor) => {
                let (w, h) = scaled_size(image.width(), image.height(), factor);
                return Ok((resize(image, w, h)?, resize_nearest(mask, w, h)?));
            }
            Shift::Gamma(g) => gamma(image, g)?,
            Shift::Noise(sigma) => gaussian_noise(image, sigma, rng)?,
            Shift::Blur(sigma) => gaussian_blur(image, sigma)?,
            Shift::Jpeg(quality) => jpeg_round_trip(image, quality)?,
            Shift::Contrast(factor) => contrast(image, factor)?,
            Shift::Invert => invert(image),
        };
        Ok((shifted, mask.clone()))
    }
}

/// `image` encoded as a gray JPEG of `quality` (1-100) by the `image` crate and decoded
/// back as a user's JPEG would be.
pub fn jpeg_round_trip(image: &GrayU8, quality: u8) -> Result<GrayU8> {
    let (w, h) = image.dims();
    let fail = |e: image::ImageError| Error::invalid(format!("JPEG encoding failed: {e}"));
    let (width, height) = (u32::try_from(w), u32::try_from(h));
    let (Ok(width), Ok(height)) = (width, height) else {
        return Err(Error::invalid(format!("cannot encode a {w}x{h} image as JPEG")));
    };
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode(image.data(), width, height, image::ExtendedColorType::L8)
        .map_err(fail)?;
    let name = format!("the JPEG of quality {quality}");
    let page = decode_pages(&bytes, &name)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::invalid(format!("{name} holds no image")))?;
    Ok(page.to_u8())
}

/// One labelled slice of the check.
pub struct LabelledSlice {
    /// Its name, for messages.
    pub name: String,
    /// The page as read (any bit depth).
    pub image: GrayImage,
    /// Its 0/255 mask, of the same size.
    pub mask: GrayU8,
}

/// The score of the slices under one shift.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShiftScore {
    /// The shift.
    pub shift: Shift,
    /// The slices' probability maps scored as one stack ([`metrics::stack_report`]).
    pub stack: MetricsReport,
}

/// Segments every slice under every shift of `shifts` with `network` (tiled as
/// `tiles` says, as `eval` does) and scores each shift's slices as one stack. The
/// noise of slice `k` (counting from 0) is drawn from `ChaCha8Rng` seeded with
/// `seed + k`, so a slice's noise does not depend on the others. `progress(shift)`
/// is called before each shift. Fails, naming the slice, when a prediction or
/// score fails, and when there are no slices.
pub fn check(
    network: &Network,
    slices: &[LabelledSlice],
    shifts: &[Shift],
    tiles: &TileOptions,
    seed: u64,
    mut progress: impl FnMut(&Shift),
) -> Result<Vec<ShiftScore>> {
    if slices.is_empty() {
        return Err(Error::invalid("the robustness check needs at least one slice"));
    }
    let eight_bit: Vec<GrayU8> = slices.iter().map(|s| s.image.to_u8()).collect();
    shifts
        .iter()
        .map(|shift| {
            progress(shift);
            let scored = slices
                .iter()
                .zip(&eight_bit)
                .enumerate()
                .map(|(k, (slice, image))| {
                    score(network, slice, image, shift, tiles, seed, k)
                        .map_err(|e| Error::file(&slice.name, format!("{}: {e}", shift.name())))
                })
                .collect::<Result<Vec<SliceScores>>>()?;
            let stack = metrics::stack_report(&scored).expect("at least one slice");
            Ok(ShiftScore { shift: *shift, stack })
        })
        .collect()
}

/// Slice `k` (counting from 0) of the check under `shift`, as [`check`] segments and
/// scores it: `image` (the slice's 8-bit page) and its `mask` shifted by
/// [`Shift::apply`], the noise drawn from `ChaCha8Rng` seeded with `seed + k`.
/// `unetseg robustness --write-shifts` writes these. (For [`Shift::None`] the check
/// predicts from the page as read instead, which differs for pages of more than 8 bits.)
pub fn shifted_slice(image: &GrayU8, mask: &GrayU8, shift: &Shift, seed: u64, k: usize) -> Result<(GrayU8, GrayU8)> {
    shift.apply(image, mask, &mut ChaCha8Rng::seed_from_u64(seed.wrapping_add(k as u64)))
}

/// Slice `k` under one shift, segmented and scored.
fn score(
    network: &Network,
    slice: &LabelledSlice,
    image: &GrayU8,
    shift: &Shift,
    tiles: &TileOptions,
    seed: u64,
    k: usize,
) -> Result<SliceScores> {
    if *shift == Shift::None {
        let probability = predict_probability(network, slice.image.samples(), tiles, |_, _| {})?;
        return metrics::score_slice(&probability, &slice.mask);
    }
    let (shifted, mask) = shifted_slice(image, &slice.mask, shift, seed, k)?;
    let probability = predict_probability(network, &shifted, tiles, |_, _| {})?;
    metrics::score_slice(&probability, &mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::Raster;

    #[test]
    fn names_are_unique_and_start_with_the_unshifted() {
        let names: Vec<String> = SHIFTS.iter().map(Shift::name).collect();
        assert_eq!(names[0], "none");
        assert_eq!(names[1..3], ["scale-0.5x", "scale-2x"]);
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn only_a_rescale_changes_the_size_and_the_mask() {
        let image = Raster::from_fn(40, 30, |x, y| (x * 5 + y) as u8);
        let mask = image.map(|v| if v > 100 { 255u8 } else { 0 });
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for shift in SHIFTS {
            let (shifted, shifted_mask) = shift.apply(&image, &mask, &mut rng).unwrap();
            assert_eq!(shifted.dims(), shifted_mask.dims(), "{shift:?}");
            assert!(shifted_mask.data().iter().all(|&v| v == 0 || v == 255), "{shift:?}");
            match shift {
                Shift::Scale(f) => assert_eq!(shifted.dims(), ((40.0 * f) as usize, (30.0 * f) as usize)),
                Shift::None => assert_eq!((shifted, shifted_mask), (image.clone(), mask.clone())),
                _ => {
                    assert_eq!(shifted.dims(), (40, 30));
                    assert_ne!(shifted, image, "{shift:?}");
                    assert_eq!(shifted_mask, mask);
                }
            }
        }
    }

    #[test]
    fn a_shifted_slice_draws_its_noise_from_the_seed_plus_its_position() {
        let image = Raster::from_fn(32, 24, |x, y| (x * 7 + y * 3) as u8);
        let mask = image.map(|v| if v > 100 { 255u8 } else { 0 });
        let noise = Shift::Noise(15.0);
        let (third, third_mask) = shifted_slice(&image, &mask, &noise, 5, 2).unwrap();
        let (expected, _) = noise.apply(&image, &mask, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
        assert_eq!((&third, &third_mask), (&expected, &mask));
        assert_ne!(shifted_slice(&image, &mask, &noise, 5, 1).unwrap().0, third);
    }

    #[test]
    fn a_jpeg_round_trip_stays_close_and_loses_more_at_lower_quality() {
        let image = Raster::from_fn(64, 48, |x, y| (x * 3 + y * 2 + (x * y) % 7) as u8);
        let error = |quality: u8| {
            let decoded = jpeg_round_trip(&image, quality).unwrap();
            assert_eq!(decoded.dims(), (64, 48));
            let total: u32 = decoded.data().iter().zip(image.data()).map(|(a, b)| u32::from(a.abs_diff(*b))).sum();
            f64::from(total) / (64.0 * 48.0)
        };
        let (fine, coarse) = (error(90), error(30));
        assert!(fine < 2.0 && coarse > fine, "mean errors {fine} at 90, {coarse} at 30");
    }
}
