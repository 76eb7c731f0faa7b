//! `lake sync`: Postgres tables -> Delta tables, streamed. All tables are read in one
//! exported snapshot; each table's rows go straight from the reader into the Delta writer
//! (a DataFusion plan over the stream), so memory is bounded by the writer's row groups.

use std::sync::Arc;
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
use serde::{Deserialize, Serialize};

use super::delta_error;
use super::location::{folder_name, open_or_new, table_url};
use super::partitioning::PartitionBy;
use super::schema::{SchemaChange, compare, delta_schema, to_delta};
use super::watermark::{self, Watermark};
use crate::error::{Error, Result};
use crate::options::{Check, Problem};
use crate::postgres::DbUrl;
use crate::postgres::catalog::Table;
use crate::postgres::read::{ReadOptions, Snapshot};
use crate::postgres::selection::TableSelection;
use crate::postgres::source::{Source, SourceOptions, ValueCheck};

/// What a sync does with the rows already in the Delta table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Replace the table's rows (a new version; older ones stay readable until vacuumed).
    #[default]
    #[serde(alias = "overwrite")]
    Replace,
    /// Add the rows read.
    Append,
    /// Update rows matching on the primary key (or `key`), insert the others: a Delta merge.
    #[serde(alias = "merge")]
    Upsert,
}

impl crate::options::Choice for SyncMode {
    const NAMES: &'static [&'static str] = &["replace", "append", "upsert"];
    const ALIASES: &'static [(&'static str, &'static str)] =
        &[("overwrite", "replace"), ("merge", "upsert")];
}

/// The options of a Delta sync (YAML: the `lake_sync` step beside `connection`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncOptions {
    /// The lake root: a directory or `s3://` URL; each table goes to `<to>/<table>`.
    pub to: String,
    #[serde(flatten)]
    pub selection: TableSelection,
    pub mode: SyncMode,
    /// The merge key; the primary key when empty.
    pub key: Vec<String>,
    /// Read only rows whose column is past the last synced value.
    pub incremental_column: Option<String>,
    /// The Delta partition columns of a new table (or a replaced one).
    pub partition_by: PartitionBy,
    #[serde(flatten)]
    pub read: ReadOptions,
}

impl SyncOptions {
    /// Sync into the lake at `to`, with every other option at its default.
    pub fn to(to: impl Into<String>) -> Self {
        SyncOptions {
            to: to.into(),
            ..SyncOptions::default()
        }
    }
}

impl SourceOptions for SyncOptions {
    fn scope(&self) -> (&TableSelection, ReadOptions) {
        (&self.selection, self.read)
    }
}

impl Check for SyncOptions {
    fn check(&self, problems: &mut Vec<Problem>) {
        if self.to.is_empty() {
            problems.push(Problem::new("to", "a lake location is required"));
        }
        if self.incremental_column.is_some() && self.mode == SyncMode::Replace {
            problems.push(Problem::new(
                "incremental_column",
                "needs mode append or upsert (a replace would drop the rows synced before)",
            ));
        }
        self.selection.check(problems);
        self.read.check(problems);
    }
}

/// One `lake sync` run.
pub struct SyncJob {
    source: DbUrl,
    options: SyncOptions,
    progress: bool,
    /// Application transactions every commit records besides its own (a change stream's
    /// starting position, for an initial copy).
    recording: Vec<Transaction>,
}

/// What happened to one table.
#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
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
    pub fn new(source: DbUrl, options: SyncOptions) -> Self {
        SyncJob {
            source,
            options,
            progress: false,
            recording: Vec::new(),
        }
    }

    /// Record `actions` in each table's commit, with its rows.
    pub fn recording(mut self, actions: Vec<Transaction>) -> Self {
        self.recording = actions;
        self
    }

    /// Draw a progress bar per table when stderr is a terminal.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    pub async fn run(self) -> Result<Vec<SyncSummary>> {
        let source = Source::open(
            &self.source,
            &self.options,
            ValueCheck::First,
            self.progress,
        )
        .await?;
        let mut done = Vec::with_capacity(source.tables().len());
        for table in source.tables() {
            done.push(self.sync_table(&source, table).await?);
        }
        source.release().await?;
        Ok(done)
    }

    async fn sync_table(&self, source: &Source, table: &Table) -> Result<SyncSummary> {
        let started = Instant::now();
        let options = &self.options;
        let url = table_url(&options.to, &folder_name(table))?;
        let label = table.full_name();
        let (delta, exists) = open_or_new(&url).await?;
        let schema = delta_schema(&source.schema(table));
        let layout = self.layout(table, &delta, exists)?;
        let change = if exists {
            let current = delta
                .snapshot()
                .map_err(|e| delta_error(&label, e))?
                .schema();
            compare(&current, &schema, &label)?
        } else {
            SchemaChange::default()
        };
        let mut summary = SyncSummary {
            table: label.clone(),
            delta: url.to_string(),
            mode: options.mode,
            rows: 0,
            version: None,
            watermark: None,
            added_columns: change.added.clone(),
            removed_columns: change.removed.clone(),
            seconds: 0.0,
        };
        let mark = match &options.incremental_column {
            Some(column) => {
                let existing = exists.then_some(&delta);
                match watermark::next(source.snapshot(), table, column, existing).await? {
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
        let (stream, finish) = source.read(table, filter).await?.into_parts();
        // delta-rs turns a failing input into text; the reader's own error is kept here.
        let failure = FirstError::default();
        let (target, failed) = (schema.clone(), failure.clone());
        let converted = stream.map(move |batch| {
            batch
                .map_err(Error::from)
                .and_then(|batch| to_delta(&batch, &target))
                .map_err(|e| failed.keep(e))
        });
        let converted = Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema.clone(),
                converted,
            ),
        );
        let provider = crate::stream_table::once(&label, converted)?;
        let commit = self.recording.iter().fold(
            commit_properties(table, source.snapshot(), mark.as_ref()),
            |commit, action| commit.with_application_transaction(action.clone()),
        );
        let written = match (options.mode, exists) {
            (SyncMode::Upsert, true) => {
                let key = self.merge_key(table)?;
                merge(delta, provider, &key, commit, !change.is_empty(), &label).await
            }
            (mode, _) => {
                let save = if mode == SyncMode::Replace && exists {
                    SaveMode::Overwrite
                } else {
                    SaveMode::Append
                };
                write(delta, provider, save, commit, &change, &layout, &label).await
            }
        };
        let written = written.map_err(|e| failure.take().unwrap_or(e))?;
        summary.rows = finish();
        summary.version = written.version();
        summary.watermark = mark.map(|m| m.text);
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(table = %label, rows = summary.rows, version = ?summary.version, seconds = summary.seconds, "synced to Delta");
        Ok(summary)
    }

    /// The partition columns to write with, checked against an existing table's before
    /// anything is read: only a replace may change them.
    fn layout(&self, table: &Table, delta: &DeltaTable, exists: bool) -> Result<Layout> {
        let asked = self.options.partition_by.columns(table)?;
        if !exists {
            return Ok(Layout {
                columns: asked.filter(|c| !c.is_empty()),
                repartition: false,
            });
        }
        let current = delta
            .snapshot()
            .map_err(|e| delta_error(table.full_name(), e))?
            .metadata()
            .partition_columns()
            .to_vec();
        match asked {
            Some(asked) if self.options.partition_by.is_explicit() && asked != current => {
                if self.options.mode != SyncMode::Replace {
                    return Err(Error::option(
                        "partition_by",
                        format!(
                            "{}'s Delta table is partitioned by [{}], not [{}]: only --mode replace \
                             rewrites it with another layout",
                            table.full_name(),
                            current.join(", "),
                            asked.join(", ")
                        ),
                    ));
                }
                Ok(Layout {
                    columns: Some(asked),
                    repartition: true,
                })
            }
            // An existing table keeps its layout.
            _ => Ok(Layout {
                columns: None,
                repartition: false,
            }),
        }
    }

    fn merge_key(&self, table: &Table) -> Result<Vec<String>> {
        let key = if self.options.key.is_empty() {
            table.primary_key().to_vec()
        } else {
            self.options.key.clone()
        };
        if key.is_empty() {
            return Err(Error::option(
                "key",
                format!(
                    "{} has no primary key; name the columns to match on",
                    table.full_name()
                ),
            ));
        }
        if let Some(missing) = key.iter().find(|k| table.column(k).is_none()) {
            return Err(Error::option(
                "key",
                format!("{}: {} has no such column", missing, table.full_name()),
            ));
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

/// The Delta partition columns a write sets: `None` keeps the table's.
struct Layout {
    columns: Option<Vec<String>>,
    /// An existing table is rewritten with other partition columns.
    repartition: bool,
}

async fn write(
    delta: DeltaTable,
    provider: Arc<dyn datafusion::catalog::TableProvider>,
    save: SaveMode,
    commit: CommitProperties,
    change: &SchemaChange,
    layout: &Layout,
    label: &str,
) -> Result<DeltaTable> {
    let plan = LogicalPlanBuilder::scan(label, provider_as_source(provider), None)
        .and_then(|b| b.build())
        .map_err(|e| delta_error(label, e))?;
    let mut builder = delta
        .write(Vec::new())
        .with_input_plan(plan)
        .with_save_mode(save)
        .with_writer_properties(super::writer_properties())
        .with_commit_properties(commit);
    if let Some(columns) = &layout.columns {
        builder = builder.with_partition_columns(columns.clone());
    }
    if layout.repartition {
        // delta-rs changes partition columns only in a full overwrite of the schema.
        builder = builder.with_schema_mode(SchemaMode::Overwrite);
    } else if !change.is_empty() {
        // An overwrite takes the source's columns; an append keeps the table's, adding new ones.
        let mode = match save {
            SaveMode::Overwrite => SchemaMode::Overwrite,
            _ => SchemaMode::Merge,
        };
        builder = builder.with_schema_mode(mode);
    }
    builder.await.map_err(|e| delta_error(label, e))
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
        .with_writer_properties(super::writer_properties())
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
    let (table, _metrics) = merged.await.map_err(|e| delta_error(label, e))?;
    Ok(table)
}

/// A column name as a Delta column (quoted, so case and dots are kept).
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The first error of a stream handed to delta-rs, kept whole while delta-rs gets its text.
#[derive(Clone, Default)]
struct FirstError(Arc<std::sync::Mutex<Option<Error>>>);

impl FirstError {
    fn keep(&self, error: Error) -> datafusion::error::DataFusionError {
        let text = error.to_string();
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(error);
        datafusion::error::DataFusionError::Execution(text)
    }

    fn take(&self) -> Option<Error> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
