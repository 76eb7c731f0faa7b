//! The one error type of the library. Each variant carries the context a user needs to act
//! (table, file, line, URL — always with the password redacted) and its message names the bad
//! value. `main` prints the cause chain on one line and exits non-zero.

use std::path::PathBuf;

use crate::options::{Problem, Problems};

/// A cause of any kind, kept for [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every failure lakeshift reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid connection string {url}: {reason}")]
    BadUrl { url: String, reason: String },

    /// The server could not be reached or refused the connection (`reason` is the cause's
    /// text, with any password scrubbed).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        url: String,
        reason: String,
        #[source]
        source: Option<BoxError>,
    },

    /// A statement failed; `context` says what lakeshift was doing, `sqlstate` is the
    /// server's error code when the server answered.
    #[error("{context}: {reason}")]
    Postgres {
        context: String,
        reason: String,
        sqlstate: Option<String>,
        #[source]
        source: Option<tokio_postgres::Error>,
    },

    #[error("table {table} does not exist in {url}")]
    UnknownTable { table: String, url: String },

    #[error(
        "roles {roles} do not exist in {target}: create them there first, or pass --no-owner \
         to leave out what names them"
    )]
    MissingRoles { roles: String, target: String },

    #[error(
        "tablespaces {tablespaces} do not exist in {target}: create them there first, or pass \
         --no-tablespaces to store everything in its default tablespace"
    )]
    MissingTablespaces { tablespaces: String, target: String },

    #[error("schema {schema} does not exist in {url}")]
    UnknownSchema { schema: String, url: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file or object store location (`url` as the user wrote it, plus the file's path).
    #[error("{url}: {reason}")]
    Storage { url: String, reason: String },

    /// The file's rejects went past `max_rejects`: the load was rolled back.
    #[error("{}", self.describe(&str::to_string))]
    TooManyRejects {
        path: PathBuf,
        rejected: u64,
        max: u64,
        rejects_path: PathBuf,
    },

    /// A value its column's Arrow type cannot carry, met by a read that did not check the
    /// values first ([`crate::postgres::source::ValueCheck::OnRead`]): read as text, it travels.
    #[error("{table}.{column} holds {value}, which its Arrow type cannot carry")]
    IrregularValue {
        table: String,
        column: String,
        value: String,
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

    /// A change stream cannot go on (`slot` is its replication slot): an invalidated slot,
    /// a server without logical decoding, a change the lake cannot take.
    #[error("change stream {slot}: {reason}")]
    Stream { slot: String, reason: String },

    /// An SQL statement failed; `location` is `file:line:column` or the statement's origin.
    #[error("{location}: {reason}")]
    Sql { location: String, reason: String },

    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    /// Option values that are wrong or do not work together: every problem found. Each
    /// names its option as in YAML; the CLI shows it as a flag.
    #[error("{}", self.describe(&str::to_string))]
    Options(#[from] Problems),

    /// Two sides that do not fit: a table of the source and its twin in the target, a
    /// backup's table and an existing one, a file and the table it should load into.
    #[error("{table}: {reason}")]
    Mismatch { table: String, reason: String },

    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// A wrong argument that has no better home.
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
    pub fn pg(context: impl Into<String>, err: tokio_postgres::Error) -> Self {
        Error::Postgres {
            context: context.into(),
            reason: pg_reason(&err),
            sqlstate: err.code().map(|c| c.code().to_string()),
            source: Some(err),
        }
    }

    /// Wrap an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source: err,
        }
    }

    /// One problem with one option (named as in YAML, `incremental_column`).
    pub fn option(option: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Options(Problems(vec![Problem::new(option, message)]))
    }

    /// The message, with every option it names shown by `name`: the YAML name as it is
    /// (`max_rejects`, the `Display` form), or the CLI's flag.
    pub fn describe(&self, name: &dyn Fn(&str) -> String) -> String {
        match self {
            Error::Options(problems) => problems
                .0
                .iter()
                .map(|p| format!("{}: {}", name(&p.option), p.message))
                .collect::<Vec<_>>()
                .join("; "),
            Error::TooManyRejects {
                path,
                rejected,
                max,
                rejects_path,
            } => format!(
                "{}: {rejected} rows rejected, more than {} {max}; nothing was committed (see {})",
                path.display(),
                name("max_rejects"),
                rejects_path.display()
            ),
            other => other.to_string(),
        }
    }

    /// Whether this is a write to a reader that went away (`| head`): not worth reporting.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
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
        // Some causes repeat what their wrapper said already.
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}
