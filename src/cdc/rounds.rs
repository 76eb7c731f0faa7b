//! Applying the stream: each round reads the changes committed before a point
//! ([`Slot::peek`]), folds them into each table's mirror, applies them (at the round's end,
//! or sooner when a batch is full or old), and moves the slot on.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use futures::StreamExt;
use tokio_postgres::Client;

use super::CdcOptions;
use super::metrics::{Lags, Report};
use super::mirror::Mirror;
use super::pgoutput::{Message, Relation, commit_time, decode};
use super::position::Position;
use super::slot::Slot;
use crate::error::{Error, Result};
use crate::postgres::catalog::Column;
use crate::postgres::types::PgKind;

/// The stream being applied, round after round.
pub struct Rounds<'c> {
    pub slot: Slot<'c>,
    /// For catalog lookups while the slot's connection streams.
    client: &'c Client,
    options: &'c CdcOptions,
    pub mirrors: Vec<Mirror>,
    by_oid: HashMap<u32, usize>,
    /// `(type oid, typmod)` -> its `format_type` and kind.
    types: HashMap<(u32, i32), (String, PgKind)>,
    /// The slot's position as this process last set it.
    pub confirmed: u64,
    /// The commit time of the oldest change not applied yet.
    oldest_pending: Option<SystemTime>,
    /// How long after their commit changes were applied.
    pub lags: Lags,
}

impl<'c> Rounds<'c> {
    pub fn new(
        slot: Slot<'c>,
        lookups: &'c Client,
        options: &'c CdcOptions,
        mirrors: Vec<Mirror>,
        confirmed: u64,
    ) -> Self {
        Rounds {
            slot,
            client: lookups,
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
        }
    }

    /// Read and apply the changes committed before `upto` (as many as one round takes);
    /// whether that reached `upto`.
    pub async fn round(&mut self, upto: u64) -> Result<bool> {
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
    pub async fn warn_if_retaining_much(&self) -> Result<()> {
        let state = self.slot.status().await?;
        if state.nearly_full() {
            tracing::warn!(
                slot = %state.slot,
                retained = state.retained_bytes,
                max = state.max_retained_bytes,
                "the slot keeps most of the WAL max_slot_wal_keep_size allows: past it the server invalidates the slot"
            );
        }
        Ok(())
    }

    pub fn report(&self, flushed: u64) -> Report<'_> {
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
