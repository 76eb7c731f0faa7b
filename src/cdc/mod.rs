//! Change data capture: Postgres tables mirrored into Delta tables, change by change,
//! exactly once.
//!
//! A publication names the tables and a logical replication slot (`pgoutput`) holds their
//! changes from the moment it is created. Each table without a position for the slot is
//! first copied (`lake sync`'s streamed, parallel read, in a snapshot taken after the slot's
//! position), then the slot's changes are read in rounds ([`slot`]), decoded
//! ([`pgoutput`]), folded per key and applied to each table as one Delta merge ([`mirror`])
//! whose commit records the stream position ([`position`]). The slot moves on only once
//! every table's commit is durable, and a restarted stream skips what each table's own
//! record says it holds, so a process killed anywhere converges to the same tables.
//!
//! A copy may hold changes the stream replays (those committed between the slot's position
//! and the copy's snapshot): each change sets on its key the values it carries, in commit
//! order, so replaying changes a row already has ends in the same row.

mod metrics;
pub mod mirror;
pub mod pgoutput;
pub mod position;
mod rounds;
mod rows;
mod run;
pub mod slot;

pub use metrics::LagSummary;
pub use run::{CdcJob, CdcSummary, TableStatus, drop_slot, status};
pub use slot::SlotStatus;

use serde::{Deserialize, Serialize};

use crate::options::{Check, Problem};
use crate::postgres::DbUrl;
use crate::postgres::read::ReadOptions;
use crate::postgres::selection::TableSelection;

/// When a stream stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Until {
    /// Run until stopped (SIGTERM or Ctrl-C), after the batch in flight.
    #[default]
    Stopped,
    /// Apply everything committed before the run started, then stop.
    CaughtUp,
}

impl crate::options::Choice for Until {
    const NAMES: &'static [&'static str] = &["stopped", "caught-up"];
    const ALIASES: &'static [(&'static str, &'static str)] = &[("caught_up", "caught-up")];
}

/// The options of a change stream (YAML: the `cdc` step beside `connection`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CdcOptions {
    /// The lake root: a directory or `s3://` URL; each table goes to `<to>/<table>`.
    pub to: String,
    #[serde(flatten)]
    pub selection: TableSelection,
    /// The replication slot (created when missing); `lakeshift_<database>` when empty
    /// (slots belong to the whole server).
    pub slot: String,
    /// The publication; the slot's name when empty.
    pub publication: String,
    pub until: Until,
    /// Apply at least this often while changes arrive (seconds).
    pub max_lag: f64,
    /// Apply once this many rows are pending.
    pub max_batch_rows: usize,
    /// Apply once the pending values take this many bytes.
    pub max_batch_bytes: usize,
    /// How long an idle stream waits before looking again (seconds).
    pub poll: f64,
    /// An idle stream writes a heartbeat this often (seconds), so its slot can move on.
    pub heartbeat: f64,
    /// Write metrics (Prometheus text) to this file after every round.
    pub metrics_file: Option<String>,
    /// How the initial copy reads.
    #[serde(flatten)]
    pub read: ReadOptions,
}

impl Default for CdcOptions {
    fn default() -> Self {
        CdcOptions {
            to: String::new(),
            selection: TableSelection::default(),
            slot: String::new(),
            publication: String::new(),
            until: Until::Stopped,
            max_lag: 5.0,
            max_batch_rows: 100_000,
            max_batch_bytes: 256 << 20,
            poll: 1.0,
            heartbeat: 60.0,
            metrics_file: None,
            read: ReadOptions::default(),
        }
    }
}

impl CdcOptions {
    /// Stream into the lake at `to`, with every other option at its default.
    pub fn to(to: impl Into<String>) -> Self {
        CdcOptions {
            to: to.into(),
            ..CdcOptions::default()
        }
    }

    /// These options with the slot and publication names resolved for `source`.
    pub fn named_for(&self, source: &DbUrl) -> CdcOptions {
        let mut named = self.clone();
        if named.slot.is_empty() {
            let database: String = source
                .database()
                .chars()
                .map(|c| match c.to_ascii_lowercase() {
                    c @ ('a'..='z' | '0'..='9' | '_') => c,
                    _ => '_',
                })
                .collect();
            named.slot = format!("lakeshift_{database}").chars().take(63).collect();
        }
        if named.publication.is_empty() {
            named.publication = named.slot.clone();
        }
        named
    }
}

impl Check for CdcOptions {
    fn check(&self, problems: &mut Vec<Problem>) {
        if self.to.is_empty() {
            problems.push(Problem::new("to", "a lake location is required"));
        }
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if self.slot.len() > 63 || !self.slot.chars().all(valid) {
            problems.push(Problem::new(
                "slot",
                "a slot name is 1 to 63 lower-case letters, digits and underscores",
            ));
        }
        for (name, value) in [
            ("max_lag", self.max_lag),
            ("poll", self.poll),
            ("heartbeat", self.heartbeat),
        ] {
            if !(value.is_finite() && value > 0.0) {
                problems.push(Problem::new(name, "must be a positive number of seconds"));
            }
        }
        if self.max_batch_rows == 0 {
            problems.push(Problem::new("max_batch_rows", "must be at least 1"));
        }
        if self.max_batch_bytes == 0 {
            problems.push(Problem::new("max_batch_bytes", "must be at least 1"));
        }
        self.selection.check(problems);
        self.read.check(problems);
    }
}
