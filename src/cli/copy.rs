//! `lakeshift copy`: table data from one Postgres to another.

use clap::Args;
use lakeshift::Result;
use lakeshift::postgres::DbUrl;
use lakeshift::postgres::read::ReadOptions;
use lakeshift::postgres::transfer::TableCopy;
use lakeshift::postgres::write::LoadMode;

use super::UrlParser;

/// Arguments of `lakeshift copy` (its help text is on the command).
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Database to read [default: $DATABASE_URL]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = lakeshift::postgres::connect::DEFAULT_DATABASE_URL)]
    source: DbUrl,
    /// Database to load into.
    #[arg(long, value_parser = UrlParser)]
    target: DbUrl,
    /// Schema to copy (repeatable).
    #[arg(long = "schema", default_value = "public")]
    schemas: Vec<String>,
    /// Only these tables (comma separated); default all tables of the schemas.
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,
    /// What to do with rows already in the target tables.
    #[arg(long, value_enum, default_value_t = LoadMode::Append)]
    mode: LoadMode,
    /// Connections reading each table in parallel.
    #[arg(long, default_value_t = 2)]
    partitions: usize,
}

pub async fn run(args: CopyArgs, progress: bool) -> Result<()> {
    let read = ReadOptions {
        partitions: args.partitions.max(1),
        ..ReadOptions::default()
    };
    let summaries = TableCopy::new(args.source, args.target)
        .with_schemas(args.schemas)
        .with_tables(args.tables)
        .with_mode(args.mode)
        .with_read_options(read)
        .with_progress(progress)
        .run()
        .await?;
    for s in &summaries {
        eprintln!("{}: {} rows in {:.2} s", s.table, s.rows, s.seconds);
    }
    Ok(())
}
