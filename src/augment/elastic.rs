//! Elastic deformation (Simard, Steinkraus & Platt 2003) as the original
//! project applies it: random displacement fields smoothed by a Gaussian,
//! scaled by `alpha`, and applied with bilinear resampling to an image that
//! was mirror-padded first so its borders have something to pull in.

use rand::{Rng, RngExt};

use super::geometry::symmetric_index;
use crate::annotation;
use crate::error::{Error, Result};
use crate::raster::{GrayF32, GrayU8, Raster};

/// Mask values above this become 255 after warping, the rest 0.
const MASK_THRESHOLD: f32 = 127.5;

/// Normalised 1-D Gaussian weights for offsets `-radius..=radius`, with
/// `radius = round(truncate * sigma)` for `truncate = 4`, as
/// `scipy.ndimage.gaussian_filter1d` builds them (also the kernel of
/// [`super::blur::gaussian_blur`]).
pub(super) fn gaussian_kernel(sigma: f64) -> Vec<f32> {
    let radius = (4.0 * sigma + 0.5) as isize;
    let weights: Vec<f64> = (-radius..=radius).map(|x| (-0.5 * (x as f64 / sigma).powi(2)).exp()).collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| (w / total) as f32).collect()
}

/// Smooths `field` with a Gaussian of standard deviation `sigma` pixels,
/// treating everything outside the raster as 0: the same as
/// `scipy.ndimage.gaussian_filter(field, sigma, mode='constant', cval=0,
/// truncate=4.0)` (separable, columns first, then rows; accumulated in
/// `f32`). `sigma` 0 returns the field unchanged; a negative or non-finite
/// `sigma` is an error.
pub fn gaussian_filter_constant(field: &GrayF32, sigma: f64) -> Result<GrayF32> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(Error::invalid(format!("Gaussian smoothing needs a finite sigma >= 0, got {sigma}")));
    }
    if sigma == 0.0 {
        return Ok(field.clone());
    }
    let kernel = gaussian_kernel(sigma);
    let radius = kernel.len() / 2;
    let (w, h) = field.dims();

    // Along columns: each output row is a weighted sum of nearby input rows.
    let mut vertical = vec![0f32; w * h];
    for y in 0..h {
        let out = &mut vertical[y * w..(y + 1) * w];
        for (k, &weight) in kernel.iter().enumerate() {
            let Some(src) = (y + k).checked_sub(radius).filter(|&s| s < h) else { continue };
            for (o, &v) in out.iter_mut().zip(field.row(src)) {
                *o += weight * v;
            }
        }
    }

    // Along rows, through a zero-padded copy of each row.
    let mut smoothed = vec![0f32; w * h];
    let mut padded = vec![0f32; w + 2 * radius];
    for y in 0..h {
        padded[radius..radius + w].copy_from_slice(&vertical[y * w..(y + 1) * w]);
        let out = &mut smoothed[y * w..(y + 1) * w];
        for (k, &weight) in kernel.iter().enumerate() {
            for (o, &v) in out.iter_mut().zip(&padded[k..k + w]) {
                *o += weight * v;
            }
        }
    }
    Raster::new(w, h, smoothed)
}

/// A displacement field for one elastic deformation of a `width` x
/// `height` image. It is defined on the image mirror-padded by `pad` pixels
/// on each side; `dx` moves sampling positions along rows (x), `dy` along
/// columns (y). Apply the same field to an image and its mask.
#[derive(Clone, Debug, PartialEq)]
pub struct ElasticField {
    pad: usize,
    dx: GrayF32,
    dy: GrayF32,
}

impl ElasticField {
    /// Draws a field as the original does: over the padded domain
    /// (`width + 2 pad` x `height + 2 pad`), every `dx` value uniform in
    /// `[-1, 1)`, then every `dy` value, each field smoothed by
    /// [`gaussian_filter_constant`] with `sigma` and multiplied by `alpha`.
    /// The original uses `alpha` 34, `sigma` 6..=12 and `pad` 20.
    pub fn random<R: Rng + ?Sized>(
        width: usize,
        height: usize,
        alpha: f32,
        sigma: f64,
        pad: usize,
        rng: &mut R,
    ) -> Result<Self> {
        if !alpha.is_finite() {
            return Err(Error::invalid(format!("elastic deformation needs a finite alpha, got {alpha}")));
        }
        let (pw, ph) = (width + 2 * pad, height + 2 * pad);
        let mut noise = || Raster::from_fn(pw, ph, |_, _| 2.0 * rng.random::<f32>() - 1.0);
        let (raw_dx, raw_dy) = (noise(), noise());
        let dx = gaussian_filter_constant(&raw_dx, sigma)?.map(|v| v * alpha);
        let dy = gaussian_filter_constant(&raw_dy, sigma)?.map(|v| v * alpha);
        Ok(ElasticField { pad, dx, dy })
    }

    /// A field from given displacements over the padded domain (both rasters
    /// `width + 2 pad` x `height + 2 pad`). Fails when their sizes differ,
    /// are smaller than `2 pad` or hold non-finite values.
    pub fn from_displacements(dx: GrayF32, dy: GrayF32, pad: usize) -> Result<Self> {
        let (w, h) = dx.dims();
        if dy.dims() != (w, h) || w < 2 * pad || h < 2 * pad {
            return Err(Error::invalid(format!(
                "displacements of {w}x{h} and {:?} do not fit a padding of {pad}",
                dy.dims()
            )));
        }
        if dx.data().iter().chain(dy.data()).any(|v| !v.is_finite()) {
            return Err(Error::invalid("displacements must be finite"));
        }
        Ok(ElasticField { pad, dx, dy })
    }

    /// `(width, height)` of the images this field deforms (without padding).
    pub fn image_dims(&self) -> (usize, usize) {
        (self.dx.width() - 2 * self.pad, self.dx.height() - 2 * self.pad)
    }

    /// Bilinear samples of `image` at every displaced position, before
    /// rounding. For output pixel (x, y) the field is read at the padded
    /// position (x + pad, y + pad) = (px, py), and the mirror-padded image is
    /// sampled at (px + dx, py + dy). Positions beyond the padded image
    /// (displacements larger than `pad`) are clamped to its border, where
    /// scipy's `map_coordinates` would read 0 instead.
    fn sample(&self, image: &GrayU8) -> Result<Vec<f32>> {
        let (w, h) = self.image_dims();
        if image.dims() != (w, h) {
            return Err(Error::invalid(format!(
                "elastic field made for {w}x{h} images cannot deform a {}x{} image",
                image.width(),
                image.height()
            )));
        }
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let pad = self.pad as isize;
        let (pw, ph) = self.dx.dims();
        let (max_x, max_y) = ((pw - 1) as f32, (ph - 1) as f32);
        // Pixel of the original image under padded coordinate `p` along an axis of length `n`.
        let source = |p: usize, n: usize| symmetric_index(p as isize - pad, n);
        let mut out = Vec::with_capacity(w * h);
        for y in 0..h {
            let py = y + self.pad;
            let (dx_row, dy_row) = (self.dx.row(py), self.dy.row(py));
            for x in 0..w {
                let px = x + self.pad;
                let sx = (px as f32 + dx_row[px]).clamp(0.0, max_x);
                let sy = (py as f32 + dy_row[px]).clamp(0.0, max_y);
                let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
                let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
                let (x1, y1) = ((x0 + 1).min(pw - 1), (y0 + 1).min(ph - 1));
                let (c0, c1) = (source(x0, w), source(x1, w));
                let (r0, r1) = (image.row(source(y0, h)), image.row(source(y1, h)));
                let top = f32::from(r0[c0]) * (1.0 - fx) + f32::from(r0[c1]) * fx;
                let bottom = f32::from(r1[c0]) * (1.0 - fx) + f32::from(r1[c1]) * fx;
                out.push(top * (1.0 - fy) + bottom * fy);
            }
        }
        Ok(out)
    }

    /// Deforms an image: bilinear resampling (see above), rounded to the
    /// nearest integer. An all-zero field returns the image unchanged. Fails
    /// when the image size differs from the field's.
    pub fn warp_image(&self, image: &GrayU8) -> Result<GrayU8> {
        let (w, h) = image.dims();
        let values = self.sample(image)?;
        Raster::new(w, h, values.into_iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect())
    }

    /// Deforms a 0/255 mask with the same resampling and re-binarises it:
    /// interpolated values above 127.5 become 255, the rest 0. A 3-level annotation
    /// ([`crate::annotation`]) keeps its unlabelled pixels: where the interpolated
    /// share of 128s is above one half the result is 128, elsewhere the cells
    /// (255s) decide as in a binary mask. A binary mask gives the same result
    /// either way.
    pub fn warp_mask(&self, mask: &GrayU8) -> Result<GrayU8> {
        let (w, h) = mask.dims();
        let cell = |v: f32| if v > MASK_THRESHOLD { annotation::CELL } else { annotation::MEMBRANE };
        if !mask.data().contains(&annotation::UNLABELLED) {
            return Raster::new(w, h, self.sample(mask)?.into_iter().map(cell).collect());
        }
        let cells = self.sample(&mask.map(|v| if v == annotation::CELL { 255 } else { 0 }))?;
        let unlabelled = self.sample(&mask.map(|v| if v == annotation::UNLABELLED { 255 } else { 0 }))?;
        let warped = cells
            .into_iter()
            .zip(unlabelled)
            .map(|(c, u)| if u > MASK_THRESHOLD { annotation::UNLABELLED } else { cell(c) })
            .collect();
        Raster::new(w, h, warped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_matches_scipy_radius_and_sum() {
        // scipy: radius = int(4 * sigma + 0.5) -> 24 for sigma 6, 2 for 0.5.
        assert_eq!(gaussian_kernel(6.0).len(), 49);
        assert_eq!(gaussian_kernel(0.5).len(), 5);
        let sum: f32 = gaussian_kernel(12.0).iter().sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }

    #[test]
    fn integer_shift_moves_the_image() {
        // dx = +1 everywhere: output (x, y) reads input (x + 1, y).
        let img = Raster::from_fn(4, 3, |x, y| (10 * y + x) as u8);
        let pad = 2;
        let dx = Raster::filled(8, 7, 1.0f32);
        let dy = Raster::filled(8, 7, 0.0f32);
        let field = ElasticField::from_displacements(dx, dy, pad).unwrap();
        let out = field.warp_image(&img).unwrap();
        // The last column reads the mirrored copy of itself.
        assert_eq!(out.row(0), &[1, 2, 3, 3]);
        assert_eq!(out.row(2), &[21, 22, 23, 23]);
    }

    #[test]
    fn half_pixel_shift_interpolates() {
        let img = Raster::new(2, 1, vec![0u8, 100]).unwrap();
        let field =
            ElasticField::from_displacements(Raster::filled(2, 1, 0.5f32), Raster::filled(2, 1, 0.0f32), 0).unwrap();
        // (0 + 100) / 2 = 50; the last pixel clamps to the border.
        assert_eq!(field.warp_image(&img).unwrap().data(), &[50, 100]);
        assert!(field.warp_image(&Raster::filled(3, 1, 0u8)).is_err());
    }
}
