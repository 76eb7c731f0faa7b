//! `lakeshift backup` (take one), `backup list`, `backup verify`.

use clap::{Args, Subcommand};
use lakeshift::Result;
use lakeshift::backup::create::DEFAULT_MAX_FILE_SIZE;
use lakeshift::backup::{self, BackupJob, BackupOptions};
use lakeshift::formats::{Compression, FileFormat};
use lakeshift::postgres::DbUrl;
use lakeshift::storage::{Location, S3Options};

use super::{ReadArgs, SelectionArgs, UrlParser, choice, print, print_json};

/// Arguments of `lakeshift backup` (its help text is on the command).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    #[command(flatten)]
    create: CreateArgs,
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// List the backups at a location: id, time, tables, rows, bytes, complete or not.
    ///
    /// Examples:
    ///   lakeshift backup list --at ./backups
    ///   lakeshift backup list --at s3://my-bucket/hr --json
    #[command(verbatim_doc_comment)]
    List(ListArgs),
    /// Re-read every file of a backup: sha256, sizes, row counts, and that it decodes.
    ///
    /// Exits non-zero and names the file at fault when anything differs from the manifest.
    ///
    /// Examples:
    ///   lakeshift backup verify --at ./backups
    ///   lakeshift backup verify --at ./backups --backup 20261124T101500Z-3fa2c1
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
}

/// Flags of every command that reads or writes an object store (YAML: `s3:`).
#[derive(Debug, Args, Clone)]
pub struct StorageArgs {
    /// S3 endpoint, e.g. http://127.0.0.1:9000 [default: AWS_ENDPOINT_URL, else AWS]
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// S3 region [default: AWS_REGION / AWS_DEFAULT_REGION]
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
    /// Allow a plain-http S3 endpoint (implied by an http:// --s3-endpoint).
    #[arg(long)]
    s3_allow_http: bool,
}

impl StorageArgs {
    pub fn options(&self) -> S3Options {
        S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            allow_http: self.s3_allow_http,
        }
    }
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// Database to back up [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    source: DbUrl,
    /// Where backups go: a directory, file://, s3://bucket/prefix or memory://name.
    #[arg(long, value_name = "DEST", required = true)]
    to: Option<String>,
    #[command(flatten)]
    selection: SelectionArgs,
    /// File format of the data files.
    #[arg(long, value_parser = choice::<FileFormat>(), default_value = "avro")]
    format: FileFormat,
    /// Codec [default: deflate for Avro, zstd for Parquet]
    #[arg(long, value_parser = choice::<Compression>())]
    compression: Option<Compression>,
    /// Start a new file once one holds this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Re-read the backup once written, as `backup verify` does.
    #[arg(long)]
    verify: bool,
    /// Encrypt the data files at rest (AES-256-GCM) with a key derived from
    /// $LAKESHIFT_BACKUP_KEY, which signs the manifest too; verify, restore and sql need it.
    #[arg(long)]
    encrypt: bool,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    storage: StorageArgs,
}

impl CreateArgs {
    fn options(&self) -> BackupOptions {
        BackupOptions {
            to: self.to.clone().unwrap_or_default(),
            selection: self.selection.selection(),
            format: self.format,
            compression: self.compression,
            max_file_size: self.max_file_size,
            verify: self.verify,
            encrypt: self.encrypt,
            read: self.read.options(),
            s3: self.storage.options(),
        }
    }
}

#[derive(Debug, Args)]
struct ListArgs {
    /// The backup location.
    #[arg(long, value_name = "DEST")]
    at: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The backup location.
    #[arg(long, value_name = "DEST")]
    at: String,
    /// Backup id, or `latest` (the newest complete backup).
    #[arg(long = "backup", value_name = "ID", default_value = "latest")]
    backup: String,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(args: BackupArgs, progress: bool) -> Result<()> {
    match args.command {
        Some(BackupCommand::List(args)) => list(args).await,
        Some(BackupCommand::Verify(args)) => verify(args).await,
        None => create(args.create, progress).await,
    }
}

async fn create(args: CreateArgs, progress: bool) -> Result<()> {
    let options = args.options();
    let summary = BackupJob::new(args.source, options)
        .with_progress(progress)
        .run()
        .await?;
    eprintln!(
        "backup {}: {} tables, {} rows, {} files, {} in {:.2} s at {}",
        summary.backup_id,
        summary.tables,
        summary.rows,
        summary.files,
        human_bytes(summary.bytes),
        summary.seconds,
        summary.location
    );
    if summary.verified.is_some() {
        eprintln!("backup {} verified", summary.backup_id);
    }
    print(&format!("{}\n", summary.backup_id))
}

async fn list(args: ListArgs) -> Result<()> {
    let location = Location::parse(&args.at, &args.storage.options())?;
    let backups = backup::list(&location).await?;
    if args.json {
        return print_json(&backups);
    }
    let mut out = format!(
        "{:<24} {:<20} {:>6} {:>12} {:>10}  {}\n",
        "BACKUP", "CREATED", "TABLES", "ROWS", "BYTES", "STATUS"
    );
    for b in &backups {
        let unknown = || "-".to_string();
        out.push_str(&format!(
            "{:<24} {:<20} {:>6} {:>12} {:>10}  {}\n",
            b.backup_id,
            b.created_at.clone().unwrap_or_else(unknown),
            b.tables.map_or_else(unknown, |t| t.to_string()),
            b.rows.map_or_else(unknown, |r| r.to_string()),
            human_bytes(b.bytes),
            if b.complete {
                "complete"
            } else {
                "INCOMPLETE (no manifest)"
            }
        ));
    }
    print(&out)
}

async fn verify(args: VerifyArgs) -> Result<()> {
    let location = Location::parse(&args.at, &args.storage.options())?;
    let report = backup::verify(&location, Some(&args.backup)).await?;
    print(&format!(
        "backup {} verified: {} tables, {} files, {} rows, {}\n",
        report.backup_id,
        report.tables,
        report.files,
        report.rows,
        human_bytes(report.bytes)
    ))
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
