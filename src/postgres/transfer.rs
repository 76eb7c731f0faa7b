//! `copy` / the `table_copy` step: table data from one Postgres to another, the data half of
//! a migration. Every table is read in one exported snapshot and streamed into binary COPY;
//! the target loads all tables in one transaction, parents before children.

use std::time::Instant;

use futures::TryStreamExt;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use crate::postgres::bulk::DeferredConstraints;
use crate::postgres::catalog::{Catalog, Table};
use crate::postgres::read::{ReadOptions, Snapshot, read_columns, read_table};
use crate::postgres::write::{self, LoadColumns, LoadMode};

/// One table's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TableCopySummary {
    pub table: String,
    pub rows: u64,
    pub seconds: f64,
}

/// Copy table data between databases. The target tables must exist (see `schema copy`).
#[derive(Debug, Clone)]
pub struct TableCopy {
    source: DbUrl,
    target: DbUrl,
    schemas: Vec<String>,
    tables: Vec<String>,
    mode: LoadMode,
    read: ReadOptions,
    progress: bool,
}

impl TableCopy {
    pub fn new(source: DbUrl, target: DbUrl) -> Self {
        TableCopy {
            source,
            target,
            schemas: vec!["public".into()],
            tables: Vec::new(),
            mode: LoadMode::Append,
            read: ReadOptions::default(),
            progress: false,
        }
    }

    pub fn with_schemas(mut self, schemas: Vec<String>) -> Self {
        self.schemas = schemas;
        self
    }

    /// Only these tables (`table` or `schema.table`); all tables of the schemas when empty.
    pub fn with_tables(mut self, tables: Vec<String>) -> Self {
        self.tables = tables;
        self
    }

    pub fn with_mode(mut self, mode: LoadMode) -> Self {
        self.mode = mode;
        self
    }

    pub fn with_read_options(mut self, read: ReadOptions) -> Self {
        self.read = read;
        self
    }

    /// Draw a progress bar per table when stderr is a terminal.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    pub async fn run(self) -> Result<Vec<TableCopySummary>> {
        let source_catalog = Catalog::load(&self.source, &self.schemas).await?;
        let target_catalog = Catalog::load(&self.target, &self.schemas).await?;
        let plan = self.plan(&source_catalog, &target_catalog)?;
        let snapshot = Snapshot::export(
            &self.source,
            &plan.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        )
        .await?;
        let mut client = self.target.connect().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::pg("starting the copy", &e))?;
        if self.mode == LoadMode::Replace {
            let names: Vec<String> = plan.iter().map(|(_, t)| t.qualified()).collect();
            tx.batch_execute(&format!("TRUNCATE {}", names.join(", ")))
                .await
                .map_err(|e| Error::pg("emptying the target tables", &e))?;
        }
        let mut summaries = Vec::new();
        for (source_table, target_table) in &plan {
            let started = Instant::now();
            let columns = read_columns(&source_catalog, source_table);
            let load = LoadColumns {
                names: columns.iter().map(|(c, _)| c.name.clone()).collect(),
                kinds: columns.into_iter().map(|(_, k)| k).collect(),
                line_numbers: false,
            };
            let stream = read_table(
                &self.source,
                &snapshot,
                &source_catalog,
                source_table,
                self.read,
            )
            .await?;
            let estimate = snapshot.estimated_rows(source_table).await?;
            let bar = crate::progress::rows_bar(estimate, &source_table.name, self.progress);
            let counter = bar.clone();
            let batches = stream
                .map_err(Error::from)
                .inspect_ok(move |b| counter.inc(b.num_rows() as u64));
            let deferred = match self.mode {
                LoadMode::Upsert => DeferredConstraints::default(),
                _ => DeferredConstraints::drop_if_empty(&tx, &target_catalog, target_table).await?,
            };
            let rows = write::copy_batches(&tx, target_table, &load, self.mode, batches)
                .await?
                .rows;
            bar.finish_and_clear();
            deferred.restore(&tx).await?;
            write::advance_sequences(&tx, target_table).await?;
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(table = %target_table.name, rows, seconds, "copied");
            summaries.push(TableCopySummary {
                table: target_table.full_name(),
                rows,
                seconds,
            });
        }
        tx.commit()
            .await
            .map_err(|e| Error::pg(format!("committing the copy into {}", self.target), &e))?;
        snapshot.release().await?;
        Ok(summaries)
    }

    /// `(source, target)` table pairs in foreign-key order, each checked to exist in both
    /// databases with the source's columns.
    fn plan<'a>(
        &self,
        source: &'a Catalog,
        target: &'a Catalog,
    ) -> Result<Vec<(&'a Table, &'a Table)>> {
        let mut plan = Vec::new();
        for table in source.select_tables(&self.tables, &self.source)? {
            let qualified = table.full_name();
            let Some(twin) = target.table(&qualified) else {
                return Err(Error::UnknownTable {
                    table: qualified,
                    url: format!("{} (run schema copy first)", self.target.redacted()),
                });
            };
            for column in table.columns.iter().filter(|c| c.generated.is_none()) {
                if twin
                    .column(&column.name)
                    .is_none_or(|c| c.type_sql != column.type_sql)
                {
                    return Err(Error::Invalid(format!(
                        "{qualified}.{} ({}) has no column of that name and type in {}",
                        column.name,
                        column.type_sql,
                        self.target.redacted()
                    )));
                }
            }
            plan.push((table, twin));
        }
        Ok(plan)
    }
}
