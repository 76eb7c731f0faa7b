//! `lakeshift import csv|dir`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use lakeshift::Result;
use lakeshift::formats::csv::CsvOptions;
use lakeshift::import::{CsvImport, DirImport};
use lakeshift::postgres::DbUrl;
use lakeshift::postgres::write::LoadMode;

use super::{UrlParser, parse_ascii_char, write_json};

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
    /// Database to load into [default: $DATABASE_URL]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = lakeshift::postgres::connect::DEFAULT_DATABASE_URL)]
    target: DbUrl,
    /// The first line is a header, not data.
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
    /// What to do with rows already in the table.
    #[arg(long, value_enum, default_value_t = LoadMode::Append)]
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
    /// Schema of the tables.
    #[arg(long, default_value = "public")]
    schema: String,
    #[command(flatten)]
    common: CommonArgs,
}

impl CommonArgs {
    fn configure(&self, import: CsvImport, progress: bool) -> CsvImport {
        import
            .with_options(CsvOptions {
                delimiter: self.delimiter,
                quote: self.quote,
                header: self.header,
                null_string: self.null_string.clone(),
            })
            .with_mode(self.mode)
            .with_max_rejects(self.max_rejects)
            .with_batch_size(self.batch_size)
            .with_progress(progress)
    }
}

pub async fn run(cmd: ImportCommand, progress: bool) -> Result<()> {
    let (summaries, report) = match cmd {
        ImportCommand::Csv(args) => {
            let import = CsvImport::new(
                args.common.target.clone(),
                args.table.clone(),
                args.file.clone(),
            );
            let import = args
                .common
                .configure(import, progress)
                .with_rejects(args.rejects.clone());
            (vec![import.run().await?], args.common.report)
        }
        ImportCommand::Dir(args) => {
            let common = &args.common;
            let summaries = DirImport::new(common.target.clone(), args.dir.clone())
                .with_schema(args.schema.clone())
                .with_template(|import| common.configure(import, progress))
                .run()
                .await?;
            (summaries, args.common.report)
        }
    };
    for summary in &summaries {
        eprintln!("{summary}");
        if summary.rows_read > 0 && summary.rows_loaded == 0 {
            tracing::warn!(
                "no row of {} was loaded: is {} the right table? (see the reject log)",
                summary.file.display(),
                summary.table
            );
        }
    }
    if let Some(path) = report {
        write_json(&path, &summaries)?;
    }
    Ok(())
}
