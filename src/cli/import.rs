//! `lakeshift import csv|dir`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use lakeshift::Result;
use lakeshift::formats::csv::CsvOptions;
use lakeshift::import::{CsvImport, DirImport, ImportOptions};
use lakeshift::options::parse_ascii_char;
use lakeshift::postgres::DbUrl;
use lakeshift::postgres::selection::DEFAULT_SCHEMA;
use lakeshift::postgres::write::LoadMode;

use super::{UrlParser, choice, write_json};

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Load one CSV file into an existing table.
    ///
    /// Values are parsed by the table's column types. Bad rows (wrong field count, values
    /// that do not parse, NULL in NOT NULL columns, duplicate keys, missing parent rows) go
    /// to the reject log and never reach the table; good rows commit together.
    ///
    /// Examples:
    ///   lakeshift import csv --table hired_employees hired_employees.csv
    ///   lakeshift import csv --target postgres://u@db/hr --table jobs jobs.csv --mode replace
    ///   lakeshift import csv --table t data.csv --header --delimiter ';' --rejects bad.jsonl --max-rejects 100
    #[command(verbatim_doc_comment)]
    Csv(CsvArgs),
    /// Load every <table>.csv of a directory, parents before children.
    ///
    /// Examples:
    ///   lakeshift import dir ./hr_challenge
    ///   lakeshift import dir ./exports --target postgres://u@db/hr --mode replace --report import.json
    #[command(verbatim_doc_comment)]
    Dir(DirArgs),
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Database to load into [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    target: DbUrl,
    /// The first line is a header: its names say which column each field fills (exact, else
    /// case-insensitive; an unknown or missing column is an error before loading).
    #[arg(long)]
    header: bool,
    /// Field delimiter (one ASCII character; \t for tab).
    #[arg(long, default_value = ",", value_parser = parse_ascii_char)]
    delimiter: u8,
    /// Quote character.
    #[arg(long, default_value = "\"", value_parser = parse_ascii_char)]
    quote: u8,
    /// An unquoted field equal to this is NULL (an empty unquoted field always is).
    #[arg(long)]
    null_string: Option<String>,
    /// A record (and so a field) of this many bytes or more is rejected; a quoted field
    /// that runs past it, or never closes, costs its first line and reading goes on at the
    /// next [default: 64 MiB]
    #[arg(long, value_name = "BYTES", default_value_t = lakeshift::formats::csv::split::DEFAULT_MAX_RECORD,
          hide_default_value = true)]
    max_record_bytes: usize,
    /// Schema of the tables: of a directory's <table>.csv files, and of a --table given
    /// without one.
    #[arg(long, default_value = DEFAULT_SCHEMA)]
    schema: String,
    /// What to do with rows already in the table.
    #[arg(long, value_parser = choice::<LoadMode>(), default_value = "append")]
    mode: LoadMode,
    /// More rejected rows than this in a file and nothing of it is committed.
    #[arg(long)]
    max_rejects: Option<u64>,
    /// Write the summary as JSON to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Rows per batch.
    #[arg(long, default_value_t = lakeshift::import::DEFAULT_BATCH_SIZE, hide = true)]
    batch_size: usize,
}

#[derive(Debug, Args)]
pub struct CsvArgs {
    /// The CSV file.
    file: PathBuf,
    /// Table to load (`table` or `schema.table`).
    #[arg(long)]
    table: String,
    /// Reject log (.csv, or .jsonl for JSON Lines) [default: <FILE>.rejects.csv]
    #[arg(long)]
    rejects: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct DirArgs {
    /// Directory of <table>.csv files.
    dir: PathBuf,
    #[command(flatten)]
    common: CommonArgs,
}

impl CommonArgs {
    fn options(&self) -> ImportOptions {
        ImportOptions {
            schema: self.schema.clone(),
            mode: self.mode,
            max_rejects: self.max_rejects,
            csv: CsvOptions {
                delimiter: self.delimiter,
                quote: self.quote,
                header: self.header,
                null_string: self.null_string.clone(),
                max_record_bytes: self.max_record_bytes,
            },
            batch_size: self.batch_size,
        }
    }
}

pub async fn run(cmd: ImportCommand, progress: bool) -> Result<()> {
    let (summaries, report) = match cmd {
        ImportCommand::Csv(args) => {
            let common = &args.common;
            let import = CsvImport::new(
                common.target.clone(),
                &args.table,
                &args.file,
                common.options(),
            );
            let summary = import
                .with_rejects(args.rejects.clone())
                .with_progress(progress)
                .run()
                .await?;
            (vec![summary], args.common.report)
        }
        ImportCommand::Dir(args) => {
            let common = &args.common;
            let summaries = DirImport::new(common.target.clone(), &args.dir, common.options())
                .with_progress(progress)
                .run()
                .await?;
            (summaries, args.common.report)
        }
    };
    for summary in &summaries {
        eprintln!("{summary}");
    }
    if let Some(path) = report {
        write_json(&path, &summaries)?;
    }
    Ok(())
}
