//! Keeping a Delta table in shape: `optimize` compacts small files, `vacuum` deletes the
//! files no version within the retention period needs, `history` lists the commits.

use std::num::NonZeroU64;

use futures::TryStreamExt;
use serde::Serialize;

use super::{delta_error, open_table};
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct OptimizeSummary {
    pub files_added: u64,
    pub files_removed: u64,
    /// The new version, or the current one when there was nothing to compact.
    pub version: Option<u64>,
}

/// Compact the small files of the table at `location` into files of about `target_bytes`.
pub async fn optimize(location: &str, target_bytes: Option<u64>) -> Result<OptimizeSummary> {
    let table = open_table(location, None).await?;
    let mut builder = table.optimize();
    if let Some(bytes) = target_bytes.and_then(NonZeroU64::new) {
        builder = builder.with_target_size(bytes);
    }
    let (table, metrics) = builder.await.map_err(|e| delta_error(location, e))?;
    Ok(OptimizeSummary {
        files_added: metrics.num_files_added,
        files_removed: metrics.num_files_removed,
        version: table.version(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct VacuumSummary {
    pub dry_run: bool,
    /// The files deleted (or, in a dry run, that would be).
    pub files: Vec<String>,
}

/// Delete the files of the table at `location` that no version younger than
/// `retention_hours` (default: the table's setting, 7 days) reads. A retention below the
/// table's setting is refused unless `force`.
pub async fn vacuum(
    location: &str,
    retention_hours: Option<u64>,
    dry_run: bool,
    force: bool,
) -> Result<VacuumSummary> {
    let table = open_table(location, None).await?;
    let mut builder = table
        .vacuum()
        .with_dry_run(dry_run)
        .with_enforce_retention_duration(!force);
    if let Some(hours) = retention_hours {
        builder = builder.with_retention_period(chrono::Duration::hours(hours as i64));
    }
    let (_, metrics) = builder.await.map_err(|e| delta_error(location, e))?;
    Ok(VacuumSummary {
        dry_run: metrics.dry_run,
        files: metrics.files_deleted,
    })
}

/// One commit of a table's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: u64,
    /// Commit time, RFC 3339 UTC.
    pub timestamp: Option<String>,
    pub operation: Option<String>,
    /// Rows the commit wrote (inserted, updated or rewritten), when the operation says.
    pub rows: Option<u64>,
    pub parameters: serde_json::Value,
    pub metrics: serde_json::Value,
}

/// The newest `limit` commits of the table at `location` (all when `None`), newest first.
pub async fn history(location: &str, limit: Option<usize>) -> Result<Vec<HistoryEntry>> {
    let table = open_table(location, None).await?;
    let latest = table.version().unwrap_or(0);
    let commits: Vec<_> = table
        .history(limit)
        .try_collect()
        .await
        .map_err(|e| delta_error(location, e))?;
    Ok(commits
        .into_iter()
        .enumerate()
        .map(|(i, commit)| {
            let metrics = commit
                .info
                .get("operationMetrics")
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            HistoryEntry {
                version: latest.saturating_sub(i as u64),
                timestamp: commit
                    .timestamp
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                operation: commit.operation,
                rows: rows_written(&metrics),
                parameters: serde_json::to_value(commit.operation_parameters).unwrap_or_default(),
                metrics,
            }
        })
        .collect())
}

/// The row count an operation's metrics report, under whichever name the operation uses.
fn rows_written(metrics: &serde_json::Value) -> Option<u64> {
    let get = |name: &str| metrics.get(name).and_then(serde_json::Value::as_u64);
    if let Some(rows) = get("num_added_rows").or_else(|| get("numOutputRows")) {
        return Some(rows);
    }
    let merged = [
        "num_target_rows_inserted",
        "num_target_rows_updated",
        "numTargetRowsInserted",
        "numTargetRowsUpdated",
    ]
    .iter()
    .filter_map(|n| get(n))
    .collect::<Vec<_>>();
    (!merged.is_empty()).then(|| merged.iter().sum())
}
