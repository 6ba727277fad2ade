//! Loss and accuracy curves of a training history as PNG plots, drawn into an RGB
//! raster with axes, tick labels and a legend in a built-in 5x7 bitmap font.

use std::path::Path;

use super::history::EpochRecord;
use crate::imageio::encode_png_rgb;
use crate::{Error, Result};

const WIDTH: usize = 640;
const HEIGHT: usize = 400;
const LEFT: usize = 64;
const RIGHT: usize = 16;
const TOP: usize = 28;
const BOTTOM: usize = 40;
const TRAIN_COLOUR: [u8; 3] = [31, 119, 180];
const VAL_COLOUR: [u8; 3] = [255, 127, 14];
const V_RAND_COLOUR: [u8; 3] = [44, 160, 44];
const INK: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [225, 225, 225];

/// One curve: its legend name, colour and (epoch, value) points.
type Series = (&'static str, [u8; 3], Vec<(f64, f64)>);

/// Writes `loss.png` (train and validation loss) and `accuracy.png` (train and
/// validation pixel accuracy, validation V_rand) for `records` into `dir`.
pub fn write_plots(dir: &Path, records: &[EpochRecord]) -> Result<()> {
    let epochs: Vec<f64> = records.iter().map(|r| r.epoch as f64).collect();
    let series = |f: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        records.iter().zip(&epochs).filter_map(|(r, &e)| f(r).map(|v| (e, v))).collect()
    };
    let plots: [(&str, &str, Vec<Series>); 2] = [
        (
            "loss.png",
            "loss",
            vec![
                ("train", TRAIN_COLOUR, series(&|r| Some(r.train_loss))),
                ("val", VAL_COLOUR, series(&|r| r.val_loss)),
            ],
        ),
        (
            "accuracy.png",
            "accuracy",
            vec![
                ("train", TRAIN_COLOUR, series(&|r| Some(r.train_acc))),
                ("val", VAL_COLOUR, series(&|r| r.val_acc)),
                ("val v_rand", V_RAND_COLOUR, series(&|r| r.val_v_rand)),
            ],
        ),
    ];
    for (file, title, curves) in plots {
        let path = dir.join(file);
        let png = encode_png_rgb(WIDTH, HEIGHT, &render(title, &curves)).map_err(|e| Error::file(&path, e))?;
        std::fs::write(&path, png).map_err(|e| Error::file(&path, format!("cannot write: {e}")))?;
    }
    Ok(())
}

/// An RGB canvas (row-major, 3 bytes per pixel).
struct Canvas {
    rgb: Vec<u8>,
}

impl Canvas {
    fn new() -> Self {
        Self { rgb: vec![255; WIDTH * HEIGHT * 3] }
    }

    fn put(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < WIDTH && (y as usize) < HEIGHT {
            let i = (y as usize * WIDTH + x as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&colour);
        }
    }

    /// A line of width 2 from `(x0, y0)` to `(x1, y1)` (Bresenham).
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), colour: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.put(x, y, colour);
            self.put(x, y + 1, colour);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn rect(&mut self, x0: i64, y0: i64, w: i64, h: i64, colour: [u8; 3]) {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                self.put(x, y, colour);
            }
        }
    }

    /// `text` with its top-left corner at `(x, y)`, 6 pixels per character.
    fn text(&mut self, x: i64, y: i64, text: &str, colour: [u8; 3]) {
        for (k, c) in text.chars().enumerate() {
            let rows = glyph(c);
            for (dy, row) in rows.iter().enumerate() {
                for dx in 0..5 {
                    if row & (0b10000 >> dx) != 0 {
                        self.put(x + 6 * k as i64 + dx, y + dy as i64, colour);
                    }
                }
            }
        }
    }
}

/// Width in pixels of `text` in the built-in font.
fn text_width(text: &str) -> i64 {
    6 * text.chars().count() as i64 - 1
}

/// A readable tick label for `v` given the spacing `step` between ticks.
fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10()).ceil() as usize };
    format!("{v:.decimals$}")
}

/// A "nice" tick spacing (1, 2 or 5 times a power of ten) giving about `target` ticks over `range`.
fn nice_step(range: f64, target: f64) -> f64 {
    let raw = (range / target).max(1e-12);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|&s| s >= raw).unwrap_or(10.0 * power)
}

/// Draws one plot: every curve against the epoch, with axes, ticks, title and legend.
fn render(title: &str, curves: &[Series]) -> Vec<u8> {
    let mut canvas = Canvas::new();
    let all = curves.iter().flat_map(|(_, _, points)| points);
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in all {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    if y_max - y_min < 1e-9 {
        (y_min, y_max) = (y_min - 0.5, y_max + 0.5);
    }
    let y_step = nice_step(y_max - y_min, 5.0);
    let (y_lo, y_hi) = ((y_min / y_step).floor() * y_step, (y_max / y_step).ceil() * y_step);
    let x_step = nice_step(x_max, 8.0).max(1.0);
    let x_hi = (x_max / x_step).ceil() * x_step;
    let (plot_w, plot_h) = ((WIDTH - LEFT - RIGHT) as f64, (HEIGHT - TOP - BOTTOM) as f64);
    let px = |x: f64| LEFT as i64 + (x / x_hi * plot_w).round() as i64;
    let py = |y: f64| TOP as i64 + ((y_hi - y) / (y_hi - y_lo) * plot_h).round() as i64;

    let mut y = y_lo;
    while y <= y_hi + y_step * 0.5 {
        canvas.rect(LEFT as i64, py(y), plot_w as i64, 1, GRID);
        let label = tick_label(y, y_step);
        canvas.text(LEFT as i64 - 6 - text_width(&label), py(y) - 3, &label, INK);
        y += y_step;
    }
    let mut x = 0.0;
    while x <= x_hi + x_step * 0.5 {
        canvas.rect(px(x), (HEIGHT - BOTTOM) as i64, 1, 5, INK);
        let label = tick_label(x, x_step);
        canvas.text(px(x) - text_width(&label) / 2, (HEIGHT - BOTTOM) as i64 + 8, &label, INK);
        x += x_step;
    }
    canvas.rect(LEFT as i64, TOP as i64, 1, plot_h as i64 + 1, INK);
    canvas.rect(LEFT as i64, (HEIGHT - BOTTOM) as i64, plot_w as i64 + 1, 1, INK);
    canvas.text((WIDTH as i64 - text_width("epoch")) / 2, HEIGHT as i64 - 14, "epoch", INK);
    canvas.text(LEFT as i64, 10, title, INK);

    for (_, colour, points) in curves {
        let colour = *colour;
        for pair in points.windows(2) {
            canvas.line((px(pair[0].0), py(pair[0].1)), (px(pair[1].0), py(pair[1].1)), colour);
        }
        if let [only] = points.as_slice() {
            canvas.rect(px(only.0) - 1, py(only.1) - 1, 3, 3, colour);
        }
    }
    // The legend sits in the top margin, right-aligned, so it never hides a curve.
    let entry_width = |name: &str| 22 + text_width(name) + 14;
    let mut x = (WIDTH - RIGHT) as i64 - curves.iter().map(|(name, _, _)| entry_width(name)).sum::<i64>() + 14;
    for (name, colour, _) in curves {
        canvas.rect(x, 12, 16, 3, *colour);
        canvas.text(x + 22, 10, name, INK);
        x += entry_width(name);
    }
    canvas.rgb
}

/// The 5x7 bitmap of `c` (bit 4 = leftmost column); unknown characters are blank.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        'a' => [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F],
        'c' => [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E],
        'd' => [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
        'e' => [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E],
        'h' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        'i' => [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E],
        'l' => [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'n' => [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11],
        'o' => [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E],
        'p' => [0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10],
        'r' => [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10],
        's' => [0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E],
        't' => [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
        'u' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D],
        'v' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'y' => [0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        _ => [0; 7],
    }
}
