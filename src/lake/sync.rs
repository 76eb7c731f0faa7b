//! `lake sync`: Postgres tables -> Delta tables, streamed. All tables are read in one
//! exported snapshot; each table's rows go straight from the reader into the Delta writer
//! (a DataFusion plan over the stream), so memory is bounded by the writer's row groups.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use futures::StreamExt;
use serde::Serialize;

use super::delta_error;
use super::location::{folder_name, open_or_new, table_url};
use super::schema::{SchemaChange, compare, delta_schema, to_delta};
use super::watermark::{self, Watermark};
use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use crate::postgres::catalog::{Catalog, Table};
use crate::postgres::read::{ReadOptions, Snapshot, read_columns, read_rows, read_schema};

/// What a sync does with the rows already in the Delta table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Replace the table's rows (a new version; older ones stay readable until vacuumed).
    #[default]
    Overwrite,
    /// Add the rows read.
    Append,
    /// Upsert on the primary key (or `--key`): update matching rows, insert the others.
    Merge,
}

/// One `lake sync` run.
pub struct SyncJob {
    source: DbUrl,
    to: String,
    schemas: Vec<String>,
    tables: Vec<String>,
    mode: SyncMode,
    key: Vec<String>,
    incremental: Option<String>,
    read: ReadOptions,
    progress: bool,
}

/// What happened to one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableSync {
    pub table: String,
    pub delta: String,
    pub mode: SyncMode,
    /// Rows read from Postgres and written (0 when an incremental sync found nothing new).
    pub rows: u64,
    /// The Delta version written; `None` when nothing was committed.
    pub version: Option<u64>,
    /// The incremental column's new watermark.
    pub watermark: Option<String>,
    /// Source columns the Delta table did not have yet (added to it).
    pub added_columns: Vec<String>,
    /// Delta columns the source no longer has: dropped by an overwrite, null in rows
    /// appended or merged.
    pub removed_columns: Vec<String>,
    pub seconds: f64,
}

impl SyncJob {
    pub fn new(source: DbUrl, to: impl Into<String>) -> Self {
        SyncJob {
            source,
            to: to.into(),
            schemas: vec!["public".into()],
            tables: Vec::new(),
            mode: SyncMode::default(),
            key: Vec::new(),
            incremental: None,
            read: ReadOptions::default(),
            progress: false,
        }
    }

    pub fn with_schemas(mut self, schemas: Vec<String>) -> Self {
        if !schemas.is_empty() {
            self.schemas = schemas;
        }
        self
    }

    /// Only these tables (`name` or `schema.name`); all tables of the schemas when empty.
    pub fn with_tables(mut self, tables: Vec<String>) -> Self {
        self.tables = tables;
        self
    }

    pub fn with_mode(mut self, mode: SyncMode) -> Self {
        self.mode = mode;
        self
    }

    /// The merge key; the primary key when empty.
    pub fn with_key(mut self, key: Vec<String>) -> Self {
        self.key = key;
        self
    }

    pub fn with_incremental_column(mut self, column: Option<String>) -> Self {
        self.incremental = column;
        self
    }

    pub fn with_read_options(mut self, read: ReadOptions) -> Self {
        self.read = read;
        self
    }

    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    pub async fn run(self) -> Result<Vec<TableSync>> {
        if self.incremental.is_some() && self.mode == SyncMode::Overwrite {
            return Err(Error::Invalid(
                "--incremental-column needs --mode append or --mode merge (overwrite would drop the rows synced before)".into(),
            ));
        }
        let catalog = Catalog::load(&self.source, &self.schemas).await?;
        let tables = catalog.select_tables(&self.tables, &self.source)?;
        let snapshot = Snapshot::export(&self.source, &tables).await?;
        let mut done = Vec::with_capacity(tables.len());
        for table in &tables {
            done.push(self.sync_table(&catalog, table, &snapshot).await?);
        }
        snapshot.release().await?;
        Ok(done)
    }

    async fn sync_table(
        &self,
        catalog: &Catalog,
        table: &Table,
        snapshot: &Snapshot,
    ) -> Result<TableSync> {
        let started = Instant::now();
        let url = table_url(&self.to, &folder_name(table))?;
        let label = table.full_name();
        let (delta, exists) = open_or_new(&url).await?;
        let columns = read_columns(catalog, table);
        let schema = delta_schema(&read_schema(&columns));
        let change = if exists {
            let current = delta
                .snapshot()
                .map_err(|e| delta_error(&label, e))?
                .schema();
            compare(&current, &schema, &label)?
        } else {
            SchemaChange::default()
        };
        let mut summary = TableSync {
            table: label.clone(),
            delta: url.to_string(),
            mode: self.mode,
            rows: 0,
            version: None,
            watermark: None,
            added_columns: change.added.clone(),
            removed_columns: change.removed.clone(),
            seconds: 0.0,
        };
        let mark = match &self.incremental {
            Some(column) => {
                let existing = exists.then_some(&delta);
                match watermark::next(snapshot, table, column, existing).await? {
                    Some(mark) => Some(mark),
                    None => {
                        tracing::info!(table = %label, "nothing past the watermark: nothing to sync");
                        summary.seconds = started.elapsed().as_secs_f64();
                        return Ok(summary);
                    }
                }
            }
            None => None,
        };
        let filter = mark.as_ref().map(|m| m.filter.as_str());
        let stream = read_rows(&self.source, snapshot, catalog, table, filter, self.read).await?;
        let estimate = snapshot.estimated_rows(table).await?;
        let bar = crate::progress::rows_bar(estimate, &table.name, self.progress);
        let rows = Arc::new(AtomicU64::new(0));
        let (counted, target, progress) = (rows.clone(), schema.clone(), bar.clone());
        let converted = stream.map(move |batch| {
            let batch = batch?;
            counted.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            progress.inc(batch.num_rows() as u64);
            to_delta(&batch, &target)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
        });
        let converted = Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema.clone(),
                converted,
            ),
        );
        let provider = crate::stream_table::once(&label, converted)?;
        let commit = commit_properties(table, snapshot, mark.as_ref());
        let written = match (self.mode, exists) {
            (SyncMode::Merge, true) => {
                let key = self.merge_key(table)?;
                merge(delta, provider, &key, commit, !change.is_empty(), &label).await?
            }
            (mode, _) => {
                let save = if mode == SyncMode::Overwrite && exists {
                    SaveMode::Overwrite
                } else {
                    SaveMode::Append
                };
                write(delta, provider, save, commit, &change, &label).await?
            }
        };
        bar.finish_and_clear();
        summary.rows = rows.load(Ordering::Relaxed);
        summary.version = written.version();
        summary.watermark = mark.map(|m| m.text);
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(table = %label, rows = summary.rows, version = ?summary.version, seconds = summary.seconds, "synced to Delta");
        Ok(summary)
    }

    fn merge_key(&self, table: &Table) -> Result<Vec<String>> {
        let key = if self.key.is_empty() {
            table.primary_key().to_vec()
        } else {
            self.key.clone()
        };
        if key.is_empty() {
            return Err(Error::Invalid(format!(
                "--mode merge: {} has no primary key; name the columns to match on with --key",
                table.full_name()
            )));
        }
        if let Some(missing) = key.iter().find(|k| table.column(k).is_none()) {
            return Err(Error::Invalid(format!(
                "--key {missing}: {} has no such column",
                table.full_name()
            )));
        }
        Ok(key)
    }
}

/// The commit's own record of where its rows came from; with a watermark, the application
/// transaction that makes an incremental sync exactly-once.
fn commit_properties(
    table: &Table,
    snapshot: &Snapshot,
    mark: Option<&Watermark>,
) -> CommitProperties {
    let mut metadata = vec![
        (
            "lakeshift.source".to_string(),
            serde_json::json!(table.full_name()),
        ),
        (
            "lakeshift.snapshot".to_string(),
            serde_json::json!(snapshot.id()),
        ),
    ];
    let mut commit = CommitProperties::default();
    if let Some(mark) = mark {
        metadata.push(("lakeshift.watermark".into(), serde_json::json!(mark.text)));
        commit = commit.with_application_transaction(Transaction::new(&mark.app_id, mark.version));
    }
    commit.with_metadata(metadata)
}

async fn write(
    delta: DeltaTable,
    provider: Arc<dyn datafusion::catalog::TableProvider>,
    save: SaveMode,
    commit: CommitProperties,
    change: &SchemaChange,
    label: &str,
) -> Result<DeltaTable> {
    let plan = LogicalPlanBuilder::scan(label, provider_as_source(provider), None)
        .and_then(|b| b.build())
        .map_err(|e| delta_error(label, e))?;
    let mut builder = delta
        .write(Vec::new())
        .with_input_plan(plan)
        .with_save_mode(save)
        .with_commit_properties(commit);
    if !change.is_empty() {
        // An overwrite takes the source's columns; an append keeps the table's, adding new ones.
        let mode = match save {
            SaveMode::Overwrite => SchemaMode::Overwrite,
            _ => SchemaMode::Merge,
        };
        builder = builder.with_schema_mode(mode);
    }
    builder.await.map_err(|e| write_error(label, e))
}

async fn merge(
    delta: DeltaTable,
    provider: Arc<dyn datafusion::catalog::TableProvider>,
    key: &[String],
    commit: CommitProperties,
    evolve: bool,
    label: &str,
) -> Result<DeltaTable> {
    let columns: Vec<String> = provider
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let ctx = SessionContext::new();
    let source = ctx
        .read_table(provider)
        .map_err(|e| delta_error(label, e))?;
    let side =
        |alias: &str, name: &str| Expr::Column(datafusion::common::Column::new(Some(alias), name));
    let on = key
        .iter()
        .map(|k| side("target", k).eq(side("source", k)))
        .reduce(Expr::and)
        .expect("a merge key has at least one column");
    let (updates, inserts) = (columns.clone(), columns);
    let merged = delta
        .merge(source, on)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_merge_schema(evolve)
        .with_streaming(true)
        .with_commit_properties(commit)
        .when_matched_update(|update| {
            updates
                .iter()
                .fold(update, |u, c| u.update(quoted(c), side("source", c)))
        })
        .and_then(|m| {
            m.when_not_matched_insert(|insert| {
                inserts
                    .iter()
                    .fold(insert, |i, c| i.set(quoted(c), side("source", c)))
            })
        })
        .map_err(|e| delta_error(label, e))?;
    let (table, _metrics) = merged.await.map_err(|e| write_error(label, e))?;
    Ok(table)
}

/// A column name as a Delta column (quoted, so case and dots are kept).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn write_error(label: &str, err: deltalake::DeltaTableError) -> Error {
    // A reader's failure reaches us through the Delta writer as text: keep just the cause.
    let text = err.to_string();
    let cause = text.rsplit("External error: ").next().unwrap_or(&text);
    delta_error(label, cause)
}
