//! Postgres -> Arrow: tables read by binary COPY, streamed, in one exported snapshot.
//!
//! - the query is built from the catalog: each column is selected in a form
//!   [`super::copy_out`] decodes into the catalog's exact Arrow schema ([`super::types`]:
//!   nullability, widths, decimal precision and scale), a kind without one as its text;
//! - a table is read in chunks of heap pages (`ctid` ranges, a TID range scan), which a
//!   read's connections (`partitions`) take one at a time; a partitioned table is read from
//!   its leaf partitions, whose chunks form one list;
//! - every reading connection starts with `SET TRANSACTION SNAPSHOT` of a [`Snapshot`], so
//!   all chunks and all tables of one job see the same data;
//! - at most a batch per connection and two more in the channel are held: memory stays
//!   bounded whatever the table size.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryBuilder};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt as _;
use tokio_postgres::Client;

use crate::blocking::{panic_message, receiver_stream};
use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use crate::postgres::catalog::{Catalog, Column, Table};
use crate::postgres::connect::{quote_ident, quote_literal};
use crate::postgres::copy_out::{CopyDecoder, DecodeError, select_expression};
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
    /// Heap pages (8 KiB each) per chunk: the unit a read's connections take in turn.
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
    pub(super) async fn heaps(&self, table: &Table) -> Result<Vec<(String, u64)>> {
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

/// The server refused `doing` (reading, checking the values of) `table`: the error names
/// the flag that leaves the table out.
pub(super) fn refused(doing: &str, table: &str, e: tokio_postgres::Error) -> Error {
    Error::pg(
        format!("{doing} {table} (leave it out with --exclude-table {table})"),
        e,
    )
}

/// A new connection reading in snapshot `id`, as every reader of a job does. Row security is
/// off: a table's policies would hide rows from a reader they apply to, and it fails instead
/// (pg_dump's rule), so that nothing is silently left out.
pub(super) async fn join_snapshot(
    url: &DbUrl,
    id: &str,
    context: impl Fn(tokio_postgres::Error) -> Error,
) -> Result<Client> {
    let client = url.connect().await?;
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
             SET TRANSACTION SNAPSHOT {};
             SET LOCAL row_security = off",
            quote_literal(id)
        ))
        .await
        .map_err(context)?;
    Ok(client)
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

/// The columns a read returns (all but generated ones), with their kinds.
pub fn read_columns<'t>(catalog: &Catalog, table: &'t Table) -> Vec<(&'t Column, PgKind)> {
    let enums = catalog.enum_labels();
    table
        .columns
        .iter()
        .filter(|c| c.generated.is_none())
        .map(|c| {
            // Arrays of these elements travel as lists; other arrays as text.
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

/// Base types whose arrays travel as lists (others as their text output). The set is the
/// one backups were first written with, so a read's Arrow schema stays what it was.
/// Arrays must be one-dimensional: the snapshot's probe sends others as text.
fn read_natively(column: &Column) -> bool {
    column.type_kind == 'b'
        && matches!(
            column.type_name.as_str(),
            "_bool" | "_int2" | "_int4" | "_int8" | "_float4" | "_float8" | "_text"
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
        .map(|(c, kind)| select_expression(&quote_ident(&c.name), kind))
        .collect();
    let chunk = options.chunk_pages.max(1);
    let and = filter.map(|f| format!(" AND ({f})")).unwrap_or_default();
    let mut queries = VecDeque::new();
    for (from, pages) in snapshot.heaps(table).await? {
        for i in 0..pages.div_ceil(chunk).max(1) {
            let start = format!("ctid >= '({},0)'::tid", i * chunk);
            let end = if (i + 1) * chunk >= pages {
                String::new()
            } else {
                format!(" AND ctid < '({},0)'::tid", (i + 1) * chunk)
            };
            queries.push_back(format!(
                "COPY (SELECT {} FROM {from} WHERE {start}{end}{and}) TO STDOUT (FORMAT binary)",
                select.join(", ")
            ));
        }
    }
    let reader = Arc::new(ChunkReader {
        url: url.clone(),
        snapshot: snapshot.id().to_string(),
        table: table.full_name(),
        schema: schema.clone(),
        kinds: columns.into_iter().map(|(_, kind)| kind).collect(),
        batch_size: options.batch_size,
        queue: Mutex::new(queries),
    });
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
    let workers: Vec<_> = (0..options.partitions.max(1))
        .map(|_| {
            let (reader, sender) = (reader.clone(), sender.clone());
            tokio::spawn(async move {
                if let Err(e) = reader.read_chunks(&sender).await {
                    let _ = sender.send(Err(e)).await;
                }
            })
        })
        .collect();
    drop(sender);
    // A reader that panicked ends the stream with an error too.
    let tail = futures::stream::once(async move {
        for worker in workers {
            if let Err(e) = worker.await {
                return Some(Error::Internal {
                    task: "reading a table".into(),
                    reason: match e.try_into_panic() {
                        Ok(panic) => panic_message(panic.as_ref()),
                        Err(e) => e.to_string(),
                    },
                });
            }
        }
        None
    });
    let batches = receiver_stream(receiver);
    let stream = batches.chain(tail.filter_map(|e| async move { e.map(Err) }));
    let stream =
        stream.map(|r| r.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e))));
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

/// The chunk queries of one table, taken one at a time by each of a read's connections.
struct ChunkReader {
    url: DbUrl,
    snapshot: String,
    table: String,
    schema: SchemaRef,
    kinds: Vec<PgKind>,
    batch_size: usize,
    queue: Mutex<VecDeque<String>>,
}

impl ChunkReader {
    fn next_chunk(&self) -> Option<String> {
        self.queue.lock().map(|mut q| q.pop_front()).unwrap_or(None)
    }

    /// On a connection of its own in the read's snapshot, run chunk queries until none is
    /// left, sending their batches on (until the receiver is gone).
    async fn read_chunks(
        &self,
        sender: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<()> {
        let table = &self.table;
        let failed = |e| refused("reading", table, e);
        let Some(first) = self.next_chunk() else {
            return Ok(()); // no connection for nothing to read
        };
        let client = join_snapshot(&self.url, &self.snapshot, failed).await?;
        let chunks = std::iter::once(first).chain(std::iter::from_fn(|| self.next_chunk()));
        for query in chunks {
            let copy = client.copy_out(&query).await.map_err(failed)?;
            futures::pin_mut!(copy);
            let mut decoder = CopyDecoder::new(self.schema.clone(), &self.kinds, self.batch_size);
            let mut full = Vec::new();
            while let Some(bytes) = copy.next().await {
                let bytes = bytes.map_err(failed)?;
                decoder
                    .push(&bytes, &mut |batch| full.push(batch))
                    .map_err(|e| self.undecodable(e))?;
                for batch in full.drain(..) {
                    if sender.send(Ok(batch)).await.is_err() {
                        return Ok(()); // the consumer stopped
                    }
                }
            }
            let last = decoder.finish().map_err(|e| self.undecodable(e))?;
            if let Some(batch) = last
                && sender.send(Ok(batch)).await.is_err()
            {
                return Ok(());
            }
        }
        let _ = client.batch_execute("COMMIT").await;
        Ok(())
    }

    fn undecodable(&self, e: DecodeError) -> Error {
        if e.irregular {
            return Error::IrregularValue {
                table: self.table.clone(),
                column: e.column,
                value: e.reason,
            };
        }
        Error::UnsupportedType {
            table: self.table.clone(),
            column: e.column,
            reason: format!(
                "{} (leave the table out with --exclude-table {})",
                e.reason, self.table
            ),
        }
    }
}

/// Cast a batch (one of a file's, say) to the catalog's exact schema.
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
