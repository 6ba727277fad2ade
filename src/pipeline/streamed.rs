//! The pipeline for pages too large to hold whole, as `unetseg segment` runs it on
//! the pages it post-processes tile by tile: the same files as
//! [`super::Analysis::files`] and [`super::probability_file`], byte for byte,
//! wherever the tiled post-processing equals the whole-image one (see
//! [`crate::postprocess::tiled`]), each written as it is made instead of held.
//!
//! 1. [`ProbabilityStream`] takes the probability map's rows as the network
//!    finishes them ([`crate::inference::predict_probability_rows`]): it writes
//!    `prob.png` and `cut.png` row by row and keeps only the post-processing's 8-bit
//!    input.
//! 2. [`analyse_streamed`] post-processes that input tile by tile and finds the cells
//!    of the final image row by row ([`crate::cells::row_scan`]).
//! 3. [`StreamedAnalysis::write_files`] writes `mask.png`, the labels (made again row
//!    by row), `cells.csv` and the ROI set (each cell traced in its bounding box).
//!
//! Memory for a page of `N` pixels, besides the page itself and the network: `N`
//! bytes while the network runs (and a band of the `f32` map, about two rows of
//! tiles), `2N` during the post-processing, then `N` (the final image), two bytes
//! for each pixel of one cell's bounding box, the ROI set as it grows (a few dozen
//! bytes a cell) and the statistics of the cells. No `f32` map, cut, 16-bit levels
//! or label image is ever whole, except [`StreamedAnalysis::label_plane`]'s, for
//! the label stack of a multi-page input.
//!
//! Each file is opened through an [`OpenResult`] and closed through it as written
//! or not, so that a file system sink can write to a temporary name and keep only
//! complete files.

use std::io::{Seek, Write};

use super::{
    cut_level, gray_level, probability_level, FileFailure, PipelineOptions, CELLS_SUFFIX, CUT_SUFFIX,
    LABELS_PNG_SUFFIX, LABELS_TIFF_SUFFIX, MASK_SUFFIX, PROB_SUFFIX, ROI_SET_SUFFIX,
};
use crate::cells::cells_csv;
use crate::cells::row_scan::{scan, CellScan};
use crate::export::label_tiff::{write_label_tiff_rows, LabelPlane};
use crate::export::outline::cell_outline;
use crate::export::roi::roi_set_of;
use crate::imageio::{PixelSize, PngRows};
use crate::inference::ProbabilityRows;
use crate::postprocess::tiled::{run_tiled, TileLayout, TiledPostprocess};
use crate::raster::{GrayU8, Raster};
use crate::{Error, Result};

/// Opens the file of a result by its suffix (`prob.png`, ...), and closes it.
pub trait OpenResult {
    /// Where the file is written.
    type File: Write + Seek + 'static;
    /// Opens (creates) the file of `suffix`.
    fn open(&mut self, suffix: &'static str) -> Result<Self::File>;
    /// Called once the file of `suffix`, opened before, is no longer written to:
    /// `complete` when all of it was written, else it is to be discarded. An error
    /// fails the file.
    fn close(&mut self, suffix: &'static str, complete: bool) -> Result<()>;
}

/// Closes the file of `suffix` through `open` after `written`: the failure, if any.
fn close<O: OpenResult>(open: &mut O, suffix: &'static str, written: Result<()>) -> Option<FileFailure> {
    let closed = match written {
        Ok(()) => open.close(suffix, true),
        Err(error) => {
            // The write failed first: that is the failure to report.
            let _ = open.close(suffix, false);
            Err(error)
        }
    };
    closed.err().map(|error| FileFailure { suffix, error })
}

/// A write error of a file as ours.
fn cannot_write(e: std::io::Error) -> Error {
    Error::invalid(format!("cannot write: {e}"))
}

/// A file being written, or why it is not.
enum Output<T> {
    Writing(T),
    Failed(Error),
}

impl<T> Output<T> {
    /// Opens the file of `suffix` and starts it with `start`.
    fn start<O: OpenResult>(open: &mut O, suffix: &'static str, start: impl FnOnce(O::File) -> Result<T>) -> Self {
        match open.open(suffix).and_then(start) {
            Ok(writer) => Output::Writing(writer),
            Err(error) => Output::Failed(error),
        }
    }

    /// Runs `step` on the writer; its first error fails the file and ends its writing.
    fn step(&mut self, step: impl FnOnce(&mut T) -> Result<()>) {
        if let Output::Writing(writer) = self {
            if let Err(error) = step(writer) {
                *self = Output::Failed(error);
            }
        }
    }
}

/// `prob.png` and `cut.png` written as the probability map's rows come, and the
/// post-processing's 8-bit input kept whole.
pub struct ProbabilityStream<F: Write + 'static> {
    width: usize,
    height: usize,
    cut_at: f32,
    gray: Vec<u8>,
    prob: Output<PngRows<F, u16>>,
    cut: Output<PngRows<F, u8>>,
    levels: Vec<u16>,
    cuts: Vec<u8>,
}

impl<F: Write + Seek + 'static> ProbabilityStream<F> {
    /// Opens `prob.png` and `cut.png` of a `width x height` page through `open`, to be
    /// cut as `options` say (a file that cannot be opened is a failure at the end).
    pub fn new<O: OpenResult<File = F>>(width: usize, height: usize, options: &PipelineOptions, open: &mut O) -> Self {
        Self {
            width,
            height,
            cut_at: options.cut_at(),
            gray: Vec::with_capacity(width * height),
            prob: Output::start(open, PROB_SUFFIX, |file| PngRows::gray(file, width, height)),
            cut: Output::start(open, CUT_SUFFIX, |file| PngRows::gray(file, width, height)),
            levels: Vec::with_capacity(width),
            cuts: Vec::with_capacity(width),
        }
    }

    /// Takes the next rows of the map (they must follow the last ones, whole rows
    /// within the page).
    pub fn add(&mut self, rows: &ProbabilityRows) -> Result<()> {
        if rows.width != self.width
            || rows.first_row * self.width != self.gray.len()
            || rows.values.len() % self.width.max(1) != 0
            || self.gray.len() + rows.values.len() > self.width * self.height
        {
            return Err(Error::invalid(format!(
                "{} values in rows from {} of width {} do not follow the {} rows of width {} taken of {}",
                rows.values.len(),
                rows.first_row,
                rows.width,
                self.gray.len() / self.width.max(1),
                self.width,
                self.height
            )));
        }
        for row in rows.rows() {
            self.gray.extend(row.iter().map(|&p| gray_level(p)));
            let (levels, cuts, cut_at) = (&mut self.levels, &mut self.cuts, self.cut_at);
            levels.clear();
            levels.extend(row.iter().map(|&p| probability_level(p)));
            self.prob.step(|png| png.write_row(levels));
            cuts.clear();
            cuts.extend(row.iter().map(|&p| cut_level(p, cut_at)));
            self.cut.step(|png| png.write_row(cuts));
        }
        Ok(())
    }

    /// Ends both files, closing them through `open`, once every row is in: the
    /// post-processing's 8-bit input, and the files that failed. Fails when rows are
    /// missing (the files are then closed as incomplete).
    pub fn finish<O: OpenResult<File = F>>(self, open: &mut O) -> Result<(GrayU8, Vec<FileFailure>)> {
        if self.gray.len() != self.width * self.height {
            let missing = self.height - self.gray.len() / self.width.max(1);
            self.abandon(open);
            return Err(Error::invalid(format!("the probability map ended {missing} rows short")));
        }
        let gray = GrayU8::new(self.width, self.height, self.gray)?;
        let failures = [(PROB_SUFFIX, finished(self.prob)), (CUT_SUFFIX, finished(self.cut))]
            .into_iter()
            .filter_map(|(suffix, written)| close(open, suffix, written))
            .collect();
        Ok((gray, failures))
    }

    /// Stops writing both files (the network failed) and closes them as incomplete.
    pub fn abandon<O: OpenResult<File = F>>(self, open: &mut O) {
        let (prob, cut) = (self.prob, self.cut);
        drop((prob, cut));
        for suffix in [PROB_SUFFIX, CUT_SUFFIX] {
            let _ = open.close(suffix, false);
        }
    }
}

/// Ends the PNG of `output`.
fn finished<F: Write + 'static, T: crate::imageio::PngSample>(output: Output<PngRows<F, T>>) -> Result<()> {
    match output {
        Output::Writing(png) => png.finish(),
        Output::Failed(error) => Err(error),
    }
}

/// What [`analyse_streamed`] gives: the threshold, the final image and its cells.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamedAnalysis {
    /// The threshold used, as [`super::Analysis::threshold`].
    pub threshold: f32,
    /// The global quantities and the final image of the tiled post-processing.
    pub postprocess: TiledPostprocess,
    /// The cells of the final image.
    pub cells: CellScan,
    /// The pixel size of the options.
    pub pixel_size: Option<PixelSize>,
}

/// Post-processes `gray` (from [`ProbabilityStream::finish`]) tile by tile on
/// `layout` and finds the cells of its final image; `gray` is freed before the cells
/// are found. Fails on invalid options.
pub fn analyse_streamed(gray: GrayU8, options: &PipelineOptions, layout: &TileLayout) -> Result<StreamedAnalysis> {
    options.validate()?;
    let postprocess = run_tiled(&gray, &options.postprocess_params(), layout)?;
    drop(gray);
    let threshold = options.threshold_of(postprocess.threshold_level);
    let cells = scan(&postprocess.final_mask);
    Ok(StreamedAnalysis { threshold, postprocess, cells, pixel_size: options.pixel_size })
}

impl StreamedAnalysis {
    /// Writes, each through `open` and on its own, the files of
    /// [`super::Analysis::files`] after `cut.png`: `mask.png`, `labels.png` (or
    /// `labels.tif` above 65535 cells), `cells.csv` and `RoiSet.zip`; returns those
    /// that failed.
    pub fn write_files<O: OpenResult>(&self, open: &mut O) -> Vec<FileFailure> {
        let mask = &self.postprocess.final_mask;
        let (width, height) = mask.dims();
        let mut failures = Vec::new();
        let mut write = |suffix: &'static str, write: &mut dyn FnMut(O::File) -> Result<()>| match open.open(suffix) {
            Ok(file) => failures.extend(close(open, suffix, write(file))),
            Err(error) => failures.push(FileFailure { suffix, error }),
        };
        write(MASK_SUFFIX, &mut |file| {
            let mut png = PngRows::gray(file, width, height)?;
            (0..height).try_for_each(|y| png.write_row(mask.row(y)))?;
            png.finish()
        });
        if LabelPlane::fits_u16(self.cells.count()) {
            write(LABELS_PNG_SUFFIX, &mut |file| {
                let (mut png, mut rows, mut narrow) =
                    (PngRows::gray(file, width, height)?, self.label_rows(), Vec::new());
                while let Some(row) = rows.next_row() {
                    narrow.clear();
                    narrow.extend(row.iter().map(|&l| l as u16));
                    png.write_row(&narrow)?;
                }
                png.finish()
            });
        } else {
            write(LABELS_TIFF_SUFFIX, &mut |file| {
                let mut rows = self.label_rows();
                write_label_tiff_rows(file, width, height, |_, out| {
                    out.copy_from_slice(rows.next_row().expect("one label row for each image row"))
                })
            });
        }
        write(CELLS_SUFFIX, &mut |mut file| {
            let csv = cells_csv(&self.cells.cells, self.pixel_size.as_ref());
            file.write_all(csv.as_bytes()).map_err(cannot_write)
        });
        write(ROI_SET_SUFFIX, &mut |mut file| {
            let cells = &self.cells;
            let outline = |k: usize| {
                let c = &cells.cells[k];
                cell_outline(mask, cells.first_pixels[k], (c.x0, c.y0, c.x1, c.y1))
            };
            file.write_all(&roi_set_of(cells.count(), outline)?).map_err(cannot_write)
        });
        failures
    }

    /// The labels as one whole plane (16-bit when they fit), for the label stack of a
    /// multi-page input.
    pub fn label_plane(&self) -> Result<LabelPlane> {
        let (width, height) = self.postprocess.final_mask.dims();
        let mut rows = self.label_rows();
        if LabelPlane::fits_u16(self.cells.count()) {
            let mut labels = Vec::with_capacity(width * height);
            while let Some(row) = rows.next_row() {
                labels.extend(row.iter().map(|&l| l as u16));
            }
            Ok(LabelPlane::U16(Raster::new(width, height, labels)?))
        } else {
            let mut labels = Vec::with_capacity(width * height);
            while let Some(row) = rows.next_row() {
                labels.extend_from_slice(row);
            }
            Ok(LabelPlane::U32(Raster::new(width, height, labels)?))
        }
    }

    /// The label rows of the final image.
    fn label_rows(&self) -> crate::cells::row_scan::LabelRows<'_> {
        self.cells.label_rows(&self.postprocess.final_mask)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::io::Cursor;
    use std::rc::Rc;

    use super::*;
    use crate::pipeline::{analyse, probability_file, ResultFile};
    use crate::raster::GrayF32;

    /// Result files kept in memory, by suffix.
    #[derive(Clone, Default)]
    struct MemoryFolder(Rc<RefCell<BTreeMap<&'static str, Vec<u8>>>>);

    /// One file of a [`MemoryFolder`]: stored when dropped.
    struct MemoryFile {
        folder: MemoryFolder,
        suffix: &'static str,
        bytes: Cursor<Vec<u8>>,
    }

    impl Write for MemoryFile {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Seek for MemoryFile {
        fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
            self.bytes.seek(to)
        }
    }

    impl Drop for MemoryFile {
        fn drop(&mut self) {
            self.folder.0.borrow_mut().insert(self.suffix, std::mem::take(self.bytes.get_mut()));
        }
    }

    impl OpenResult for MemoryFolder {
        type File = MemoryFile;
        fn open(&mut self, suffix: &'static str) -> Result<MemoryFile> {
            if suffix == CELLS_SUFFIX && self.0.borrow().contains_key("fail-csv") {
                return Err(Error::invalid("the disk is full"));
            }
            Ok(MemoryFile { folder: self.clone(), suffix, bytes: Cursor::new(Vec::new()) })
        }
        fn close(&mut self, suffix: &'static str, complete: bool) -> Result<()> {
            if !complete {
                self.0.borrow_mut().remove(suffix);
            }
            Ok(())
        }
    }

    /// The streamed pipeline's files for `probability`, handed over in bands of `band` rows.
    fn streamed_files(
        probability: &GrayF32,
        options: &PipelineOptions,
        band: usize,
    ) -> (StreamedAnalysis, MemoryFolder) {
        let mut folder = MemoryFolder::default();
        let (width, height) = probability.dims();
        let mut stream = ProbabilityStream::new(width, height, options, &mut folder);
        for first_row in (0..height).step_by(band) {
            let rows = first_row..(first_row + band).min(height);
            let values = rows.clone().flat_map(|y| probability.row(y).to_vec()).collect();
            stream.add(&ProbabilityRows { first_row, width, values }).unwrap();
        }
        let (gray, failures) = stream.finish(&mut folder).unwrap();
        assert!(failures.is_empty());
        let analysis = analyse_streamed(gray, options, &TileLayout { core: 16, reach: 32 }).unwrap();
        assert!(analysis.write_files(&mut folder).is_empty());
        (analysis, folder)
    }

    /// The whole-image pipeline's files for `probability`, by suffix.
    fn whole_files(probability: &GrayF32, options: &PipelineOptions) -> BTreeMap<&'static str, Vec<u8>> {
        let mut files = vec![probability_file(probability).unwrap()];
        files.extend(analyse(probability, options).unwrap().files().into_iter().map(|f| f.unwrap()));
        files.into_iter().map(|ResultFile { suffix, bytes }| (suffix, bytes)).collect()
    }

    #[test]
    fn the_streamed_files_are_the_whole_pipeline_files_byte_for_byte() {
        let probability =
            Raster::from_fn(96, 80, |x, y| if (x / 12 + y / 10) % 2 == 0 { 0.9 } else { 0.1 + (x % 7) as f32 * 0.05 });
        for options in [
            PipelineOptions::default(),
            PipelineOptions { threshold: super::super::CellThreshold::Probability(0.3), ..PipelineOptions::default() },
        ] {
            let (analysis, folder) = streamed_files(&probability, &options, 7);
            let whole = analyse(&probability, &options).unwrap();
            assert_eq!(analysis.threshold, whole.threshold);
            assert_eq!(analysis.cells.cells, whole.cells.cells);
            assert_eq!(*folder.0.borrow(), whole_files(&probability, &options));
            assert_eq!(analysis.label_plane().unwrap(), LabelPlane::of(&whole.cells));
        }
    }

    #[test]
    fn more_than_65535_cells_are_a_32_bit_label_tiff_and_a_failing_file_keeps_the_others() {
        let probability = Raster::from_fn(32, 24, |x, y| if (x / 8 + y / 8) % 2 == 0 { 0.9 } else { 0.1 });
        let (mut analysis, _) = streamed_files(&probability, &PipelineOptions::default(), 24);
        // A 512 x 512 checkerboard: 131072 cells of one pixel each.
        let mask = Raster::from_fn(512, 512, |x, y| ((x + y) % 2 * 255) as u8);
        analysis.cells = scan(&mask);
        analysis.postprocess.final_mask = mask.clone();
        let folder = MemoryFolder::default();
        folder.0.borrow_mut().insert("fail-csv", Vec::new());
        let failures = analysis.write_files(&mut folder.clone());
        assert_eq!(failures.iter().map(|f| f.suffix).collect::<Vec<_>>(), [CELLS_SUFFIX]);
        let whole = crate::cells::Cells::from_segmentation(&mask);
        let files = folder.0.borrow();
        assert_eq!(
            files[LABELS_TIFF_SUFFIX],
            crate::export::label_tiff::encode_label_tiff(&[LabelPlane::of(&whole)]).unwrap()
        );
        assert!(!files.contains_key(LABELS_PNG_SUFFIX));
        assert!(files[ROI_SET_SUFFIX].len() > 131_072 * 64, "one ROI per cell");
    }

    #[test]
    fn rows_that_do_not_follow_and_missing_rows_are_errors() {
        let mut folder = MemoryFolder::default();
        let mut stream = ProbabilityStream::new(4, 3, &PipelineOptions::default(), &mut folder);
        assert!(stream.add(&ProbabilityRows { first_row: 1, width: 4, values: vec![0.5; 4] }).is_err());
        assert!(stream.add(&ProbabilityRows { first_row: 0, width: 3, values: vec![0.5; 3] }).is_err());
        assert!(stream.add(&ProbabilityRows { first_row: 0, width: 4, values: vec![0.5; 6] }).is_err());
        assert!(stream.add(&ProbabilityRows { first_row: 0, width: 4, values: vec![0.5; 16] }).is_err());
        stream.add(&ProbabilityRows { first_row: 0, width: 4, values: vec![0.5; 8] }).unwrap();
        assert!(stream.finish(&mut folder.clone()).is_err());
        assert!(folder.0.borrow().is_empty(), "both files closed as incomplete, and gone");
    }
}
