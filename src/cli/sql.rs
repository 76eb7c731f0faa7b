//! `lakeshift sql`: SQL files (or `-e` text) over Delta, Parquet, Avro, backups, CSV and
//! live Postgres tables, with DataFusion.

use std::path::PathBuf;

use clap::Args;
use lakeshift::query::{OutputFormat, Script, TableSource};
use lakeshift::{Error, Result};

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL files, run in order in one session; the last statement's result is the output.
    files: Vec<PathBuf>,
    /// SQL text to run instead of files.
    #[arg(
        short = 'e',
        long = "execute",
        value_name = "SQL",
        conflicts_with = "files"
    )]
    execute: Option<String>,
    /// Register the tables of a pipeline's `catalog:` section.
    #[arg(long, value_name = "PIPELINE.yaml")]
    catalog: Option<PathBuf>,
    /// A table: NAME=LOCATION[#FORMAT] (repeatable). FORMAT: delta[@VERSION], parquet,
    /// csv[:noheader], avro, backup[:TABLE], postgres[:TABLE]; recognised when left out.
    #[arg(long = "table", value_name = "NAME=LOCATION")]
    tables: Vec<String>,
    /// Output format [default: from -o's extension, else table].
    #[arg(long, value_parser = super::choice::<OutputFormat>())]
    format: Option<OutputFormat>,
    /// Write the result to this file (path or URL) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<String>,
}

pub async fn run(args: SqlArgs) -> Result<()> {
    let scripts: Vec<Script> = match (&args.execute, args.files.is_empty()) {
        (Some(sql), _) => vec![Script::inline(sql)],
        (None, false) => args
            .files
            .iter()
            .map(|f| Script::from_file(f))
            .collect::<Result<_>>()?,
        (None, true) => {
            return Err(Error::Invalid(
                "give SQL files or -e SQL (see lakeshift sql --help)".into(),
            ));
        }
    };
    let tables = tables(args.catalog.as_deref(), &args.tables)?;
    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(OutputFormat::of_path))
        .unwrap_or_default();
    let output = args.output.as_deref();
    let rows = lakeshift::query::run_scripts(&scripts, &tables, format, output).await?;
    if let Some(out) = &args.output {
        eprintln!("{rows} rows written to {out}");
    }
    Ok(())
}

/// The tables of `--catalog` and `--table`, the latter winning on equal names.
pub fn tables(catalog: Option<&std::path::Path>, specs: &[String]) -> Result<Vec<TableSource>> {
    let tables: Vec<TableSource> = specs
        .iter()
        .map(|s| TableSource::parse(s))
        .collect::<Result<_>>()?;
    match catalog {
        Some(path) => {
            let pipeline = lakeshift::pipeline::load(path)?;
            Ok(lakeshift::query::with_defaults(tables, &pipeline.catalog))
        }
        None => Ok(tables),
    }
}
