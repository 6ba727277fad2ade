//! The per-epoch training history, kept as `RUN_DIR/history.csv`.

use std::path::Path;

use crate::{Error, Result};

/// Header line of `history.csv`.
pub const HEADER: &str = "epoch,train_loss,train_acc,val_loss,val_acc,val_v_rand";

/// One epoch's numbers. Validation values are `None` in epochs without validation.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Pixel accuracy over the epoch's training crops.
    pub train_acc: f64,
    /// Mean loss over the validation slices.
    pub val_loss: Option<f64>,
    /// Pixel accuracy over the validation slices.
    pub val_acc: Option<f64>,
    /// Mean V_rand (thinned) over the validation slices.
    pub val_v_rand: Option<f64>,
}

impl EpochRecord {
    /// The CSV line of this record (empty fields for missing values).
    pub fn to_csv(&self) -> String {
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        format!(
            "{},{:.6},{:.6},{},{},{}",
            self.epoch,
            self.train_loss,
            self.train_acc,
            opt(self.val_loss),
            opt(self.val_acc),
            opt(self.val_v_rand)
        )
    }

    /// Parses one CSV line written by [`to_csv`](Self::to_csv).
    pub fn from_csv(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.trim().split(',').collect();
        if fields.len() != 6 {
            return None;
        }
        let opt = |s: &str| if s.is_empty() { Some(None) } else { s.parse().ok().map(Some) };
        Some(Self {
            epoch: fields[0].parse().ok()?,
            train_loss: fields[1].parse().ok()?,
            train_acc: fields[2].parse().ok()?,
            val_loss: opt(fields[3])?,
            val_acc: opt(fields[4])?,
            val_v_rand: opt(fields[5])?,
        })
    }
}

/// Writes the whole history to `path`.
pub fn write(path: &Path, records: &[EpochRecord]) -> Result<()> {
    let mut text = String::from(HEADER);
    text.push('\n');
    for r in records {
        text.push_str(&r.to_csv());
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| Error::file(path, format!("cannot write: {e}")))
}

/// Reads a history written by [`write`].
pub fn read(path: &Path) -> Result<Vec<EpochRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some(HEADER) {
        return Err(Error::file(path, format!("not a training history (expected the header '{HEADER}')")));
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            EpochRecord::from_csv(l).ok_or_else(|| Error::file(path, format!("line {}: malformed record", i + 2)))
        })
        .collect()
}
