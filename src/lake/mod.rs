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

/// The Parquet properties of the Delta files lakeshift writes: row groups of at most 64k
/// rows, so that a writer holds little in memory (a merge rewrites whole files, whose
/// default single row group of up to a million rows would be buffered entire).
pub(crate) fn writer_properties() -> deltalake::parquet::file::properties::WriterProperties {
    deltalake::parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(64 * 1024))
        .build()
}

/// The version `delta`'s log records for the application transaction `app_id` (written in
/// the same commit as rows, it says which rows a table holds): `None` when it has none.
pub(crate) async fn transaction_version(
    delta: &deltalake::DeltaTable,
    app_id: &str,
    label: &str,
) -> crate::error::Result<Option<i64>> {
    delta
        .snapshot()
        .map_err(|e| delta_error(label, e))?
        .transaction_version(delta.log_store().as_ref(), app_id)
        .await
        .map_err(|e| delta_error(label, e))
}

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
