//! Helpers shared by the integration test binaries (`tests/cli`, `tests/library`):
//! repository paths, scratch folders, running the binary, and the fixture readers.
//! Each binary uses a part of them.
#![allow(dead_code)]

pub mod metric_keys;
pub mod metrics_fixture;
pub mod npy;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `rel` under the repository root.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// One of the ISBI 2012 slices shipped in `data/isbi2012/train` (`kind`: `images` or
/// `masks`, `slice`: `00`..`26`).
pub fn isbi(kind: &str, slice: &str) -> PathBuf {
    repo("data/isbi2012/train").join(kind).join(format!("{slice}.png"))
}

/// A fresh, empty folder `name` (unique across the tests of a binary) under cargo's
/// scratch folder for integration tests.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the `unetseg` binary with `args`.
pub fn unetseg<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_unetseg")).args(args).output().expect("runs the unetseg binary")
}

/// The standard error of a run, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
