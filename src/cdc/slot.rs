//! The source side of a change stream, all through SQL on an ordinary connection (so every
//! connection option, TLS included, applies): the publication naming the tables, the
//! logical replication slot holding their changes, reading changes without consuming them
//! (`pg_logical_slot_peek_binary_changes`), and moving the slot on once the lake holds them.

use futures::{Stream, TryStreamExt};
use serde::Serialize;
use tokio_postgres::Client;

use super::pgoutput::{Message, commit_time, decode, lsn_text, parse_lsn};
use crate::error::{Error, Result};
use crate::postgres::catalog::Table;
use crate::postgres::connect::quote_ident;

/// A slot and its publication, on one connection.
pub struct Slot<'c> {
    client: &'c Client,
    pub name: String,
    pub publication: String,
}

/// What `cdc status` tells about a slot.
#[derive(Debug, Clone, Serialize)]
pub struct SlotStatus {
    pub slot: String,
    /// A process is reading it now.
    pub active: bool,
    /// Where the next read starts (everything before is in the lake).
    pub confirmed_lsn: String,
    /// WAL written since then, in bytes.
    pub lag_bytes: i64,
    /// How long ago the oldest change not in the lake was committed (0 when there is none);
    /// `None` while a stream is reading the slot (it cannot be read twice at once).
    pub lag_seconds: Option<f64>,
    /// WAL the slot keeps on the server, in bytes.
    pub retained_bytes: i64,
    /// `reserved`, `extended`, `unreserved`, or `lost` (invalidated: a new initial copy is needed).
    pub wal_status: String,
    /// `max_slot_wal_keep_size` in bytes; `None` when unlimited.
    pub max_retained_bytes: Option<i64>,
}

impl SlotStatus {
    /// The slot keeps 80% or more of the WAL `max_slot_wal_keep_size` allows: past it the
    /// server invalidates the slot, and a new initial copy is needed.
    pub fn nearly_full(&self) -> bool {
        self.max_retained_bytes
            .is_some_and(|max| self.retained_bytes.saturating_mul(10) >= max.saturating_mul(8))
    }
}

impl<'c> Slot<'c> {
    pub fn new(client: &'c Client, name: &str, publication: &str) -> Self {
        Slot {
            client,
            name: name.to_string(),
            publication: publication.to_string(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Stream {
            slot: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// Refuse a server that cannot decode changes, with what to change.
    pub async fn check_server(&self) -> Result<()> {
        let row = self
            .client
            .query_one("SELECT current_setting('wal_level')", &[])
            .await
            .map_err(|e| Error::pg("reading wal_level", e))?;
        let level: String = row.get(0);
        if level != "logical" {
            return Err(self.error(format!(
                "the server runs wal_level = {level}; change data capture needs wal_level = \
                 logical (ALTER SYSTEM SET wal_level = logical, then restart the server)"
            )));
        }
        Ok(())
    }

    /// Hold the slot for this process while its connection lives: a second stream of the
    /// same slot (started by mistake) is refused instead of racing this one.
    pub async fn claim(&self) -> Result<()> {
        let row = self
            .client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended('lakeshift-cdc:' || $1::text, 0))",
                &[&self.name],
            )
            .await
            .map_err(|e| Error::pg("claiming the slot", e))?;
        if !row.get::<_, bool>(0) {
            return Err(self.error(
                "another lakeshift cdc is streaming this slot: stop it first, or use another --slot",
            ));
        }
        Ok(())
    }

    /// Create the publication for `tables`, or add to an existing one the tables it lacks.
    pub async fn publish(&self, tables: &[Table]) -> Result<()> {
        let names: Vec<String> = tables.iter().map(|t| t.qualified()).collect();
        let publication = quote_ident(&self.publication);
        let sql = if !self.publication_exists().await? {
            format!(
                "CREATE PUBLICATION {publication} FOR TABLE {} \
                 WITH (publish_via_partition_root = true)",
                names.join(", ")
            )
        } else {
            let rows = self
                .client
                .query(
                    "SELECT schemaname::text, tablename::text FROM pg_publication_tables \
                     WHERE pubname = $1",
                    &[&self.publication],
                )
                .await
                .map_err(|e| Error::pg("reading the publication's tables", e))?;
            let published: Vec<(String, String)> =
                rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let missing: Vec<String> = tables
                .iter()
                .filter(|t| !published.contains(&(t.schema.clone(), t.name.clone())))
                .map(|t| t.qualified())
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let missing: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            format!(
                "ALTER PUBLICATION {publication} ADD TABLE {}",
                missing.join(", ")
            )
        };
        self.client
            .batch_execute(&sql)
            .await
            .map_err(|e| Error::pg(format!("publishing the tables ({sql})"), e))
    }

    async fn publication_exists(&self) -> Result<bool> {
        let found = self
            .client
            .query_opt(
                "SELECT 1 FROM pg_publication WHERE pubname = $1",
                &[&self.publication],
            )
            .await
            .map_err(|e| Error::pg("looking for the publication", e))?;
        Ok(found.is_some())
    }

    /// Create the slot unless it exists; the position from which it holds every change.
    /// An invalidated slot is refused with its recovery.
    pub async fn open(&self) -> Result<(u64, bool)> {
        let found = self
            .client
            .query_opt(
                "SELECT confirmed_flush_lsn::text, wal_status, plugin, database = current_database()
                 FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.name],
            )
            .await
            .map_err(|e| Error::pg("looking for the replication slot", e))?;
        if let Some(row) = found {
            let (lsn, status, plugin, here): (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<bool>,
            ) = (row.get(0), row.get(1), row.get(2), row.get(3));
            if plugin.as_deref() != Some("pgoutput") || here != Some(true) {
                return Err(self.error(
                    "a slot of this name exists but is not a pgoutput slot of this database: \
                     choose another --slot",
                ));
            }
            if status.as_deref() == Some("lost") {
                return Err(self.error(
                    "the slot was invalidated (the server removed WAL it still needed, past \
                     max_slot_wal_keep_size): changes were lost. Recover with `lakeshift cdc drop` \
                     and run again: a new initial copy replaces the lake's tables",
                ));
            }
            let lsn = lsn.as_deref().and_then(parse_lsn).unwrap_or(0);
            return Ok((lsn, false));
        }
        let row = self
            .client
            .query_one(
                "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')",
                &[&self.name],
            )
            .await
            .map_err(|e| Error::pg(format!("creating replication slot {}", self.name), e))?;
        let lsn: String = row.get(0);
        tracing::info!(slot = %self.name, lsn = %lsn, "created the replication slot");
        Ok((parse_lsn(&lsn).unwrap_or(0), true))
    }

    /// How far the server's WAL is on disk: decoding reads no further, and every commit
    /// before it can be read.
    pub async fn flushed_lsn(&self) -> Result<u64> {
        let row = self
            .client
            .query_one("SELECT pg_current_wal_flush_lsn()::text", &[])
            .await
            .map_err(|e| Error::pg("reading the current WAL position", e))?;
        Ok(parse_lsn(row.get(0)).unwrap_or(0))
    }

    /// A position past every transaction committed until now, flushed: a commit with
    /// `synchronous_commit` on flushes the WAL before it, including asynchronous commits
    /// the server has not written yet.
    pub async fn sync_point(&self) -> Result<u64> {
        self.client
            .batch_execute(
                "BEGIN; SET LOCAL synchronous_commit = on;
                 SELECT pg_logical_emit_message(true, 'lakeshift-cdc', 'caught-up'); COMMIT;",
            )
            .await
            .map_err(|e| Error::pg("marking the position to catch up with", e))?;
        self.flushed_lsn().await
    }

    /// The changes after the slot's position, up to `upto` (the transactions whose commit
    /// starts before it), stopping after the transaction that reaches `max_changes`: each
    /// message's LSN and bytes, streamed.
    pub async fn peek(
        &self,
        upto: u64,
        max_changes: u32,
    ) -> Result<impl Stream<Item = Result<Vec<u8>>> + use<'c>> {
        let upto = lsn_text(upto);
        let max = max_changes.min(i32::MAX as u32) as i32;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&self.name, &upto, &max, &self.publication];
        let rows = self
            .client
            .query_raw(
                "SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::text::pg_lsn, $3, \
                 'proto_version', '1', 'publication_names', quote_ident($4))",
                params,
            )
            .await
            .map_err(|e| self.read_error(e))?;
        let name = self.name.clone();
        Ok(rows
            .map_ok(|row| row.get::<_, Vec<u8>>(0))
            .map_err(move |e| Error::pg(format!("reading the changes of slot {name}"), e)))
    }

    fn read_error(&self, e: tokio_postgres::Error) -> Error {
        let invalidated = e.as_db_error().is_some_and(|d| {
            d.message().contains("invalidated") || d.message().contains("removed")
        });
        if invalidated {
            return self.error(format!(
                "{}: recover with `lakeshift cdc drop` and run again (a new initial copy)",
                crate::error::pg_reason(&e)
            ));
        }
        Error::pg(format!("reading the changes of slot {}", self.name), e)
    }

    /// Tell the server everything before `lsn` is in the lake: it may remove that WAL.
    pub async fn confirm(&self, lsn: u64) -> Result<()> {
        self.client
            .execute(
                "SELECT pg_replication_slot_advance($1, $2::text::pg_lsn)",
                &[&self.name, &lsn_text(lsn)],
            )
            .await
            .map_err(|e| Error::pg(format!("advancing slot {}", self.name), e))?;
        Ok(())
    }

    /// Write a little WAL through this database, so that an idle one lets its slot move on.
    pub async fn heartbeat(&self) -> Result<()> {
        self.client
            .execute(
                "SELECT pg_logical_emit_message(false, 'lakeshift-cdc', 'heartbeat')",
                &[],
            )
            .await
            .map_err(|e| Error::pg("writing a heartbeat", e))?;
        Ok(())
    }

    pub async fn status(&self) -> Result<SlotStatus> {
        let row = self
            .client
            .query_opt(
                "SELECT active, confirmed_flush_lsn::text,
                        (pg_current_wal_lsn() - confirmed_flush_lsn)::int8,
                        (pg_current_wal_lsn() - restart_lsn)::int8,
                        coalesce(wal_status, 'lost'),
                        pg_size_bytes(nullif(current_setting('max_slot_wal_keep_size'), '-1'))
                 FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.name],
            )
            .await
            .map_err(|e| Error::pg("reading the slot", e))?
            .ok_or_else(|| self.error("no such replication slot in this database"))?;
        let wal_status: String = row.get(4);
        let active: bool = row.get(0);
        let lag_seconds = if active || wal_status == "lost" {
            None
        } else {
            self.oldest_change_age().await?
        };
        Ok(SlotStatus {
            slot: self.name.clone(),
            active,
            confirmed_lsn: row.get::<_, Option<String>>(1).unwrap_or_default(),
            lag_bytes: row.get::<_, Option<i64>>(2).unwrap_or(0),
            lag_seconds,
            retained_bytes: row.get::<_, Option<i64>>(3).unwrap_or(0),
            wal_status,
            max_retained_bytes: row.get(5),
        })
    }

    /// Seconds since the commit of the first transaction the slot still holds for the
    /// publication (0 when it holds none); `None` when a stream holds the slot right now.
    async fn oldest_change_age(&self) -> Result<Option<f64>> {
        let first = self
            .client
            .query_opt(
                "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, 1, \
                 'proto_version', '1', 'publication_names', quote_ident($2)) LIMIT 1",
                &[&self.name, &self.publication],
            )
            .await;
        let first = match first {
            Ok(row) => row,
            // Another process is reading it (object in use).
            Err(e) if e.code().is_some_and(|c| c.code() == "55006") => return Ok(None),
            Err(e) => return Err(self.read_error(e)),
        };
        let Some(row) = first else {
            return Ok(Some(0.0));
        };
        let seconds = match decode(&row.get::<_, Vec<u8>>(0)) {
            Ok(Message::Begin {
                commit_time: at, ..
            }) => commit_time(at)
                .elapsed()
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            _ => 0.0,
        };
        Ok(Some(seconds))
    }

    /// Drop the slot and the publication (either may be gone already). Returns what existed.
    pub async fn drop(&self) -> Result<(bool, bool)> {
        let slot = self
            .client
            .query_opt(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                 WHERE slot_name = $1",
                &[&self.name],
            )
            .await
            .map_err(|e| Error::pg(format!("dropping slot {}", self.name), e))?
            .is_some();
        let publication = self.publication_exists().await?;
        if publication {
            self.client
                .batch_execute(&format!(
                    "DROP PUBLICATION {}",
                    quote_ident(&self.publication)
                ))
                .await
                .map_err(|e| Error::pg("dropping the publication", e))?;
        }
        Ok((slot, publication))
    }
}
