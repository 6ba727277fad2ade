//! Loss and accuracy curves of a training history as SVG plots, drawn with
//! `plotters`: axes with tick labels, axis names, a title and a legend. The SVG
//! backend writes text as `<text>` elements, so no font is loaded or embedded;
//! the viewer's sans-serif font draws it.

use std::path::Path;

use plotters::prelude::*;

use super::history::EpochRecord;
use crate::{Error, Result};

/// File name of the loss plot in a run directory.
pub const LOSS_FILE: &str = "loss.svg";
/// File name of the accuracy plot in a run directory.
pub const ACCURACY_FILE: &str = "accuracy.svg";

const SIZE: (u32, u32) = (720, 450);
const TRAIN_COLOUR: RGBColor = RGBColor(31, 119, 180);
const VAL_COLOUR: RGBColor = RGBColor(255, 127, 14);
const V_RAND_COLOUR: RGBColor = RGBColor(44, 160, 44);

/// One curve: its legend name, colour and (epoch, value) points.
struct Series {
    name: &'static str,
    colour: RGBColor,
    points: Vec<(u32, f64)>,
}

/// The two plots of `records` as `(file name, SVG text)`: [`LOSS_FILE`] (train and
/// validation loss) and [`ACCURACY_FILE`] (train and validation pixel accuracy,
/// validation V_rand). The validation curves join the epochs that were
/// validated; a curve with no value at all is left out, legend included, and a
/// curve of one value is drawn as a dot.
///
/// An empty history is an error (there is no epoch axis to draw), so a run
/// directory never gets blank plots.
pub fn svg_plots(records: &[EpochRecord]) -> Result<[(&'static str, String); 2]> {
    if records.is_empty() {
        return Err(Error::invalid("the training history has no epochs to plot"));
    }
    let series = |name, colour, value: fn(&EpochRecord) -> Option<f64>| Series {
        name,
        colour,
        points: records.iter().filter_map(|r| value(r).map(|v| (r.epoch as u32, v))).collect(),
    };
    let loss =
        [series("train loss", TRAIN_COLOUR, |r| Some(r.train_loss)), series("val loss", VAL_COLOUR, |r| r.val_loss)];
    let accuracy = [
        series("train acc", TRAIN_COLOUR, |r| Some(r.train_acc)),
        series("val acc", VAL_COLOUR, |r| r.val_acc),
        series("val V_rand", V_RAND_COLOUR, |r| r.val_v_rand),
    ];
    Ok([
        (LOSS_FILE, render("Training loss", "loss", &loss, SeriesLabelPosition::UpperRight)?),
        (ACCURACY_FILE, render("Pixel accuracy and V_rand", "score", &accuracy, SeriesLabelPosition::LowerRight)?),
    ])
}

/// Writes [`LOSS_FILE`] and [`ACCURACY_FILE`] of `records` (see [`svg_plots`]) into `dir`.
pub fn write_plots(dir: &Path, records: &[EpochRecord]) -> Result<()> {
    for (file, svg) in svg_plots(records)? {
        let path = dir.join(file);
        std::fs::write(&path, svg).map_err(|e| Error::file(&path, format!("cannot write: {e}")))?;
    }
    Ok(())
}

/// Draws every curve against the epoch, with the legend at `legend`.
fn render(title: &str, y_name: &str, curves: &[Series], legend: SeriesLabelPosition) -> Result<String> {
    let curves: Vec<&Series> = curves.iter().filter(|c| !c.points.is_empty()).collect();
    let values = curves.iter().flat_map(|c| c.points.iter().map(|&(_, v)| v));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // 5% of the range above and below, so that no curve runs along the frame.
    let pad = if hi - lo > 1e-9 { 0.05 * (hi - lo) } else { 0.5 };
    let last_epoch = curves.iter().flat_map(|c| c.points.iter().map(|&(e, _)| e)).max().unwrap_or(1).max(1);

    let mut svg = String::new();
    let drawn = (|| -> std::result::Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0..last_epoch, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(y_name)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;
        for curve in &curves {
            let colour = curve.colour;
            chart
                .draw_series(LineSeries::new(curve.points.iter().copied(), colour.stroke_width(2)))?
                .label(curve.name)
                // A filled bar rather than a line, so that each curve is the only polyline of its colour.
                .legend(move |(x, y)| Rectangle::new([(x, y - 2), (x + 20, y + 2)], colour.filled()));
            if let [only] = curve.points.as_slice() {
                // A one-point line draws nothing: mark the point.
                chart.draw_series(std::iter::once(Circle::new(*only, 3, colour.filled())))?;
            }
        }
        chart
            .configure_series_labels()
            .position(legend)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| Error::invalid(format!("cannot draw the plot '{title}': {e}")))?;
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, validated: bool) -> EpochRecord {
        let t = epoch as f64;
        EpochRecord {
            epoch,
            train_loss: 0.7 / t,
            train_acc: 0.9 - 0.3 / t,
            val_loss: validated.then_some(0.8 / t),
            val_acc: validated.then_some(0.88 - 0.3 / t),
            val_v_rand: validated.then_some(0.95 - 0.8 / t),
        }
    }

    /// The texts of `svg` (the SVG backend writes each on a line of its own).
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text").skip(1).filter_map(|e| Some(e.split_once('>')?.1.split_once("</text>")?.0.trim())).collect()
    }

    /// The curves of `svg`: its polylines drawn 2 pixels wide (axes and ticks are 1 pixel wide).
    fn curves(svg: &str) -> usize {
        svg.split('<').filter(|e| e.starts_with("polyline ") && e.contains("stroke-width=\"2\"")).count()
    }

    fn history(epochs: usize) -> Vec<EpochRecord> {
        (1..=epochs).map(|e| record(e, e % 2 == 0)).collect()
    }

    #[test]
    fn plots_hold_every_series_axis_names_and_title() {
        let [(loss_file, loss), (acc_file, acc)] = svg_plots(&history(12)).unwrap();
        assert_eq!((loss_file, acc_file), ("loss.svg", "accuracy.svg"));
        for (svg, title, y_name, names) in [
            (&loss, "Training loss", "loss", &["train loss", "val loss"][..]),
            (&acc, "Pixel accuracy and V_rand", "score", &["train acc", "val acc", "val V_rand"][..]),
        ] {
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
            for text in [title, y_name, "epoch"].iter().chain(names) {
                assert!(texts(svg).contains(text), "no text '{text}' in {svg}");
            }
            // One wide polyline per curve (the legend marks are rectangles).
            assert_eq!(curves(svg), names.len(), "{svg}");
        }
        // Each curve is drawn in its own colour.
        for colour in ["#1F77B4", "#FF7F0E", "#2CA02C"] {
            assert!(acc.contains(&format!("<polyline fill=\"none\" opacity=\"1\" stroke=\"{colour}\"")), "{colour}");
        }
    }

    #[test]
    fn curves_without_values_are_left_out() {
        let unvalidated: Vec<EpochRecord> = (1..=4).map(|e| record(e, false)).collect();
        let [(_, loss), (_, acc)] = svg_plots(&unvalidated).unwrap();
        assert_eq!(curves(&loss), 1);
        assert_eq!(curves(&acc), 1);
        assert!(!texts(&acc).contains(&"val V_rand") && texts(&acc).contains(&"train acc"));
    }

    #[test]
    fn one_epoch_is_marked_and_an_empty_history_is_an_error() {
        let [(_, loss), _] = svg_plots(&[record(1, true)]).unwrap();
        assert_eq!(loss.matches("<circle").count(), 2, "{loss}");
        let e = svg_plots(&[]).unwrap_err().to_string();
        assert!(e.contains("no epochs"), "{e}");
    }

    #[test]
    fn writes_both_files() {
        let dir = std::env::temp_dir().join(format!("unetseg-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_plots(&dir, &history(3)).unwrap();
        for file in [LOSS_FILE, ACCURACY_FILE] {
            assert!(std::fs::read_to_string(dir.join(file)).unwrap().contains("</svg>"), "{file}");
        }
        let e = write_plots(&dir.join("missing/folder"), &history(3)).unwrap_err().to_string();
        assert!(e.contains("loss.svg"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
