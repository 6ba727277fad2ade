//! `unetseg augment`: a gallery of the training augmentations for one image (and
//! optionally its mask), like the table in the original README, with an
//! `index.html` to view it: the original project's, then the robust recipe's
//! (`train --augment robust`) at fixed strengths and as random training crops.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::augment::{
    brightness, contrast, crop_symmetric, flip, gamma, gaussian_blur, gaussian_noise, invert, robust_sample,
    scaled_window, scaled_window_nearest, uniform_noise, AugmentParams, ElasticField, Flip, RobustParams,
};
use crate::error::{Error, Result};
use crate::imageio::{read_gray8, read_mask, write_png_rgb, write_png_u8};
use crate::normalization::Normalization;
use crate::raster::GrayU8;

/// Side of the corner crops: the original network's 388x388 output tile.
const CROP_SIZE: usize = 388;
/// Mirror padding around a crop: (572 - 388) / 2, the original's input margin.
const PAD_MARGIN: usize = 92;
/// Width of the yellow frame drawn around the original image area.
const FRAME_WIDTH: usize = 2;
/// Yellow, as RGB.
const YELLOW: [u8; 3] = [255, 255, 0];
/// Smoothing of the gallery's elastic fields: 6, the smallest (most local)
/// sigma the original draws.
const ELASTIC_SIGMA: f64 = 6.0;
/// Mirror padding while deforming, as in the original.
const ELASTIC_PAD: usize = 20;
/// Side of the robust rows' windows: the 256x256 training crop of the default recipe.
const ROBUST_SIZE: usize = 256;
/// Scales shown (output pixels per source pixel): the robust range's ends and between.
const SCALES: [f64; 4] = [0.5, 0.71, 1.41, 2.0];
/// Gamma exponents shown: the robust range's ends and between.
const GAMMAS: [f64; 4] = [0.5, 0.7, 1.4, 2.0];
/// Contrast factors shown.
const CONTRASTS: [f64; 3] = [0.5, 1.5, 2.0];
/// Blur sigmas shown, in pixels.
const BLURS: [f64; 3] = [0.5, 1.0, 2.0];
/// Random crops of the robust recipe shown.
const ROBUST_SAMPLES: usize = 4;

/// Arguments of `unetseg augment`.
#[derive(clap::Args, Debug)]
pub struct AugmentArgs {
    /// Image to augment (PNG, JPEG or TIFF; the first page of a stack).
    pub image: PathBuf,
    /// Its 0/255 mask: the geometric augmentations are shown for it too.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Folder for the gallery's PNGs and index.html (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the random noise and deformation fields.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// One picture of the gallery: the image's file and, for geometric
/// augmentations given a mask, the mask's.
struct Cell {
    caption: String,
    image_file: String,
    mask_file: Option<String>,
}

/// A titled row of pictures.
struct Row {
    title: &'static str,
    cells: Vec<Cell>,
}

/// Writes gallery files into one folder, naming the file in any error.
struct Gallery<'a> {
    dir: &'a Path,
}

impl Gallery<'_> {
    fn gray(&self, name: &str, image: &GrayU8) -> Result<String> {
        write_png_u8(&self.dir.join(name), image)?;
        Ok(name.to_string())
    }

    fn rgb(&self, name: &str, width: usize, height: usize, rgb: &[u8]) -> Result<String> {
        write_png_rgb(&self.dir.join(name), width, height, rgb)?;
        Ok(name.to_string())
    }
}

/// Runs the subcommand.
pub fn run(args: AugmentArgs) -> Result<()> {
    let image = read_gray8(&args.image)?;
    let mask = match &args.mask {
        Some(path) => {
            let mask = read_mask(path)?;
            if mask.dims() != image.dims() {
                return Err(Error::file(
                    path,
                    format!(
                        "mask is {}x{} but the image {} is {}x{}",
                        mask.width(),
                        mask.height(),
                        args.image.display(),
                        image.width(),
                        image.height()
                    ),
                ));
            }
            Some(mask)
        }
        None => None,
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::file(&args.out, format!("cannot create the output folder: {e}")))?;
    let gallery = Gallery { dir: &args.out };
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);

    let mut rows = Vec::new();
    rows.push(Row {
        title: "Original",
        cells: vec![Cell {
            caption: format!("{}x{}", image.width(), image.height()),
            image_file: gallery.gray("original.png", &image)?,
            mask_file: mask.as_ref().map(|m| gallery.gray("mask_original.png", m)).transpose()?,
        }],
    });

    let flips = [
        (Flip::Vertical, "vertical", "Vertical"),
        (Flip::Horizontal, "horizontal", "Horizontal"),
        (Flip::Both, "both", "Both"),
    ];
    let mut cells = Vec::new();
    for (how, slug, caption) in flips {
        cells.push(Cell {
            caption: caption.to_string(),
            image_file: gallery.gray(&format!("flip_{slug}.png"), &flip(&image, how))?,
            mask_file: mask
                .as_ref()
                .map(|m| gallery.gray(&format!("mask_flip_{slug}.png"), &flip(m, how)))
                .transpose()?,
        });
    }
    rows.push(Row { title: "Flip", cells });

    let mut cells = Vec::new();
    for std in [10u32, 50, 100] {
        let noisy = gaussian_noise(&image, f64::from(std), &mut rng)?;
        cells.push(intensity_cell(
            format!("Standard deviation: {std}"),
            gallery.gray(&format!("gaussian_{std}.png"), &noisy)?,
        ));
    }
    rows.push(Row { title: "Gaussian noise", cells });

    let mut cells = Vec::new();
    for level in [10u32, 50, 100] {
        let noisy = uniform_noise(&image, -f64::from(level), f64::from(level), &mut rng)?;
        cells.push(intensity_cell(
            format!("Intensity: {level} (uniform in [-{level}, {level}))"),
            gallery.gray(&format!("uniform_{level}.png"), &noisy)?,
        ));
    }
    rows.push(Row { title: "Uniform noise", cells });

    let mut cells = Vec::new();
    for delta in [10i32, 20, 30] {
        let brighter = brightness(&image, delta);
        cells.push(intensity_cell(
            format!("Intensity: +{delta}"),
            gallery.gray(&format!("brightness_{delta}.png"), &brighter)?,
        ));
    }
    rows.push(Row { title: "Brightness", cells });

    let mut cells = Vec::new();
    for (strength, alpha) in [(1, 10.0f32), (2, 34.0), (3, 50.0)] {
        let field = ElasticField::random(image.width(), image.height(), alpha, ELASTIC_SIGMA, ELASTIC_PAD, &mut rng)?;
        cells.push(Cell {
            caption: format!("Random deformation {strength} (alpha {alpha}, sigma {ELASTIC_SIGMA})"),
            image_file: gallery.gray(&format!("elastic_{strength}.png"), &field.warp_image(&image)?)?,
            mask_file: mask
                .as_ref()
                .map(|m| gallery.gray(&format!("mask_elastic_{strength}.png"), &field.warp_mask(m)?))
                .transpose()?,
        });
    }
    rows.push(Row { title: "Elastic deformation", cells });

    let crop_size = CROP_SIZE.min(image.width()).min(image.height());
    let corners = corners(image.width(), image.height(), crop_size);
    let mut crops = Vec::new();
    let mut pads = Vec::new();
    for (slug, caption, x, y) in corners {
        let window = |r: &GrayU8| crop_symmetric(r, x as isize, y as isize, crop_size, crop_size);
        crops.push(Cell {
            caption: caption.to_string(),
            image_file: gallery.gray(&format!("crop_{slug}.png"), &window(&image)?)?,
            mask_file: mask
                .as_ref()
                .map(|m| gallery.gray(&format!("mask_crop_{slug}.png"), &window(m)?))
                .transpose()?,
        });
        let framed = |r: &GrayU8| framed_tile(r, x, y, crop_size);
        let tile = crop_size + 2 * PAD_MARGIN;
        pads.push(Cell {
            caption: caption.to_string(),
            image_file: gallery.rgb(&format!("pad_{slug}.png"), tile, tile, &framed(&image)?)?,
            mask_file: mask
                .as_ref()
                .map(|m| gallery.rgb(&format!("mask_pad_{slug}.png"), tile, tile, &framed(m)?))
                .transpose()?,
        });
    }
    rows.push(Row { title: "Crop", cells: crops });
    rows.push(Row { title: "Pad", cells: pads });
    robust_rows(&image, mask.as_ref(), &gallery, &mut rng, &mut rows)?;

    let html = index_html(&args.image, crop_size, args.seed, &rows);
    let index = args.out.join("index.html");
    std::fs::write(&index, html).map_err(|e| Error::file(&index, format!("cannot write: {e}")))?;
    println!("wrote the gallery to {}", index.display());
    Ok(())
}

/// The robust recipe's rows: each augmentation at fixed strengths (scales as centred
/// windows of the training crop's size, masks beside them), then random training crops
/// drawn by `rng` with the recipe's default ranges and inversion half the time.
fn robust_rows(
    image: &GrayU8,
    mask: Option<&GrayU8>,
    gallery: &Gallery,
    rng: &mut ChaCha8Rng,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let (w, h) = image.dims();
    let side = ROBUST_SIZE.min(w).min(h);
    let mut cells = Vec::new();
    for scale in SCALES {
        let covered = side as f64 / scale;
        let (x, y) = ((w as f64 - covered) / 2.0, (h as f64 - covered) / 2.0);
        cells.push(Cell {
            caption: format!("{scale}x: {side}x{side} px showing {covered:.0}x{covered:.0} of the image"),
            image_file: gallery.gray(&format!("scale_{scale}.png"), &scaled_window(image, x, y, scale, side, side)?)?,
            mask_file: mask
                .map(|m| {
                    gallery
                        .gray(&format!("mask_scale_{scale}.png"), &scaled_window_nearest(m, x, y, scale, side, side)?)
                })
                .transpose()?,
        });
    }
    rows.push(Row { title: "Scale (robust)", cells });

    let mut cells = Vec::new();
    for g in GAMMAS {
        let caption = format!("Gamma {g}: {}", if g < 1.0 { "brighter" } else { "darker" });
        cells.push(intensity_cell(caption, gallery.gray(&format!("gamma_{g}.png"), &gamma(image, g)?)?));
    }
    rows.push(Row { title: "Gamma (robust)", cells });

    let mut cells = Vec::new();
    for c in CONTRASTS {
        let file = gallery.gray(&format!("contrast_{c}.png"), &contrast(image, c)?)?;
        cells.push(intensity_cell(format!("x{c} around the mean"), file));
    }
    rows.push(Row { title: "Contrast (robust)", cells });

    let mut cells = Vec::new();
    for sigma in BLURS {
        let file = gallery.gray(&format!("blur_{sigma}.png"), &gaussian_blur(image, sigma)?)?;
        cells.push(intensity_cell(format!("Sigma {sigma} px"), file));
    }
    rows.push(Row { title: "Blur (robust)", cells });
    rows.push(Row {
        title: "Inversion (robust)",
        cells: vec![intensity_cell("255 - v".to_string(), gallery.gray("invert.png", &invert(image))?)],
    });

    let robust = RobustParams { invert_probability: 0.5, ..RobustParams::default() };
    let blank = GrayU8::filled(w, h, 0);
    let mut cells = Vec::new();
    for k in 1..=ROBUST_SAMPLES {
        let (input, target) = robust_sample(
            image,
            mask.unwrap_or(&blank),
            (side, side),
            &AugmentParams::default(),
            &robust,
            Normalization::MinMax,
            rng,
        )?;
        let input = input.map(|v| (v * 255.0).round() as u8);
        cells.push(Cell {
            caption: format!("Random crop {k}"),
            image_file: gallery.gray(&format!("robust_{k}.png"), &input)?,
            mask_file: mask
                .map(|_| gallery.gray(&format!("mask_robust_{k}.png"), &target.map(|c| c * 255)))
                .transpose()?,
        });
    }
    rows.push(Row { title: "Robust training crops", cells });
    Ok(())
}

/// A picture that has no mask counterpart (intensity changes leave masks alone).
fn intensity_cell(caption: String, image_file: String) -> Cell {
    Cell { caption, image_file, mask_file: None }
}

/// The four corner windows of side `size`: (file slug, caption, x, y).
fn corners(width: usize, height: usize, size: usize) -> [(&'static str, &'static str, usize, usize); 4] {
    let (right, bottom) = (width - size, height - size);
    [
        ("left_bottom", "Left bottom", 0, bottom),
        ("left_top", "Left top", 0, 0),
        ("right_bottom", "Right bottom", right, bottom),
        ("right_top", "Right top", right, 0),
    ]
}

/// The network input tile around the `size`² window at (`x`, `y`): the
/// window plus [`PAD_MARGIN`] pixels on every side, read from the image
/// mirror-padded as in training, as RGB with a yellow frame just outside
/// the original image's area (the mirror padding lies beyond the frame).
fn framed_tile(image: &GrayU8, x: usize, y: usize, size: usize) -> Result<Vec<u8>> {
    let margin = PAD_MARGIN as isize;
    let (x0, y0) = (x as isize - margin, y as isize - margin);
    let tile = size + 2 * PAD_MARGIN;
    let gray = crop_symmetric(image, x0, y0, tile, tile)?;
    let (w, h) = (image.width() as isize, image.height() as isize);
    let frame = FRAME_WIDTH as isize;
    let mut rgb = Vec::with_capacity(tile * tile * 3);
    for ty in 0..tile {
        for tx in 0..tile {
            let (ix, iy) = (x0 + tx as isize, y0 + ty as isize);
            let inside = (0..w).contains(&ix) && (0..h).contains(&iy);
            let near = (-frame..w + frame).contains(&ix) && (-frame..h + frame).contains(&iy);
            if near && !inside {
                rgb.extend_from_slice(&YELLOW);
            } else {
                let v = gray.get(tx, ty);
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
    }
    Ok(rgb)
}

/// Escapes text for HTML element content and attribute values.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The gallery page: one table row per augmentation, pictures linked to
/// their PNG files by relative names, masks beneath their images.
fn index_html(source: &Path, crop_size: usize, seed: u64, rows: &[Row]) -> String {
    let name = escape_html(&source.display().to_string());
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Augmentations of {name}</title>\n\
         <style>body{{font-family:sans-serif;background:#fafafa}}table{{border-collapse:collapse}}\
         td,th{{padding:6px;text-align:center;vertical-align:top}}th{{text-align:left}}img{{width:200px;display:block;margin:2px auto}}</style>\n\
         </head>\n<body>\n<h1>Augmentations of {name}</h1>\n\
         <p>The original project's training augmentations (seed {seed}). Crops are {crop_size}x{crop_size} windows at the \
         image corners; pads show the network's input tile around each crop ({PAD_MARGIN} px more on every side) with the \
         original image area framed in yellow: outside the frame is symmetric (mirror) padding.</p>\n\
         <p>Rows marked robust are the extra augmentations of <code>train --augment robust</code> at fixed strengths \
         (scales as centred windows of the training crop's size), then random training crops of that recipe as the \
         network sees them (min-max normalised; inversion drawn half the time here).</p>\n<table>\n"
    );
    for row in rows {
        let _ = write!(html, "<tr><th>{}</th>", escape_html(row.title));
        for cell in &row.cells {
            let _ = write!(html, "<td>");
            for file in std::iter::once(&cell.image_file).chain(&cell.mask_file) {
                let file = escape_html(file);
                let _ = write!(html, "<a href=\"{file}\"><img src=\"{file}\" alt=\"{file}\"></a>");
            }
            let _ = write!(html, "{}</td>", escape_html(&cell.caption));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n</body>\n</html>\n");
    html
}
