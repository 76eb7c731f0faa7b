//! One `lakeshift cdc` run: set up the slot, copy what has no position, then apply the
//! stream in rounds until caught up or stopped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use serde::Serialize;
use tokio_postgres::Client;

use super::metrics::{LagSummary, Lags, Report};
use super::mirror::Mirror;
use super::pgoutput::{Message, Relation, commit_time, decode, lsn_text};
use super::position::Position;
use super::slot::{Slot, SlotStatus};
use super::{CdcOptions, Until};
use crate::error::{Error, Result};
use crate::lake::location::{folder_name, open_or_new, table_url};
use crate::lake::{SyncJob, SyncMode, SyncOptions};
use crate::options::Check;
use crate::postgres::DbUrl;
use crate::postgres::catalog::{Column, Table};
use crate::postgres::selection::TableSelection;
use crate::postgres::types::PgKind;

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
    stop: Arc<AtomicBool>,
}

impl CdcJob {
    pub fn new(source: DbUrl, options: CdcOptions) -> Self {
        CdcJob {
            source,
            options,
            progress: false,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// A flag that stops a continuous run after the round in flight.
    pub fn stopper(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    pub async fn run(self) -> Result<CdcSummary> {
        let started = Instant::now();
        self.options.problems()?;
        let options = &self.options.named_for(&self.source);
        let client = self.source.connect().await?;
        let slot = Slot::new(&client, &options.slot, &options.publication);
        slot.check_server().await?;
        slot.claim().await?;
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
        for table in &tables {
            if table.primary_key().is_empty() {
                return Err(Error::Stream {
                    slot: options.slot.clone(),
                    reason: format!(
                        "{} has no primary key: a mirror matches updates and deletes on it",
                        table.full_name()
                    ),
                });
            }
        }
        slot.publish(&tables.iter().collect::<Vec<_>>()).await?;
        let (confirmed, created) = slot.open().await?;

        // Tables with no position for this slot get their initial copy now, in a snapshot
        // taken after the slot's position: the stream replays what it holds past that.
        let mut positions = Vec::with_capacity(tables.len());
        for table in &tables {
            let (delta, exists) =
                open_or_new(&table_url(&options.to, &folder_name(table))?).await?;
            let position = match (exists, created) {
                (true, false) => Position::of(&delta, &options.slot, &table.full_name()).await?,
                _ => None,
            };
            positions.push(position);
        }
        let to_copy: Vec<&Table> = tables
            .iter()
            .zip(&positions)
            .filter(|(_, p)| p.is_none())
            .map(|(t, _)| t)
            .collect();
        let copied: Vec<String> = to_copy.iter().map(|t| t.full_name()).collect();
        if !to_copy.is_empty() {
            tracing::info!(slot = %options.slot, tables = copied.len(), from = %lsn_text(confirmed), "initial copy");
            let sync = SyncOptions {
                to: options.to.clone(),
                selection: TableSelection {
                    schemas: options.selection.schemas.clone(),
                    tables: to_copy
                        .iter()
                        .map(|t| {
                            format!(
                                "\"{}\".\"{}\"",
                                t.schema.replace('"', "\"\""),
                                t.name.replace('"', "\"\"")
                            )
                        })
                        .collect(),
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
        }
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

        // Type lookups go on a connection of their own: the slot's is busy streaming.
        let lookups = self.source.connect().await?;
        let mut stream = Stream {
            slot,
            client: &lookups,
            options,
            by_oid: mirrors
                .iter()
                .enumerate()
                .map(|(i, m)| (m.table.oid, i))
                .collect(),
            mirrors,
            types: HashMap::new(),
            confirmed,
            oldest_pending: None,
            lags: Lags::default(),
        };
        let stop = self.stop.clone();
        let listener = (options.until == Until::Stopped).then(|| {
            let stop = stop.clone();
            tokio::spawn(async move {
                crate::shutdown::requested().await;
                tracing::info!("stopping: finishing the batch in flight");
                stop.store(true, Ordering::Relaxed);
            })
        });
        let until = match options.until {
            Until::CaughtUp => Some(stream.slot.sync_point().await?),
            Until::Stopped => None,
        };
        let mut idle_since = Instant::now();
        loop {
            let upto = match until {
                Some(lsn) => lsn,
                None => stream.slot.flushed_lsn().await?,
            };
            let caught_up = stream.round(upto).await?;
            if let Some(path) = &options.metrics_file {
                stream.report(upto).publish(std::path::Path::new(path))?;
            }
            if stop.load(Ordering::Relaxed) || (until.is_some() && caught_up) {
                break;
            }
            if !caught_up {
                idle_since = Instant::now();
                continue;
            }
            if idle_since.elapsed().as_secs_f64() >= options.heartbeat {
                stream.slot.heartbeat().await?;
                stream.warn_if_retaining_much().await?;
                idle_since = Instant::now();
            }
            let nap = Duration::from_secs_f64(options.poll);
            let deadline = Instant::now() + nap;
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50).min(nap)).await;
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        if let Some(listener) = listener {
            listener.abort();
        }
        Ok(CdcSummary {
            slot: options.slot.clone(),
            copied,
            applied: stream
                .mirrors
                .iter()
                .map(|m| (m.label.clone(), m.applied))
                .collect(),
            confirmed_lsn: lsn_text(stream.confirmed),
            lag: stream.lags.summary(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// The stream being applied.
struct Stream<'c> {
    slot: Slot<'c>,
    /// For catalog lookups while the slot's connection streams.
    client: &'c Client,
    options: &'c CdcOptions,
    mirrors: Vec<Mirror>,
    by_oid: HashMap<u32, usize>,
    /// `(type oid, typmod)` -> its `format_type` and kind.
    types: HashMap<(u32, i32), (String, PgKind)>,
    /// The slot's position as this process last set it.
    confirmed: u64,
    /// The commit time of the oldest change not applied yet.
    oldest_pending: Option<SystemTime>,
    /// How long after their commit changes were applied.
    lags: Lags,
}

impl Stream<'_> {
    /// Read and apply the changes committed before `upto` (as many as one round takes);
    /// whether that reached `upto`.
    async fn round(&mut self, upto: u64) -> Result<bool> {
        if upto <= self.confirmed {
            return Ok(true);
        }
        let max = self.options.max_batch_rows.max(1) as u32;
        let rows = self.slot.peek(upto, max).await?;
        futures::pin_mut!(rows);
        let mut count: u64 = 0;
        // The transaction being read: its commit's LSN and how many changes came so far.
        let mut txn: Option<(u64, u64)> = None;
        let mut last_end: Option<u64> = None;
        let mut first_pending: Option<Instant> = None;
        let mut committed = SystemTime::now();
        while let Some(data) = rows.next().await {
            let data = data?;
            count += 1;
            let message = decode(&data)
                .map_err(|e| self.error(format!("a change that does not decode: {e}")))?;
            match message {
                Message::Begin {
                    final_lsn,
                    commit_time: at,
                    ..
                } => {
                    txn = Some((final_lsn, 0));
                    committed = commit_time(at);
                }
                Message::Commit { end_lsn } => {
                    txn = None;
                    last_end = Some(end_lsn);
                }
                Message::Relation(relation) => self.relation(relation, txn, last_end).await?,
                Message::Insert { relation, new } => {
                    if let Some(m) = self.target(relation, &mut txn)? {
                        m.insert(new)?;
                    }
                }
                Message::Update { relation, old, new } => {
                    if let Some(m) = self.target(relation, &mut txn)? {
                        m.update(old, new)?;
                    }
                }
                Message::Delete { relation, old } => {
                    if let Some(m) = self.target(relation, &mut txn)? {
                        m.delete(old)?;
                    }
                }
                Message::Truncate { relations } => {
                    for oid in relations {
                        let before = here(txn, last_end);
                        if self.target(oid, &mut txn)?.is_some() {
                            let at = self.by_oid[&oid];
                            let mirror = &mut self.mirrors[at];
                            mirror.apply(before).await?;
                            mirror.truncate(here(txn, last_end)).await?;
                        }
                    }
                }
                Message::Other => {}
            }
            let pending = self.mirrors.iter().any(|m| m.pending_rows() > 0);
            if pending {
                self.oldest_pending.get_or_insert(committed);
                let since = *first_pending.get_or_insert_with(Instant::now);
                let rows: usize = self.mirrors.iter().map(Mirror::pending_rows).sum();
                let bytes: usize = self.mirrors.iter().map(Mirror::pending_bytes).sum();
                if rows >= self.options.max_batch_rows
                    || bytes >= self.options.max_batch_bytes
                    || since.elapsed().as_secs_f64() >= self.options.max_lag
                {
                    self.apply(here(txn, last_end)).await?;
                    first_pending = None;
                }
            }
        }
        let Some(end) = last_end else {
            // Nothing committed before `upto`: the slot may move there.
            self.confirm(upto).await?;
            return Ok(true);
        };
        self.apply(Position::at(end)).await?;
        let caught_up = count < u64::from(max);
        self.confirm(if caught_up { upto.max(end) } else { end })
            .await?;
        Ok(caught_up)
    }

    fn error(&self, reason: String) -> Error {
        Error::Stream {
            slot: self.options.slot.clone(),
            reason,
        }
    }

    /// The mirror a change of `oid` goes to, unless its table holds it already; counts the
    /// change in the transaction.
    fn target(&mut self, oid: u32, txn: &mut Option<(u64, u64)>) -> Result<Option<&mut Mirror>> {
        let (final_lsn, index) =
            txn.ok_or_else(|| self.error("a change outside a transaction".into()))?;
        *txn = Some((final_lsn, index + 1));
        let Some(&at) = self.by_oid.get(&oid) else {
            return Ok(None);
        };
        let mirror = &mut self.mirrors[at];
        let change = Position {
            lsn: final_lsn,
            within: index,
        };
        Ok((change >= mirror.position).then_some(mirror))
    }

    async fn relation(
        &mut self,
        relation: Relation,
        txn: Option<(u64, u64)>,
        last_end: Option<u64>,
    ) -> Result<()> {
        let Some(&at) = self.by_oid.get(&relation.id) else {
            return Ok(());
        };
        if !self.mirrors[at].shape_changes(&relation) {
            return Ok(());
        }
        let typed = self.types_of(&relation).await?;
        let mirror = &mut self.mirrors[at];
        // Changes in the old shape are applied in it.
        mirror.apply(here(txn, last_end)).await?;
        mirror.take_shape(&relation, &typed)
    }

    /// Each column's `format_type` and kind, looked up once per type.
    async fn types_of(&mut self, relation: &Relation) -> Result<Vec<(String, PgKind)>> {
        let wanted: Vec<(u32, i32)> = relation
            .columns
            .iter()
            .map(|c| (c.type_oid, c.type_modifier))
            .filter(|t| !self.types.contains_key(t))
            .collect();
        if !wanted.is_empty() {
            let oids: Vec<u32> = wanted.iter().map(|t| t.0).collect();
            let modifiers: Vec<i32> = wanted.iter().map(|t| t.1).collect();
            let rows = self
                .client
                .query(TYPES, &[&oids, &modifiers])
                .await
                .map_err(|e| Error::pg("reading the types of a changed table", e))?;
            for (row, key) in rows.iter().zip(&wanted) {
                let column = Column {
                    type_sql: row.get(0),
                    type_name: row.get(1),
                    type_kind: row.get::<_, i8>(2) as u8 as char,
                    element_type: row.get(3),
                    type_modifier: key.1,
                    ..Column::default()
                };
                let labels: Option<Vec<String>> = row.get(4);
                let enums = labels
                    .map(|l| HashMap::from([(column.type_name.clone(), l)]))
                    .unwrap_or_default();
                let kind = PgKind::of(&column, &enums);
                self.types.insert(*key, (column.type_sql, kind));
            }
        }
        relation
            .columns
            .iter()
            .map(|c| {
                self.types
                    .get(&(c.type_oid, c.type_modifier))
                    .cloned()
                    .ok_or_else(|| {
                        self.error(format!(
                            "column {} has a type that no longer exists",
                            c.name
                        ))
                    })
            })
            .collect()
    }

    /// Apply every table's pending changes, recording `position`.
    async fn apply(&mut self, position: Position) -> Result<()> {
        for mirror in &mut self.mirrors {
            mirror.apply(position).await?;
        }
        if let Some(oldest) = self.oldest_pending.take() {
            let lag = oldest.elapsed().unwrap_or_default().as_secs_f64();
            self.lags.record(lag);
        }
        Ok(())
    }

    /// Warn when the slot keeps most of the WAL the server allows it (past that, the server
    /// invalidates it and a new initial copy is needed).
    async fn warn_if_retaining_much(&self) -> Result<()> {
        let state = self.slot.status().await?;
        if let Some(max) = state.max_retained_bytes
            && state.retained_bytes.saturating_mul(10) >= max.saturating_mul(8)
        {
            tracing::warn!(
                slot = %state.slot,
                retained = state.retained_bytes,
                max,
                "the slot keeps most of the WAL max_slot_wal_keep_size allows: past it the server invalidates the slot"
            );
        }
        Ok(())
    }

    fn report(&self, flushed: u64) -> Report<'_> {
        Report {
            slot: &self.options.slot,
            applied: self
                .mirrors
                .iter()
                .map(|m| (m.label.as_str(), m.applied))
                .collect(),
            lag: self.lags.summary(),
            lag_bytes: flushed.saturating_sub(self.confirmed),
        }
    }

    async fn confirm(&mut self, lsn: u64) -> Result<()> {
        if lsn > self.confirmed {
            self.slot.confirm(lsn).await?;
            self.confirmed = lsn;
        }
        Ok(())
    }
}

/// The stream position just after what was read: within the open transaction, or after
/// the last one committed.
fn here(txn: Option<(u64, u64)>, last_end: Option<u64>) -> Position {
    match txn {
        Some((lsn, within)) => Position { lsn, within },
        None => Position::at(last_end.unwrap_or(0)),
    }
}

/// Types by `(oid, typmod)`: `format_type`, name, kind, element or base type name, enum labels.
const TYPES: &str = "SELECT format_type(t.oid, w.typmod), t.typname::text, t.typtype::\"char\",
        coalesce(e.typname, b.typname)::text,
        (SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid)
    FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS w(oid, typmod, n)
    JOIN pg_type t ON t.oid = w.oid
    LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
    LEFT JOIN pg_type b ON b.oid = t.typbasetype AND t.typtype = 'd'
    ORDER BY w.n";

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
