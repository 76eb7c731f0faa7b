//! `lakeshift cdc`: mirror tables into Delta tables change by change (and the slot's upkeep).

use clap::{Args, Subcommand};
use lakeshift::Result;
use lakeshift::cdc::{CdcJob, CdcOptions, Until};
use lakeshift::postgres::DbUrl;

use super::{ReadArgs, SelectionArgs, UrlParser, choice, print, print_json};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CdcArgs {
    #[command(subcommand)]
    command: Option<CdcCommand>,
    #[command(flatten)]
    stream: StreamArgs,
}

#[derive(Debug, Subcommand)]
pub enum CdcCommand {
    /// The slot's lag and retained WAL, and each table's position in the lake.
    Status {
        #[command(flatten)]
        slot: SlotArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Drop the replication slot and its publication (the server frees the WAL it kept).
    ///
    /// The Delta tables stay; a later `cdc` with this slot copies them anew.
    Drop {
        #[command(flatten)]
        slot: SlotArgs,
    },
}

/// The slot, its database and its lake: what every `cdc` command names.
#[derive(Debug, Args)]
pub struct SlotArgs {
    /// Database the slot is in (wal_level = logical) [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    source: DbUrl,
    /// The replication slot, created by a stream when missing [default: lakeshift_<database>].
    #[arg(long, default_value = "", hide_default_value = true)]
    slot: String,
    /// The publication [default: the slot's name].
    #[arg(long, default_value = "", hide_default_value = true)]
    publication: String,
    /// The lake root: a directory or s3:// URL; each table goes to DEST/<table>.
    #[arg(long, default_value = "", hide_default_value = true)]
    to: String,
    #[command(flatten)]
    selection: SelectionArgs,
}

/// Stream changes into Delta tables DEST/<table>: an initial copy, then every insert,
/// update, delete and truncate, exactly once.
#[derive(Debug, Args)]
pub struct StreamArgs {
    #[command(flatten)]
    slot: SlotArgs,
    /// Stop when caught up with what was committed at the start, or run until SIGTERM / Ctrl-C.
    #[arg(long, value_parser = choice::<Until>(), default_value = "stopped")]
    until: Until,
    /// Apply at least this often while changes arrive (seconds).
    #[arg(long, default_value_t = CdcOptions::default().max_lag)]
    max_lag: f64,
    /// Apply once this many rows are pending.
    #[arg(long, default_value_t = CdcOptions::default().max_batch_rows)]
    max_batch_rows: usize,
    /// Apply once pending values take this many bytes.
    #[arg(long, default_value_t = CdcOptions::default().max_batch_bytes)]
    max_batch_bytes: usize,
    /// Seconds an idle stream waits before looking again.
    #[arg(long, default_value_t = CdcOptions::default().poll)]
    poll: f64,
    /// Write metrics (Prometheus text: changes applied, lag) to this file after every round.
    #[arg(long, value_name = "FILE")]
    metrics_file: Option<String>,
    #[command(flatten)]
    read: ReadArgs,
}

impl StreamArgs {
    fn options(&self) -> CdcOptions {
        CdcOptions {
            until: self.until,
            max_lag: self.max_lag,
            max_batch_rows: self.max_batch_rows,
            max_batch_bytes: self.max_batch_bytes,
            poll: self.poll,
            metrics_file: self.metrics_file.clone(),
            read: self.read.options(),
            ..self.slot.options()
        }
    }
}

impl SlotArgs {
    fn options(&self) -> CdcOptions {
        CdcOptions {
            to: self.to.clone(),
            selection: self.selection.selection(),
            slot: self.slot.clone(),
            publication: self.publication.clone(),
            ..CdcOptions::default()
        }
    }
}

pub async fn run(args: CdcArgs, progress: bool) -> Result<()> {
    match args.command {
        None => {
            crate::return_freed_memory_at_once();
            let stream = args.stream;
            let options = stream.options();
            let done = CdcJob::new(stream.slot.source, options)
                .with_progress(progress)
                .run()
                .await?;
            if !done.copied.is_empty() {
                eprintln!(
                    "copied {} tables: {}",
                    done.copied.len(),
                    done.copied.join(", ")
                );
            }
            for (table, changes) in &done.applied {
                eprintln!("{table}: {changes} changes applied");
            }
            eprintln!(
                "slot {} confirmed at {} after {:.1} s (lag p50 {:.2} s, p99 {:.2} s over {} batches)",
                done.slot,
                done.confirmed_lsn,
                done.seconds,
                done.lag.p50,
                done.lag.p99,
                done.lag.batches
            );
            Ok(())
        }
        Some(CdcCommand::Status { slot, json }) => {
            let (state, tables) = lakeshift::cdc::status(&slot.source, &slot.options()).await?;
            if json {
                return print_json(&serde_json::json!({"slot": state, "tables": tables}));
            }
            let seconds = state
                .lag_seconds
                .map_or("unknown while a stream reads".into(), |s| {
                    format!("{s:.1} s")
                });
            let mut out = format!(
                "slot {}: {}, confirmed at {}, lag {} bytes ({seconds}), WAL retained {} bytes ({})\n",
                state.slot,
                if state.active { "active" } else { "idle" },
                state.confirmed_lsn,
                state.lag_bytes,
                state.retained_bytes,
                state.wal_status
            );
            if let Some(max) = state.max_retained_bytes.filter(|_| state.nearly_full()) {
                out.push_str(&format!(
                    "warning: the slot retains {} of at most {max} bytes of WAL \
                     (max_slot_wal_keep_size): past it the server invalidates the slot\n",
                    state.retained_bytes
                ));
            }
            if !slot.to.is_empty() {
                for t in &tables {
                    out.push_str(&format!(
                        "{}: {}\n",
                        t.table,
                        t.position.as_deref().unwrap_or("not copied for this slot")
                    ));
                }
            }
            print(&out)
        }
        Some(CdcCommand::Drop { slot }) => {
            let (had_slot, had_publication) =
                lakeshift::cdc::drop_slot(&slot.source, &slot.options()).await?;
            let options = slot.options().named_for(&slot.source);
            let said = |had: bool| if had { "dropped" } else { "did not exist" };
            eprintln!(
                "slot {}: {}; publication {}: {}",
                options.slot,
                said(had_slot),
                options.publication,
                said(had_publication)
            );
            Ok(())
        }
    }
}
