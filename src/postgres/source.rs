//! The read side of every job that reads a database (copy, backup, lake sync): load the
//! catalog, resolve the selection, export one snapshot, then stream each table, counted and
//! with a progress bar, and release the snapshot at the end. A job says only what it does
//! with each table's stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use indicatif::ProgressBar;

use super::DbUrl;
use super::catalog::{Catalog, Column, Table};
use super::irregular::mark_irregular;
use super::read::{ReadOptions, Snapshot, read_columns, read_rows, read_schema};
use super::selection::TableSelection;
use super::types::PgKind;
use crate::error::Result;
use crate::options::Check;

/// A database being read: its catalog, the selected tables and the snapshot they are read in.
pub struct Source {
    url: DbUrl,
    catalog: Catalog,
    /// The selected tables, in foreign-key order.
    tables: Vec<Table>,
    snapshot: Snapshot,
    read: ReadOptions,
    progress: bool,
}

/// When a job learns which columns hold values their Arrow type cannot carry (NaN in a
/// `numeric(p,s)`, infinite dates, ...: see [`super::irregular`]); those columns travel as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueCheck {
    /// Scan each table before reading it: for a job whose output takes its types before the
    /// rows arrive (a Delta table's schema, a COPY into the open transaction).
    First,
    /// Not before: a read that meets such a value fails with
    /// [`crate::error::Error::IrregularValue`], and the job reads the table again with that
    /// column as text ([`Table::mark_irregular`]) and any other such column found by then
    /// ([`Source::check_values`]), after discarding what it wrote of it. Saves a scan of
    /// every table for values that are rare.
    OnRead,
}

/// One table's rows on their way: the stream, and the count of rows it yielded.
pub struct TableRead {
    /// The batches, in the schema of [`Source::schema`] (generated columns left out).
    batches: SendableRecordBatchStream,
    counter: RowCounter,
}

/// Counts the rows a stream yields and draws them on a progress bar.
#[derive(Clone)]
struct RowCounter {
    rows: Arc<AtomicU64>,
    bar: ProgressBar,
}

/// The options of a job that reads a database: which tables, and how.
pub trait SourceOptions: Check {
    /// The tables to read, and how.
    fn scope(&self) -> (&TableSelection, ReadOptions);
}

impl Source {
    /// Check `options`, resolve their selection in `url`'s catalog and export the snapshot
    /// every read will see; with [`ValueCheck::First`], mark the irregular columns.
    pub async fn open(
        url: &DbUrl,
        options: &impl SourceOptions,
        check: ValueCheck,
        progress: bool,
    ) -> Result<Source> {
        options.problems()?;
        let (selection, read) = options.scope();
        let catalog = selection.load_catalog(url).await?;
        let mut tables: Vec<Table> = selection
            .resolve(&catalog, url)?
            .into_iter()
            .cloned()
            .collect();
        let snapshot = Snapshot::export(url, &tables.iter().collect::<Vec<_>>()).await?;
        if check == ValueCheck::First {
            mark_irregular(&snapshot, url, &catalog, &mut tables, read.partitions).await?;
        }
        Ok(Source {
            url: url.clone(),
            catalog,
            tables,
            snapshot,
            read,
            progress,
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The selected tables, parents before children.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Mark the columns of `table` (one of [`Source::tables`], changed by the job) whose
    /// values in the snapshot its Arrow types cannot carry: one scan for them all.
    pub async fn check_values(&self, table: &mut Table) -> Result<()> {
        let (url, tables) = (&self.url, std::slice::from_mut(table));
        mark_irregular(
            &self.snapshot,
            url,
            &self.catalog,
            tables,
            self.read.partitions,
        )
        .await
    }

    /// The columns a read of `table` returns, with their kinds.
    pub fn columns<'t>(&self, table: &'t Table) -> Vec<(&'t Column, PgKind)> {
        read_columns(&self.catalog, table)
    }

    /// The Arrow schema of a read of `table`.
    pub fn schema(&self, table: &Table) -> SchemaRef {
        read_schema(&self.columns(table))
    }

    /// Stream `table` (only rows matching the SQL `filter`, when given).
    pub async fn read(&self, table: &Table, filter: Option<&str>) -> Result<TableRead> {
        let stream = read_rows(
            &self.url,
            &self.snapshot,
            &self.catalog,
            table,
            filter,
            self.read,
        )
        .await?;
        let estimate = self.snapshot.estimated_rows(table).await?;
        let counter = RowCounter {
            rows: Arc::new(AtomicU64::new(0)),
            bar: crate::progress::rows_bar(estimate, &table.name, self.progress),
        };
        let schema = stream.schema();
        let counting = counter.clone();
        let counted = stream.map(move |batch| {
            if let Ok(batch) = &batch {
                let rows = batch.num_rows() as u64;
                counting.rows.fetch_add(rows, Ordering::Relaxed);
                counting.bar.inc(rows);
            }
            batch
        });
        Ok(TableRead {
            batches: Box::pin(RecordBatchStreamAdapter::new(schema, counted)),
            counter,
        })
    }

    /// End the snapshot.
    pub async fn release(self) -> Result<()> {
        self.snapshot.release().await
    }
}

impl TableRead {
    /// Split into the stream and a closure that clears the progress bar and gives the count
    /// of rows the stream yielded.
    pub fn into_parts(
        self,
    ) -> (
        SendableRecordBatchStream,
        impl FnOnce() -> u64 + Send + 'static,
    ) {
        let counter = self.counter;
        (self.batches, move || {
            counter.bar.finish_and_clear();
            counter.rows.load(Ordering::Relaxed)
        })
    }
}
