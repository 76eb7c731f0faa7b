//! One `lakeshift cdc` run: set up the slot, copy what has no position, then apply the
//! stream in rounds until caught up or stopped.

use std::time::{Duration, Instant};

use futures::FutureExt;
use serde::Serialize;

use super::metrics::LagSummary;
use super::mirror::Mirror;
use super::pgoutput::lsn_text;
use super::position::Position;
use super::rounds::Rounds;
use super::slot::{Slot, SlotStatus};
use super::{CdcOptions, Until};
use crate::error::{Error, Result};
use crate::lake::location::{folder_name, open_or_new, table_url};
use crate::lake::{SyncJob, SyncMode, SyncOptions};
use crate::options::Check;
use crate::postgres::DbUrl;
use crate::postgres::catalog::Table;
use crate::postgres::selection::TableSelection;

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct CdcSummary {
    pub slot: String,
    /// Tables copied before streaming (new to the slot).
    pub copied: Vec<String>,
    /// Changes applied per table.
    pub applied: Vec<(String, u64)>,
    /// The slot's position at the end.
    pub confirmed_lsn: String,
    /// How long after their commit changes reached the lake.
    pub lag: LagSummary,
    pub seconds: f64,
}

/// One table's place in the stream, as its Delta log records it.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    pub table: String,
    pub delta: String,
    /// `None` when the table has no copy for this slot yet.
    pub position: Option<String>,
}

pub struct CdcJob {
    source: DbUrl,
    options: CdcOptions,
    progress: bool,
}

impl CdcJob {
    pub fn new(source: DbUrl, options: CdcOptions) -> Self {
        CdcJob {
            source,
            options,
            progress: false,
        }
    }

    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    pub async fn run(self) -> Result<CdcSummary> {
        let started = Instant::now();
        self.options.problems()?;
        let options = &self.options.named_for(&self.source);
        let client = self.source.connect().await?;
        let slot = Slot::new(&client, &options.slot, &options.publication);
        slot.check_server().await?;
        slot.claim().await?;
        let tables = self.tables(options).await?;
        slot.publish(&tables).await?;
        let (confirmed, created) = slot.open().await?;
        let copied = self.copy_new(options, &tables, confirmed, created).await?;
        let mirrors = mirrors(options, tables).await?;
        // Type lookups go on a connection of their own: the slot's is busy streaming.
        let lookups = self.source.connect().await?;
        let mut rounds = Rounds::new(slot, &lookups, options, mirrors, confirmed);
        self.stream(&mut rounds, options).await?;
        Ok(CdcSummary {
            slot: options.slot.clone(),
            copied,
            applied: rounds
                .mirrors
                .iter()
                .map(|m| (m.label.clone(), m.applied))
                .collect(),
            confirmed_lsn: lsn_text(rounds.confirmed),
            lag: rounds.lags.summary(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The selected tables, each with the primary key a mirror matches on.
    async fn tables(&self, options: &CdcOptions) -> Result<Vec<Table>> {
        let catalog = options.selection.load_catalog(&self.source).await?;
        let tables: Vec<Table> = options
            .selection
            .resolve(&catalog, &self.source)?
            .into_iter()
            .cloned()
            .collect();
        if tables.is_empty() {
            return Err(Error::Invalid("no table selected to stream".into()));
        }
        if let Some(table) = tables.iter().find(|t| t.primary_key().is_empty()) {
            return Err(Error::Stream {
                slot: options.slot.clone(),
                reason: format!(
                    "{} has no primary key: a mirror matches updates and deletes on it",
                    table.full_name()
                ),
            });
        }
        Ok(tables)
    }

    /// Copy the tables with no position for this slot (all of them for a new slot), in a
    /// snapshot taken after the slot's position `confirmed`: the stream replays what the copy
    /// holds past it. The names of the tables copied.
    async fn copy_new(
        &self,
        options: &CdcOptions,
        tables: &[Table],
        confirmed: u64,
        created: bool,
    ) -> Result<Vec<String>> {
        let mut to_copy = Vec::new();
        for table in tables {
            let (delta, exists) =
                open_or_new(&table_url(&options.to, &folder_name(table))?).await?;
            let position = match (exists, created) {
                (true, false) => Position::of(&delta, &options.slot, &table.full_name()).await?,
                _ => None,
            };
            if position.is_none() {
                to_copy.push(table);
            }
        }
        let copied: Vec<String> = to_copy.iter().map(|t| t.full_name()).collect();
        if to_copy.is_empty() {
            return Ok(copied);
        }
        tracing::info!(slot = %options.slot, tables = copied.len(), from = %lsn_text(confirmed), "initial copy");
        let sync = SyncOptions {
            to: options.to.clone(),
            selection: TableSelection {
                schemas: options.selection.schemas.clone(),
                tables: to_copy.iter().map(|t| t.qualified()).collect(),
                ..TableSelection::default()
            },
            mode: SyncMode::Replace,
            read: options.read,
            ..SyncOptions::default()
        };
        SyncJob::new(self.source.clone(), sync)
            .with_progress(self.progress)
            .recording(Position::at(confirmed).actions(&options.slot).to_vec())
            .run()
            .await?;
        Ok(copied)
    }

    /// Apply rounds until caught up with the start (`--until caught-up`), or until SIGTERM /
    /// Ctrl-C, which end a continuous stream after the round in flight.
    async fn stream(&self, rounds: &mut Rounds<'_>, options: &CdcOptions) -> Result<()> {
        let until = match options.until {
            Until::CaughtUp => Some(rounds.slot.sync_point().await?),
            Until::Stopped => None,
        };
        let mut shutdown = std::pin::pin!(async {
            match until {
                None => crate::shutdown::requested().await,
                Some(_) => std::future::pending().await,
            }
        });
        // Polled once now, so that the signal handlers are in place from the first round.
        let _ = shutdown.as_mut().now_or_never();
        let mut idle_since = Instant::now();
        loop {
            let upto = match until {
                Some(lsn) => lsn,
                None => rounds.slot.flushed_lsn().await?,
            };
            let caught_up = rounds.round(upto).await?;
            if let Some(path) = &options.metrics_file {
                rounds.report(upto).publish(std::path::Path::new(path))?;
            }
            if until.is_some() && caught_up {
                return Ok(());
            }
            if shutdown.as_mut().now_or_never().is_some() {
                tracing::info!("stopped after the batch in flight");
                return Ok(());
            }
            if !caught_up {
                idle_since = Instant::now();
                continue;
            }
            if idle_since.elapsed().as_secs_f64() >= options.heartbeat {
                rounds.slot.heartbeat().await?;
                rounds.warn_if_retaining_much().await?;
                idle_since = Instant::now();
            }
            // Idle: look again after `poll`, or stop at once when asked to.
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs_f64(options.poll)) => {}
                () = shutdown.as_mut() => {
                    tracing::info!("stopped");
                    return Ok(());
                }
            }
        }
    }
}

/// Each table's mirror, at the position its Delta log records.
async fn mirrors(options: &CdcOptions, tables: Vec<Table>) -> Result<Vec<Mirror>> {
    let mut mirrors = Vec::with_capacity(tables.len());
    for table in tables {
        let label = table.full_name();
        let (delta, _) = open_or_new(&table_url(&options.to, &folder_name(&table))?).await?;
        let position = Position::of(&delta, &options.slot, &label)
            .await?
            .ok_or_else(|| Error::Lake {
                table: label.clone(),
                reason: format!(
                    "the initial copy recorded no position for slot {}",
                    options.slot
                ),
            })?;
        mirrors.push(Mirror::open(table, delta, &options.slot, position)?);
    }
    Ok(mirrors)
}

/// The slot's state and each selected table's position in the lake.
pub async fn status(
    source: &DbUrl,
    options: &CdcOptions,
) -> Result<(SlotStatus, Vec<TableStatus>)> {
    let options = &options.named_for(source);
    let client = source.connect().await?;
    let slot = Slot::new(&client, &options.slot, &options.publication);
    let state = slot.status().await?;
    let catalog = options.selection.load_catalog(source).await?;
    let mut tables = Vec::new();
    for table in options.selection.resolve(&catalog, source)? {
        let url = table_url(&options.to, &folder_name(table))?;
        let (delta, exists) = open_or_new(&url).await?;
        let position = if exists {
            Position::of(&delta, &options.slot, &table.full_name()).await?
        } else {
            None
        };
        tables.push(TableStatus {
            table: table.full_name(),
            delta: url.to_string(),
            position: position.map(|p| p.to_string()),
        });
    }
    Ok((state, tables))
}

/// Drop the slot and its publication; what existed.
pub async fn drop_slot(source: &DbUrl, options: &CdcOptions) -> Result<(bool, bool)> {
    let options = options.named_for(source);
    let client = source.connect().await?;
    Slot::new(&client, &options.slot, &options.publication)
        .drop()
        .await
}
