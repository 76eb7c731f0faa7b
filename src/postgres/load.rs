//! The write side of every job that loads rows into Postgres (import, copy, restore,
//! restore file): one transaction; per table, keys dropped while an empty table fills
//! ([`DeferredConstraints`]), binary COPY, keys back, sequences moved past the loaded ids;
//! then one commit. A job says only where the rows come from.

use arrow::record_batch::RecordBatch;
use futures::Stream;
use tokio_postgres::{Client, Transaction};

use super::bulk::DeferredConstraints;
use super::catalog::{Catalog, Table};
use super::write::{self, LoadColumns, LoadMode, LoadOutcome};
use crate::error::{Error, Result};

/// A load in progress: everything it writes commits together or not at all.
pub struct Load<'c> {
    tx: Transaction<'c>,
}

impl<'c> Load<'c> {
    /// Start the load's transaction on `client`; `what` names the job in errors.
    pub async fn begin(client: &'c mut Client, what: &str) -> Result<Load<'c>> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::pg(format!("starting {what}"), e))?;
        Ok(Load { tx })
    }

    /// The load's transaction, for what a job does around its tables (DDL, locks, checks).
    pub fn tx(&self) -> &Transaction<'c> {
        &self.tx
    }

    /// Empty `tables` of `catalog` together (so one may reference another); a foreign
    /// partition's rows stay on their server.
    pub async fn truncate(&self, catalog: &Catalog, tables: &[&Table]) -> Result<()> {
        if tables.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = tables.iter().flat_map(|t| catalog.local_heaps(t)).collect();
        self.tx
            .batch_execute(&format!("TRUNCATE {}", names.join(", ")))
            .await
            .map_err(|e| Error::pg("emptying the tables to load", e))
    }

    /// Stream `batches` into `table` (of `catalog`): keys dropped while an empty table fills
    /// and added back after (not for upserts, which need them), sequences moved past the
    /// largest id loaded.
    pub async fn table<S>(
        &self,
        catalog: &Catalog,
        table: &Table,
        columns: &LoadColumns,
        mode: LoadMode,
        batches: S,
    ) -> Result<LoadOutcome>
    where
        S: Stream<Item = Result<RecordBatch>>,
    {
        let deferred = match mode {
            LoadMode::Upsert => DeferredConstraints::default(),
            // Tagged rows become rejects one by one, duplicates of unique values too.
            _ => {
                DeferredConstraints::drop_if_empty(&self.tx, catalog, table, columns.tagged).await?
            }
        };
        let outcome = write::copy_batches(&self.tx, table, columns, mode, batches).await?;
        deferred.restore(&self.tx).await?;
        write::advance_sequences(&self.tx, table).await?;
        Ok(outcome)
    }

    /// Commit everything loaded; `what` names the job in errors.
    pub async fn commit(self, what: &str) -> Result<()> {
        self.tx
            .commit()
            .await
            .map_err(|e| Error::pg(format!("committing {what}"), e))
    }
}
