//! The Delta mirror: Postgres tables written to Delta tables ([`sync`]) and kept in shape
//! ([`maintenance`]: compaction, vacuum, history).
//!
//! A Delta table lives at `<root>/<table>` where the root is a directory or an `s3://` URL
//! ([`location`]). Postgres types Delta has no type for are converted on the way
//! ([`schema`]).

pub mod location;
pub mod maintenance;
pub mod partitioning;
pub mod schema;
pub mod sync;
mod watermark;

pub use location::{open_table, table_url};
pub use maintenance::{HistoryEntry, OptimizeSummary, VacuumSummary, history, optimize, vacuum};
pub use partitioning::PartitionBy;
pub use sync::{SyncJob, SyncMode, SyncOptions, SyncSummary};

use crate::error::Error;

/// A Delta failure, with the table it concerns, on one line (delta-rs adds help lines).
pub(crate) fn delta_error(table: impl std::fmt::Display, err: impl std::fmt::Display) -> Error {
    let reason = err.to_string();
    Error::Lake {
        table: table.to_string(),
        reason: reason
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    }
}
