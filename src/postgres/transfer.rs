//! `copy` / the `table_copy` step: table data from one Postgres to another, the data half of
//! a migration. Every table is read in one exported snapshot and streamed into binary COPY;
//! the target loads all tables in one transaction, parents before children.

use std::time::Instant;

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::options::{Check, Problem};
use crate::postgres::DbUrl;
use crate::postgres::catalog::{Catalog, Table};
use crate::postgres::load::Load;
use crate::postgres::read::ReadOptions;
use crate::postgres::selection::TableSelection;
use crate::postgres::source::{Source, SourceOptions, ValueCheck};
use crate::postgres::write::{LoadColumns, LoadMode};

/// The options of a table copy (YAML: the `table_copy` step beside `source` and `target`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CopyOptions {
    #[serde(flatten)]
    pub selection: TableSelection,
    /// What to do with rows already in the target tables.
    pub mode: LoadMode,
    #[serde(flatten)]
    pub read: ReadOptions,
}

impl SourceOptions for CopyOptions {
    fn scope(&self) -> (&TableSelection, ReadOptions) {
        (&self.selection, self.read)
    }
}

impl Check for CopyOptions {
    fn check(&self, problems: &mut Vec<Problem>) {
        self.selection.check(problems);
        self.read.check(problems);
    }
}

/// One table's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CopySummary {
    pub table: String,
    pub rows: u64,
    pub seconds: f64,
}

/// Copy table data between databases. The target tables must exist (see `schema copy`).
#[derive(Debug, Clone)]
pub struct TableCopy {
    source: DbUrl,
    target: DbUrl,
    options: CopyOptions,
    progress: bool,
}

impl TableCopy {
    pub fn new(source: DbUrl, target: DbUrl, options: CopyOptions) -> Self {
        TableCopy {
            source,
            target,
            options,
            progress: false,
        }
    }

    /// Draw a progress bar per table when stderr is a terminal.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    pub async fn run(self) -> Result<Vec<CopySummary>> {
        let options = &self.options;
        let source = Source::open(&self.source, options, ValueCheck::First, self.progress).await?;
        let target_catalog = Catalog::load(&self.target, &source.catalog().schemas).await?;
        let plan = self.plan(&source, &target_catalog)?;
        let mut client = self.target.connect().await?;
        let load = Load::begin(&mut client, "the copy").await?;
        if options.mode == LoadMode::Replace {
            load.truncate(
                &target_catalog,
                &plan.iter().map(|(_, t)| *t).collect::<Vec<_>>(),
            )
            .await?;
        }
        let mut summaries = Vec::new();
        for (source_table, target_table) in &plan {
            let started = Instant::now();
            let columns = source.columns(source_table);
            let columns = LoadColumns {
                names: columns.iter().map(|(c, _)| c.name.clone()).collect(),
                kinds: columns.into_iter().map(|(_, k)| k).collect(),
                tagged: false,
            };
            let (batches, finish) = source.read(source_table, None).await?.into_parts();
            let batches = batches.map_err(Error::from);
            load.table(
                &target_catalog,
                target_table,
                &columns,
                options.mode,
                batches,
            )
            .await?;
            let rows = finish();
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(table = %target_table.name, rows, seconds, "copied");
            summaries.push(CopySummary {
                table: target_table.full_name(),
                rows,
                seconds,
            });
        }
        load.commit(&format!("the copy into {}", self.target))
            .await?;
        source.release().await?;
        Ok(summaries)
    }

    /// `(source, target)` table pairs in foreign-key order, each checked to exist in both
    /// databases with the source's columns.
    fn plan<'a>(
        &self,
        source: &'a Source,
        target: &'a Catalog,
    ) -> Result<Vec<(&'a Table, &'a Table)>> {
        let mut plan = Vec::new();
        for table in source.tables() {
            let qualified = table.full_name();
            let Some(twin) = target.table_in(&table.schema, &table.name) else {
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
                    return Err(Error::Mismatch {
                        table: qualified,
                        reason: format!(
                            "column {} ({}) is missing from {} or of another type there",
                            column.name,
                            column.type_sql,
                            self.target.redacted()
                        ),
                    });
                }
            }
            plan.push((table, twin));
        }
        Ok(plan)
    }
}
