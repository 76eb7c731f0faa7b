//! The one error type of the library. Each variant carries the context a user needs to act
//! (table, file, line, URL — always with the password redacted) and its message names the bad
//! value. `main` prints the cause chain on one line and exits non-zero.

use std::path::PathBuf;

/// Every failure lakeshift reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid database URL {url}: {reason}")]
    BadUrl { url: String, reason: String },

    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },

    /// A statement failed; `context` says what lakeshift was doing, `sqlstate` is the
    /// server's error code when the server answered.
    #[error("{context}: {reason}")]
    Postgres {
        context: String,
        reason: String,
        sqlstate: Option<String>,
    },

    #[error("table {table} does not exist in {url}")]
    UnknownTable { table: String, url: String },

    #[error("schema {schema} does not exist in {url}")]
    UnknownSchema { schema: String, url: String },

    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },

    /// A file or object store location (`url` as the user wrote it, plus the file's path).
    #[error("{url}: {reason}")]
    Storage { url: String, reason: String },

    /// The file's rejects went past `--max-rejects`: the load was rolled back.
    #[error(
        "{path}: {rejected} rows rejected, more than --max-rejects {max}; nothing was committed (see {rejects_path})"
    )]
    TooManyRejects {
        path: PathBuf,
        rejected: u64,
        max: u64,
        rejects_path: PathBuf,
    },

    /// A column type lakeshift cannot move, with the table and column it was found in.
    #[error("{table}.{column}: {reason}")]
    UnsupportedType {
        table: String,
        column: String,
        reason: String,
    },

    #[error("pipeline {path} is invalid:\n{problems}")]
    InvalidPipeline { path: PathBuf, problems: String },

    #[error("step {index} ({name}) failed: {source}")]
    Step {
        index: usize,
        name: String,
        source: Box<Error>,
    },

    /// A Delta table operation failed (`table` is its name or location).
    #[error("Delta table {table}: {reason}")]
    Lake { table: String, reason: String },

    /// An SQL statement failed; `location` is `file:line:column` or the statement's origin.
    #[error("{location}: {reason}")]
    Sql { location: String, reason: String },

    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    /// A wrong argument or option value that has no better home.
    #[error("{0}")]
    Invalid(String),

    /// A background task panicked or was cancelled: a bug, reported instead of crashing.
    #[error("internal error in {task}: {reason}")]
    Internal { task: String, reason: String },
}

/// `Result` with lakeshift's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wrap a Postgres error with what lakeshift was doing when it happened.
    pub fn pg(context: impl Into<String>, err: &tokio_postgres::Error) -> Self {
        Error::Postgres {
            context: context.into(),
            reason: pg_reason(err),
            sqlstate: err.code().map(|c| c.code().to_string()),
        }
    }

    /// Wrap an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            reason: err.to_string(),
        }
    }
}

/// Errors that travelled through a DataFusion stream come back as themselves.
impl From<datafusion::error::DataFusionError> for Error {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        match err {
            datafusion::error::DataFusionError::External(inner) => {
                match inner.downcast::<Error>() {
                    Ok(ours) => *ours,
                    Err(other) => Error::Internal {
                        task: "streaming batches".into(),
                        reason: other.to_string(),
                    },
                }
            }
            other => Error::Internal {
                task: "streaming batches".into(),
                reason: other.to_string(),
            },
        }
    }
}

/// One line for a Postgres error: the server's message with its detail and hint, or the
/// client-side cause (connection refused, closed, ...).
pub fn pg_reason(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut line = db.message().to_string();
        for extra in [db.detail(), db.hint()].into_iter().flatten() {
            line.push_str("; ");
            line.push_str(extra);
        }
        return line;
    }
    let mut line = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}
