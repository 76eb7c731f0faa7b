//! `lakeshift lake`: the Delta mirror (sync) and its upkeep (optimize, vacuum, history).

use clap::{Args, Subcommand};
use lakeshift::Result;
use lakeshift::lake::{PartitionBy, SyncJob, SyncMode, SyncOptions};
use lakeshift::postgres::DbUrl;

use super::{ReadArgs, SelectionArgs, UrlParser, choice, print, print_json};

#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Mirror Postgres tables into Delta tables DEST/<table>, all from one snapshot.
    ///
    /// Rows stream from Postgres into Delta's Parquet files (bounded memory). Timestamps
    /// with a zone become Delta timestamps (UTC), naive ones timestamp_ntz. A column added
    /// in the source is added to the Delta table; a changed type is refused. With
    /// --incremental-column only rows past the last synced value are read; that value is
    /// committed with the rows (a Delta transaction id), so a re-run never writes a row twice.
    ///
    /// Examples:
    ///   lakeshift lake sync --to ./lake
    ///   lakeshift lake sync --source postgres://u@host/hr --to s3://bucket/lake --tables jobs,departments
    ///   lakeshift lake sync --to ./lake --tables hired_employees --mode merge
    ///   lakeshift lake sync --to ./lake --tables hired_employees --mode append --incremental-column id
    #[command(verbatim_doc_comment)]
    Sync(SyncArgs),
    /// Compact a Delta table's small files into larger ones (a new version).
    Optimize {
        /// The Delta table (a directory or s3:// URL).
        table: String,
        /// Target file size in bytes [default: the table's setting, 100 MiB].
        #[arg(long)]
        target_size: Option<u64>,
    },
    /// Delete files that no version within the retention period reads.
    Vacuum {
        /// The Delta table (a directory or s3:// URL).
        table: String,
        /// Keep files needed by versions younger than this [default: the table's, 168 hours].
        #[arg(long)]
        retention_hours: Option<u64>,
        /// List the files that would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Allow a retention shorter than the table's setting (breaks readers of old versions).
        #[arg(long)]
        force: bool,
    },
    /// List a Delta table's versions: time, operation, rows written.
    History {
        /// The Delta table (a directory or s3:// URL).
        table: String,
        /// Only the newest N versions.
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Database to read [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    source: DbUrl,
    /// The lake root: a directory or s3:// URL; each table goes to DEST/<table>.
    #[arg(long)]
    to: String,
    #[command(flatten)]
    selection: SelectionArgs,
    /// What to do with the rows already in the Delta table.
    #[arg(long, value_parser = choice::<SyncMode>(), default_value = "replace")]
    mode: SyncMode,
    /// Columns to merge on (comma separated) [default: the primary key].
    #[arg(long, value_delimiter = ',')]
    key: Vec<String>,
    /// Read only rows whose COL is past the last synced value (integer, date or timestamp).
    #[arg(long, value_name = "COL")]
    incremental_column: Option<String>,
    /// Delta partition columns of a new table (comma separated), or `none` [default: the
    /// source's LIST partition key when it is plain columns; an existing table keeps its own]
    #[arg(long, value_name = "COLS")]
    partition_by: Option<String>,
    #[command(flatten)]
    read: ReadArgs,
}

impl SyncArgs {
    fn options(&self) -> SyncOptions {
        SyncOptions {
            to: self.to.clone(),
            selection: self.selection.selection(),
            mode: self.mode,
            key: self.key.clone(),
            incremental_column: self.incremental_column.clone(),
            partition_by: self
                .partition_by
                .as_deref()
                .map_or(PartitionBy::Auto, PartitionBy::parse),
            read: self.read.options(),
        }
    }
}

pub async fn run(cmd: LakeCommand, progress: bool) -> Result<()> {
    match cmd {
        LakeCommand::Sync(args) => {
            let options = args.options();
            let synced = SyncJob::new(args.source, options)
                .with_progress(progress)
                .run()
                .await?;
            for s in &synced {
                let version = s
                    .version
                    .map_or("unchanged".into(), |v| format!("version {v}"));
                let added = if s.added_columns.is_empty() {
                    String::new()
                } else {
                    format!(", added columns {}", s.added_columns.join(", "))
                };
                let removed = if s.removed_columns.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", columns gone from the source: {}",
                        s.removed_columns.join(", ")
                    )
                };
                eprintln!(
                    "{}: {} rows -> {} ({version}{added}{removed}) in {:.2} s",
                    s.table, s.rows, s.delta, s.seconds
                );
            }
            Ok(())
        }
        LakeCommand::Optimize { table, target_size } => {
            let done = lakeshift::lake::optimize(&table, target_size).await?;
            eprintln!(
                "{table}: {} files compacted into {} (version {})",
                done.files_removed,
                done.files_added,
                done.version.unwrap_or_default()
            );
            Ok(())
        }
        LakeCommand::Vacuum {
            table,
            retention_hours,
            dry_run,
            force,
        } => {
            let done = lakeshift::lake::vacuum(&table, retention_hours, dry_run, force).await?;
            for file in &done.files {
                print(&format!("{file}\n"))?;
            }
            let verb = if done.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            eprintln!("{table}: {verb} {} files", done.files.len());
            Ok(())
        }
        LakeCommand::History { table, limit, json } => {
            let entries = lakeshift::lake::history(&table, limit).await?;
            if json {
                return print_json(&entries);
            }
            let mut out = format!(
                "{:>7}  {:<24}  {:<10}  {:>12}\n",
                "version", "time (UTC)", "operation", "rows"
            );
            for e in &entries {
                out.push_str(&format!(
                    "{:>7}  {:<24}  {:<10}  {:>12}\n",
                    e.version,
                    e.timestamp.as_deref().unwrap_or("-"),
                    e.operation.as_deref().unwrap_or("-"),
                    e.rows.map_or("-".into(), |r| r.to_string())
                ));
            }
            print(&out)
        }
    }
}
