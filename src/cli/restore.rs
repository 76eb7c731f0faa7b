//! `lakeshift restore` (a backup) and `restore file` (one foreign Avro/Parquet file).

use clap::{Args, Subcommand};
use lakeshift::Result;
use lakeshift::backup::restore_file::restore_file;
use lakeshift::backup::{RestoreJob, RestoreMode, RestoreOptions};
use lakeshift::postgres::DbUrl;

use super::backup::StorageArgs;
use super::schema::AccessArgs;
use super::{UrlParser, choice, print};

/// Arguments of `lakeshift restore` (its help text is on the command).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RestoreArgs {
    #[command(subcommand)]
    command: Option<RestoreCommand>,
    #[command(flatten)]
    backup: BackupRestoreArgs,
}

#[derive(Debug, Subcommand)]
enum RestoreCommand {
    /// Load one Avro or Parquet file (written by any tool) into an existing table.
    ///
    /// Columns are matched by name and cast to the table's types; a column the table
    /// lacks, or that cannot be cast, fails before anything is written. One transaction.
    ///
    /// Examples:
    ///   lakeshift restore file --target postgres://u@host/hr --table hired_employees export.avro
    ///   lakeshift restore file --table public.jobs s3://bucket/exports/jobs.parquet
    #[command(verbatim_doc_comment)]
    File(FileArgs),
}

#[derive(Debug, Args)]
struct BackupRestoreArgs {
    /// The backup location (as given to `backup --to`).
    #[arg(long, value_name = "DEST", required = true)]
    from: Option<String>,
    /// Backup id, or `latest` (the newest complete backup).
    #[arg(long = "backup", value_name = "ID", default_value = "latest")]
    backup: String,
    /// Database to restore into [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    target: DbUrl,
    /// Only these tables (comma separated); default all tables of the backup.
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,
    /// Restore every table into this schema instead of its own.
    #[arg(long, value_name = "SCHEMA")]
    into_schema: Option<String>,
    /// What to do with a table that already exists.
    #[arg(long, value_parser = choice::<RestoreMode>(), default_value = "fail-if-exists")]
    mode: RestoreMode,
    /// Print the plan (tables, actions, rows) and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Create the target database first if it does not exist.
    #[arg(long)]
    create_database: bool,
    /// Only the backup's whole schema (every object kind), no rows.
    #[arg(long, conflicts_with_all = ["data_only", "tables", "into_schema"])]
    schema_only: bool,
    /// Only rows, into tables that exist already; no DDL.
    #[arg(long)]
    data_only: bool,
    // They change whole-schema restores (no --tables or --into-schema, into a database
    // without the backup's tables), the only ones that recreate owners and privileges.
    #[command(flatten)]
    access: AccessArgs,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args)]
struct FileArgs {
    /// Database to restore into [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    target: DbUrl,
    /// The existing table (`table` or `schema.table`) the rows go into.
    #[arg(long)]
    table: String,
    /// The file: a path or URL ending in .avro or .parquet.
    file: String,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(args: RestoreArgs, progress: bool) -> Result<()> {
    match args.command {
        Some(RestoreCommand::File(args)) => {
            let summary = restore_file(
                &args.target,
                &args.table,
                &args.file,
                &args.storage.options(),
            )
            .await?;
            print(&format!(
                "{}: {} rows into {} (columns {})\n",
                summary.file,
                summary.rows,
                summary.table,
                summary.columns.join(", ")
            ))
        }
        None => restore(args.backup, progress).await,
    }
}

impl BackupRestoreArgs {
    fn options(&self) -> RestoreOptions {
        RestoreOptions {
            from: self.from.clone().unwrap_or_default(),
            backup: Some(self.backup.clone()),
            tables: self.tables.clone(),
            into_schema: self.into_schema.clone(),
            mode: self.mode,
            dry_run: self.dry_run,
            create_database: self.create_database,
            schema_only: self.schema_only,
            data_only: self.data_only,
            no_owner: self.access.no_owner,
            no_privileges: self.access.no_privileges,
            no_tablespaces: self.access.no_tablespaces,
            s3: self.storage.options(),
        }
    }
}

async fn restore(args: BackupRestoreArgs, progress: bool) -> Result<()> {
    let options = args.options();
    let plan = RestoreJob::new(args.target, options)
        .with_progress(progress)
        .run()
        .await?;
    let mut out = String::new();
    if plan.dry_run {
        out.push_str(&format!(
            "plan: restore backup {} into {} (nothing written)\n",
            plan.backup_id, plan.target
        ));
        for t in &plan.tables {
            out.push_str(&format!(
                "  {:<8} {:<40} {:>12} rows  {} files\n",
                t.action, t.table, t.rows, t.files
            ));
        }
    } else {
        for t in &plan.tables {
            out.push_str(&format!(
                "{} ({}): {} rows in {:.2} s\n",
                t.table, t.action, t.rows, t.seconds
            ));
        }
        out.push_str(&format!(
            "restored backup {}: {} tables, {} rows\n",
            plan.backup_id,
            plan.tables.len(),
            plan.rows()
        ));
    }
    print(&out)
}
