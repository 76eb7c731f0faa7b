//! Postgres -> Arrow: tables read with connectorx, streamed, in one exported snapshot.
//!
//! connectorx is blocking, loses type details and buffers without bound, so:
//! - the query is built from the catalog: columns connectorx reads exactly are selected as
//!   they are, every other one as text (its type's output function), and each batch is then
//!   cast to the catalog's exact Arrow schema ([`super::types`]: nullability, widths, decimal precision and scale);
//! - a table is read in chunks of heap pages (`ctid` ranges, a TID range scan), so what
//!   connectorx can buffer is bounded by one chunk, whatever the table size; the chunks of
//!   a group run as parallel partitions; a partitioned table is read from its leaf
//!   partitions, whose chunks form one list;
//! - every reading connection starts with `SET TRANSACTION SNAPSHOT` of a [`Snapshot`], so
//!   all chunks and all tables of one job see the same data;
//! - it runs on the blocking pool, and a panic inside it becomes an error.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryBuilder};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use connectorx::arrow_batch_iter::ArrowBatchIter;
use connectorx::prelude::{ArrowStreamDestination, CXQuery, RecordBatchIterator, Source};
use connectorx::sources::postgres::{BinaryProtocol, PostgresSource};
use connectorx::transports::PostgresArrowStreamTransport;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::Client;

use crate::arrow_bridge::batch_from_arrow56;
use crate::blocking::{panic_message, receiver_stream, spawn_blocking};
use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use crate::postgres::catalog::{Catalog, Column, Table};
use crate::postgres::connect::tls::SslMode;
use crate::postgres::connect::{quote_ident, quote_literal};
use crate::postgres::types::{PG_TYPE_KEY, PgKind, arrow_field};

/// How a table is read. In YAML only `partitions` is set; the rest are tuning knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ReadOptions {
    /// Rows per Arrow batch.
    #[serde(skip)]
    pub batch_size: usize,
    /// Chunks read in parallel (connections per table).
    pub partitions: usize,
    /// Heap pages (8 KiB each) per chunk: the bound on what connectorx buffers.
    #[serde(skip)]
    pub chunk_pages: u64,
}

impl crate::options::Check for ReadOptions {
    fn check(&self, problems: &mut Vec<crate::options::Problem>) {
        if self.partitions == 0 {
            problems.push(crate::options::Problem::new(
                "partitions",
                "must be at least 1",
            ));
        }
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_size: 64 * 1024,
            partitions: 2,
            chunk_pages: 4096,
        }
    }
}

/// The relations that may hold the rows of table `$1` (a qualified name): the table itself
/// and, for a partitioned table, its leaf partitions. Callers keep those with a heap.
const HEAPS_OF_TABLE: &str = "(SELECT $1::text::regclass
    UNION ALL SELECT relid FROM pg_partition_tree($1::text::regclass) WHERE isleaf)";

/// An exported snapshot, valid while this control connection keeps its transaction open.
pub struct Snapshot {
    client: Client,
    id: String,
}

impl Snapshot {
    /// Open a repeatable-read transaction on `url`, lock `tables` against rewrites (VACUUM
    /// FULL, CLUSTER, DROP) and export its snapshot.
    pub async fn export(url: &DbUrl, tables: &[&Table]) -> Result<Snapshot> {
        let client = url.connect().await?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| Error::pg("opening the read snapshot", e))?;
        if !tables.is_empty() {
            let names: Vec<String> = tables.iter().map(|t| t.qualified()).collect();
            refuse_unreadable(&client, tables, &names).await?;
            client
                .batch_execute(&format!(
                    "LOCK TABLE {} IN ACCESS SHARE MODE",
                    names.join(", ")
                ))
                .await
                .map_err(|e| Error::pg("locking the tables to read", e))?;
        }
        let row = client
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .map_err(|e| Error::pg("exporting the read snapshot", e))?;
        Ok(Snapshot {
            id: row.get(0),
            client,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The connection holding the snapshot: its queries see exactly what the readers see.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The heaps holding `table`'s rows, as `FROM` clauses with their page counts now (a
    /// table only grows while the snapshot's lock is held): the table itself, or the leaf
    /// partitions of a partitioned table.
    async fn heaps(&self, table: &Table) -> Result<Vec<(String, u64)>> {
        let sql = "SELECT 'ONLY ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND c.oid IN ";
        let sql = format!("{sql}{HEAPS_OF_TABLE} ORDER BY 1");
        let rows = self
            .client
            .query(&sql, &[&table.qualified()])
            .await
            .map_err(|e| Error::pg(format!("sizing {}", table.full_name()), e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
            .collect())
    }

    /// Mark the columns of `table` whose values in this snapshot do not fit their Arrow type
    /// (see [`Column::irregular`]): NaN or infinity in a `numeric(p,s)`, infinite or very
    /// distant dates and timestamps, arrays of several dimensions or not starting at 1. One
    /// query, which stops at the first such value; only tables with such columns are scanned.
    pub async fn mark_irregular(&self, catalog: &Catalog, table: &mut Table) -> Result<()> {
        let probes: Vec<(String, String)> = read_columns(catalog, table)
            .iter()
            .filter_map(|(c, kind)| {
                let q = quote_ident(&c.name);
                let probe = match kind {
                    PgKind::Decimal { .. } => format!("{q} IN ('NaN', 'Infinity', '-Infinity')"),
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
                };
                Some((c.name.clone(), probe))
            })
            .collect();
        if probes.is_empty() {
            return Ok(());
        }
        // Each heap on its own: a partitioned table's foreign partitions are not read.
        let heaps = self.heaps(table).await?;
        let found: Vec<String> = probes
            .iter()
            .map(|(_, p)| {
                let each: Vec<String> = heaps
                    .iter()
                    .map(|(heap, _)| format!("EXISTS (SELECT 1 FROM {heap} WHERE {p})"))
                    .collect();
                if each.is_empty() {
                    "false".to_string()
                } else {
                    format!("({})", each.join(" OR "))
                }
            })
            .collect();
        let row = self
            .client
            .query_one(&format!("SELECT {}", found.join(", ")), &[])
            .await
            .map_err(|e| Error::pg(format!("checking the values of {}", table.full_name()), e))?;
        let label = table.full_name();
        for (n, (name, _)) in probes.iter().enumerate() {
            if row.get::<_, bool>(n) {
                let column = table.columns.iter_mut().find(|c| &c.name == name);
                if let Some(column) = column {
                    tracing::info!(table = %label, column = %column.name,
                        "holds values its Arrow type cannot carry: read as text");
                    column.irregular = true;
                }
            }
        }
        Ok(())
    }

    /// The planner's estimate of the rows in `table`, partitions included (for progress
    /// bars; 0 when unknown).
    pub async fn estimated_rows(&self, table: &Table) -> Result<u64> {
        let sql = format!(
            "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::int8 FROM pg_class
             WHERE relkind = 'r' AND oid IN {HEAPS_OF_TABLE}"
        );
        let row = self
            .client
            .query_one(&sql, &[&table.qualified()])
            .await
            .map_err(|e| Error::pg(format!("estimating the size of {}", table.full_name()), e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// End the snapshot's transaction.
    pub async fn release(self) -> Result<()> {
        self.client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| Error::pg("closing the read snapshot", e))
    }
}

/// Fail, naming the first of `tables` (or of their leaf partitions, which are read on their
/// own) the connecting role may not read and the flag that leaves it out, before any is
/// locked (where LOCK would only say "permission denied").
async fn refuse_unreadable(client: &Client, tables: &[&Table], names: &[String]) -> Result<()> {
    let denied = client
        .query(
            "SELECT i, h = t::regclass, n.nspname || '.' || c.relname
             FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i),
                 LATERAL (SELECT t::regclass AS h UNION ALL
                          SELECT relid FROM pg_partition_tree(t::regclass) WHERE isleaf) heaps
             JOIN pg_class c ON c.oid = h JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT has_table_privilege(h, 'SELECT') ORDER BY i LIMIT 1",
            &[&names],
        )
        .await
        .map_err(|e| Error::pg("checking the privileges to read the tables", e))?;
    let Some(row) = denied.first() else {
        return Ok(());
    };
    let (index, itself, heap): (i64, bool, String) = (row.get(0), row.get(1), row.get(2));
    let table = tables[index as usize - 1].full_name();
    let what = if itself {
        table.clone()
    } else {
        format!("{heap} (a partition of {table})")
    };
    Err(Error::Invalid(format!(
        "cannot read {what}: the connecting role has no SELECT privilege on it (grant it, or \
         leave the table out with --exclude-table {table})"
    )))
}

/// An SQL condition true for a date or timestamp `value` that Arrow cannot carry as read:
/// `infinity`, `-infinity`, and years past chrono's range (262142), which the reader decodes
/// through (Postgres's earliest, 4713 BC, is within it). Such columns travel as text, so
/// nothing is clamped or refused.
fn beyond_arrow(value: &str) -> String {
    format!("NOT isfinite({value}) OR {value} >= '262142-01-01'")
}

/// The columns a read returns (all but generated ones), with their kinds.
pub fn read_columns<'t>(catalog: &Catalog, table: &'t Table) -> Vec<(&'t Column, PgKind)> {
    let enums = catalog.enum_labels();
    table
        .columns
        .iter()
        .filter(|c| c.generated.is_none())
        .map(|c| {
            // connectorx reads arrays of these elements; other arrays travel as text.
            let kind = match PgKind::of(c, &enums) {
                _ if c.irregular => PgKind::CastText,
                PgKind::Array(_) if !read_natively(c) => PgKind::CastText,
                kind => kind,
            };
            (c, kind)
        })
        .collect()
}

/// The Arrow schema of a read: the catalog's exact types, Postgres types in the metadata.
pub fn read_schema(columns: &[(&Column, PgKind)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(c, k)| arrow_field(c, k))
            .collect::<Vec<_>>(),
    ))
}

/// Base types connectorx reads exactly; everything else is selected as text. Arrays must
/// be one-dimensional: connectorx refuses others, and the read fails with its message.
fn read_natively(column: &Column) -> bool {
    column.type_kind == 'b'
        && matches!(
            column.type_name.as_str(),
            "_bool"
                | "_int2"
                | "_int4"
                | "_int8"
                | "_float4"
                | "_float8"
                | "_text"
                | "bool"
                | "int2"
                | "int4"
                | "int8"
                | "float4"
                | "float8"
                | "text"
                | "varchar"
                | "bytea"
                | "date"
                | "time"
                | "timestamp"
                | "timestamptz"
                | "uuid"
        )
}

/// Stream `table` as batches of [`read_schema`], inside `snapshot`.
pub async fn read_table(
    url: &DbUrl,
    snapshot: &Snapshot,
    catalog: &Catalog,
    table: &Table,
    options: ReadOptions,
) -> Result<SendableRecordBatchStream> {
    read_rows(url, snapshot, catalog, table, None, options).await
}

/// Stream the rows of `table` that satisfy `filter` (an SQL condition built by the caller
/// from trusted parts, e.g. an incremental sync's watermark), inside `snapshot`.
pub async fn read_rows(
    url: &DbUrl,
    snapshot: &Snapshot,
    catalog: &Catalog,
    table: &Table,
    filter: Option<&str>,
    options: ReadOptions,
) -> Result<SendableRecordBatchStream> {
    let columns = read_columns(catalog, table);
    let schema = read_schema(&columns);
    let select: Vec<String> = columns
        .iter()
        .map(|(c, _)| {
            let q = quote_ident(&c.name);
            if read_natively(c) && !c.irregular {
                q
            } else {
                // The type's own output function (`format`), never a cast to text the
                // database may define otherwise.
                format!("CASE WHEN {q} IS NULL THEN NULL ELSE format('%s', {q}) END AS {q}")
            }
        })
        .collect();
    let chunk = options.chunk_pages.max(1);
    let and = filter.map(|f| format!(" AND ({f})")).unwrap_or_default();
    let mut queries = Vec::new();
    for (from, pages) in snapshot.heaps(table).await? {
        for i in 0..pages.div_ceil(chunk).max(1) {
            let start = format!("ctid >= '({},0)'::tid", i * chunk);
            let end = if (i + 1) * chunk >= pages {
                String::new()
            } else {
                format!(" AND ctid < '({},0)'::tid", (i + 1) * chunk)
            };
            queries.push(format!(
                "SELECT {} FROM {from} WHERE {start}{end}{and}",
                select.join(", ")
            ));
        }
    }
    let pre = vec![
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_string(),
        format!("SET TRANSACTION SNAPSHOT {}", quote_literal(snapshot.id())),
        // A table's policies would hide rows from a reader they apply to: fail instead
        // (pg_dump's rule), so that nothing is silently left out.
        "SET LOCAL row_security = off".to_string(),
    ];
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
    let (label, target, url) = (table.full_name(), schema.clone(), url.clone());
    let groups: Vec<Vec<String>> = queries
        .chunks(options.partitions.max(1))
        .map(<[String]>::to_vec)
        .collect();
    let reader = spawn_blocking("reading with connectorx", move || {
        for group in groups {
            let result = read_group(
                &url,
                &group,
                &pre,
                options.batch_size,
                &target,
                &label,
                &sender,
            );
            if let Err(e) = result {
                // connectorx's messages may quote the connection string.
                let e = match e {
                    Error::Postgres {
                        context,
                        reason,
                        sqlstate,
                        source,
                    } => Error::Postgres {
                        context,
                        reason: url.scrub(&reason),
                        sqlstate,
                        source,
                    },
                    other => other,
                };
                let _ = sender.blocking_send(Err(e));
                break;
            }
            if sender.is_closed() {
                break;
            }
        }
        Ok(())
    });
    // A failure of the reader task itself (a panic outside connectorx) ends the stream too.
    let tail = futures::stream::once(async move { reader.await.err() });
    let batches = receiver_stream(receiver);
    use futures::StreamExt;
    let stream = batches.chain(tail.filter_map(|e| async move { e.map(Err) }));
    let stream =
        stream.map(|r| r.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e))));
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

/// Read one group of chunk queries in parallel and send the batches on.
fn read_group(
    url: &DbUrl,
    queries: &[String],
    pre: &[String],
    batch_size: usize,
    schema: &SchemaRef,
    table: &str,
    sender: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let failed = |reason: String| Error::Postgres {
        context: format!("reading {table} (leave it out with --exclude-table {table})"),
        reason: if reason.contains("value too large to decode") {
            format!("a date or timestamp is infinite or out of Arrow's range ({reason})")
        } else {
            server_message(&reason).unwrap_or(reason)
        },
        sqlstate: None,
        source: None,
    };
    let cx_queries: Vec<CXQuery<String>> =
        queries.iter().map(|q| CXQuery::Naked(q.clone())).collect();
    let mut batches = std::panic::catch_unwind(AssertUnwindSafe(|| {
        record_batches(url, &cx_queries, pre, batch_size)
    }))
    .map_err(|p| failed(panic_message(p.as_ref())))?
    .map_err(|e| failed(e.to_string()))?;
    std::panic::catch_unwind(AssertUnwindSafe(|| batches.prepare()))
        .map_err(|p| failed(panic_message(p.as_ref())))?;
    loop {
        let next = std::panic::catch_unwind(AssertUnwindSafe(|| batches.next_batch()))
            .map_err(|p| failed(panic_message(p.as_ref())))?;
        let Some(batch) = next else { return Ok(()) };
        let batch = conform(&batch_from_arrow56(&batch)?, schema, table)?;
        if sender.blocking_send(Ok(batch)).is_err() {
            return Ok(()); // the consumer stopped
        }
    }
}

/// The server's own message inside connectorx's error text, which reaches us only as the
/// debug rendering of the driver's error (`.. DbError { .. message: "..", .. }`).
fn server_message(reason: &str) -> Option<String> {
    let start = reason.find("message: \"")? + "message: \"".len();
    let mut message = String::new();
    let mut chars = reason[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => message.extend(chars.next()),
            '"' => return Some(message),
            c => message.push(c),
        }
    }
    None
}

/// connectorx's reader for `queries`, connected with the settings and the TLS connector
/// of every other lakeshift connection (not connectorx's own parsing of the URL, which
/// knows fewer settings and sslmodes). `sslmode=allow` reads as `prefer`: the reader
/// cannot retry a refused plaintext connection.
fn record_batches(
    url: &DbUrl,
    queries: &[CXQuery<String>],
    pre: &[String],
    batch_size: usize,
) -> std::result::Result<Box<dyn RecordBatchIterator>, String> {
    let mut config = url.config().clone();
    if url.tls().mode == SslMode::Allow {
        config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
    }
    let mut source = PostgresSource::<BinaryProtocol, MakeTlsConnector>::new(
        config.into(),
        url.connector().clone(),
        queries.len(),
    )
    .map_err(|e| url.scrub(&e.to_string()))?;
    source.set_pre_execution_queries(Some(pre));
    let destination = ArrowStreamDestination::new_with_batch_size(batch_size);
    let batches =
        ArrowBatchIter::<_, PostgresArrowStreamTransport<BinaryProtocol, MakeTlsConnector>>::new(
            source,
            destination,
            None,
            queries,
        )
        .map_err(|e| url.scrub(&e.to_string()))?;
    Ok(Box::new(batches))
}

/// Cast a batch as connectorx returns it to the catalog's exact schema.
pub fn conform(batch: &RecordBatch, schema: &SchemaRef, table: &str) -> Result<RecordBatch> {
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let failed = |reason: String| Error::UnsupportedType {
            table: table.to_string(),
            column: field.name().clone(),
            reason,
        };
        let converted = match (column.data_type(), field.data_type()) {
            (from, to) if from == to => column.clone(),
            (DataType::Utf8 | DataType::LargeUtf8, DataType::FixedSizeBinary(16)) => {
                uuids(column).map_err(failed)?
            }
            (_, to @ DataType::Decimal128(..)) => cast_with_options(column, to, &options)
                .map_err(|e| match e.to_string() {
                    nan if nan.contains("'NaN'") => failed(format!(
                        "holds NaN, which a {} column (Decimal128) cannot carry; alter it to unconstrained numeric to move it",
                        field.metadata().get(PG_TYPE_KEY).map_or("numeric", String::as_str)
                    )),
                    other => failed(other),
                })?,
            (_, to) => {
                cast_with_options(column, to, &options).map_err(|e| failed(e.to_string()))?
            }
        };
        columns.push(converted);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn uuids(column: &ArrayRef) -> std::result::Result<ArrayRef, String> {
    let text = cast_with_options(column, &DataType::Utf8, &CastOptions::default())
        .map_err(|e| e.to_string())?;
    let mut out = FixedSizeBinaryBuilder::with_capacity(text.len(), 16);
    for value in text.as_string::<i32>() {
        match value {
            Some(s) => {
                let uuid = uuid::Uuid::try_parse(s).map_err(|e| format!("{s:?}: {e}"))?;
                out.append_value(uuid.as_bytes())
                    .map_err(|e| e.to_string())?;
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_message_is_found_in_the_drivers_debug_text() {
        let text = r#"cx writer failed: Source(PostgresError(Error { kind: Db, cause: Some(DbError { severity: "ERROR", code: SqlState(E42501), message: "permission denied for table \"p\"", detail: None }) }))"#;
        assert_eq!(
            server_message(text).as_deref(),
            Some(r#"permission denied for table "p""#)
        );
        assert_eq!(server_message("connection refused"), None);
    }
}
