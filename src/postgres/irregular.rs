//! Values a column's Arrow type cannot carry as read: NaN in a `numeric(p,s)`, infinite or
//! very distant dates and timestamps, arrays of several dimensions or not starting at 1.
//! Before a job reads ([`super::source::ValueCheck::First`]), one scan of each heap in the
//! job's snapshot finds the columns that hold any; those travel as their text
//! ([`Column::irregular`]), so nothing is clamped or refused. The COPY decoder refuses the
//! same values, so a job that does not check first learns of them as it reads. The scans
//! of every selected table's heaps share the read's connections: a partitioned table's
//! partitions are probed in parallel.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::DbUrl;
use super::catalog::{Catalog, Column, Table};
use super::connect::quote_ident;
use super::copy_out::DISTANT_YEAR;
use super::read::{Snapshot, join_snapshot, read_columns, refused};
use super::types::PgKind;
use crate::error::{Error, Result};

/// One heap's scan: a flag per probed column of table `table` (an index in the job's list).
struct Scan {
    table: usize,
    label: String,
    columns: Vec<String>,
    sql: String,
}

/// Mark the columns of `tables` whose values in `snapshot` do not fit their Arrow type,
/// scanning on up to `connections` connections of `url` at once.
pub async fn mark_irregular(
    snapshot: &Snapshot,
    url: &DbUrl,
    catalog: &Catalog,
    tables: &mut [Table],
    connections: usize,
) -> Result<()> {
    let mut scans = VecDeque::new();
    for (index, table) in tables.iter().enumerate() {
        let probes = probes(catalog, table);
        if probes.is_empty() {
            continue;
        }
        // One pass over each heap for all the columns; a foreign partition is not read.
        let flags: Vec<String> = (probes.iter())
            .map(|(_, p)| format!("coalesce(bool_or({p}), false)"))
            .collect();
        for (heap, _) in snapshot.heaps(table).await? {
            scans.push_back(Scan {
                table: index,
                label: table.full_name(),
                columns: probes.iter().map(|(c, _)| c.clone()).collect(),
                sql: format!("SELECT {} FROM {heap}", flags.join(", ")),
            });
        }
    }
    let workers = connections.max(1).min(scans.len());
    let queue = Mutex::new(scans);
    let next = || queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
    let scanner = || async {
        let checking = |e| Error::pg("checking the values of the tables to read", e);
        let client = join_snapshot(url, snapshot.id(), checking).await?;
        let mut found = Vec::new();
        while let Some(scan) = next() {
            let row = (client.query_one(&scan.sql, &[]).await)
                .map_err(|e| refused("checking the values of", &scan.label, e))?;
            for (n, column) in scan.columns.into_iter().enumerate() {
                if row.get::<_, bool>(n) {
                    found.push((scan.table, column));
                }
            }
        }
        let _ = client.batch_execute("COMMIT").await;
        Ok::<_, Error>(found)
    };
    let found = futures::future::try_join_all((0..workers).map(|_| scanner())).await?;
    for (index, column) in found.into_iter().flatten() {
        tables[index].mark_irregular(&column);
    }
    Ok(())
}

/// `(column, condition)` for each column of `table` that may hold such values: the
/// condition is true for a value that does not fit.
fn probes(catalog: &Catalog, table: &Table) -> Vec<(String, String)> {
    read_columns(catalog, table)
        .iter()
        .filter_map(|(c, kind)| probe(c, kind).map(|p| (c.name.clone(), p)))
        .collect()
}

fn probe(column: &Column, kind: &PgKind) -> Option<String> {
    let q = quote_ident(&column.name);
    Some(match kind {
        // Postgres refuses an infinity in a numeric with a precision: NaN is the one left.
        // (One equality per row: comparing with the infinities doubled the scan's cost.)
        PgKind::Decimal { .. } => format!("{q} = 'NaN'"),
        PgKind::Date | PgKind::Timestamp | PgKind::Timestamptz => beyond_arrow(&q),
        PgKind::Array(element) => {
            let shape = format!("array_ndims({q}) > 1 OR array_lower({q}, 1) <> 1");
            match **element {
                PgKind::Date | PgKind::Timestamp | PgKind::Timestamptz => format!(
                    "{shape} OR EXISTS (SELECT 1 FROM unnest({q}) e WHERE {})",
                    beyond_arrow("e")
                ),
                _ => shape,
            }
        }
        _ => return None,
    })
}

/// An SQL condition true for a date or timestamp `value` that Arrow cannot carry as read:
/// `infinity` and years from [`DISTANT_YEAR`] on, and `-infinity` (Postgres's earliest
/// finite value, 4713 BC, fits): what the decoder refuses. Plain comparisons: a function
/// call per row (`isfinite`) made the scan slower.
fn beyond_arrow(value: &str) -> String {
    format!("{value} >= '{DISTANT_YEAR}-01-01' OR {value} = '-infinity'")
}
