//! The one error type of the library.
//!
//! Every failure a user can cause (a bad flag value, a corrupt file, a model that does not fit
//! its probes) becomes an [`Error`] whose message names the flag or file and says what was
//! expected. The binary prints it on one line and exits with [`Error::exit_code`].

use std::path::{Path, PathBuf};

pub use crate::kmeans::KMeansError;

/// Result alias used throughout spurion.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in spurion.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting (command-line flag) has a value outside its allowed range.
    /// `param` is the flag's name without the leading dashes.
    #[error("invalid --{param}: {message}")]
    Param {
        param: &'static str,
        message: String,
    },
    /// A file exists but its content is not what spurion expected.
    #[error("{}: {message}", path.display())]
    Data { path: PathBuf, message: String },
    /// A file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The input data is well formed but cannot be used for the requested analysis
    /// (a class with no samples, NaN probabilities, ...).
    #[error("{0}")]
    Invalid(String),
    /// Weighted k-means refused its input.
    #[error("k-means for class {class}: {source}")]
    KMeans {
        class: String,
        #[source]
        source: KMeansError,
    },
    /// The deep-learning backend failed (reading tensors back, saving weights).
    #[error("model: {0}")]
    Model(String),
    /// The run was stopped on request (Ctrl-C in a notebook, through a progress sink).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// Process exit code for this error: 2 for a bad setting (usage), 130 for an interrupted
    /// run (as a shell reports Ctrl-C), 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Param { .. } => 2,
            Error::Interrupted => 130,
            _ => 1,
        }
    }

    /// The message without the flag's name: what a command-line parser shows after its own
    /// "invalid value for --flag".
    pub fn detail(&self) -> String {
        match self {
            Error::Param { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    pub fn param(param: &'static str, message: impl Into<String>) -> Self {
        Error::Param {
            param,
            message: message.into(),
        }
    }

    pub(crate) fn data(path: &Path, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
