//! The crate-wide error type: every failure names what it concerns and why.

use std::fmt;
use std::path::Path;

/// Errors raised by unetseg. Messages are meant for end users, so each one
/// says which file or argument is at fault and what is wrong with it.
#[derive(Debug)]
pub enum Error {
    /// A problem with one file: `path` names it, `reason` says what is wrong.
    File { path: String, reason: String },
    /// An invalid argument, parameter or combination of inputs.
    Invalid(String),
}

impl Error {
    /// An error about the file at `path`.
    pub fn file(path: impl AsRef<Path>, reason: impl fmt::Display) -> Self {
        Error::File { path: path.as_ref().display().to_string(), reason: reason.to_string() }
    }

    /// An error about an argument or input that is not tied to one file.
    pub fn invalid(reason: impl fmt::Display) -> Self {
        Error::Invalid(reason.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::File { path, reason } => write!(f, "{path}: {reason}"),
            Error::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for Error {}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
