//! The command line: one file per command group, each calling library functions.

mod backup;
mod cdc;
mod copy;
mod demo;
mod import;
mod lake;
mod pipeline;
mod report;
mod restore;
mod schema;
mod serve;
mod sql;
mod user;

use std::io::Write;

use clap::{Args, Parser, Subcommand};
use lakeshift::options::Choice;
use lakeshift::postgres::DbUrl;
use lakeshift::postgres::read::ReadOptions;
use lakeshift::postgres::selection::{SchemaScope, TableSelection};
use lakeshift::{Error, Result};

/// Move and serve Postgres data through Apache Arrow.
///
/// lakeshift migrates Postgres schemas, loads historical CSV exports with a row-level reject
/// log, backs tables up to Avro/Parquet and restores them, serves a REST API for batch
/// ingestion, mirrors tables into Delta Lake, runs SQL and reports over them with DataFusion,
/// and runs declarative pipelines of such steps. Connections (postgres:// URLs or libpq
/// key=value settings) come from flags, from a pipeline's `connections`, or from
/// DATABASE_URL, and are completed as libpq does: service file, PG* variables (PGHOST,
/// PGPASSWORD, PGSSLMODE, ...), ~/.pgpass. With none of these:
/// postgres://postgres@localhost:5432/postgres. Passwords are never printed.
#[derive(Debug, Parser)]
#[command(
    name = "lakeshift",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Dump or copy a Postgres schema's metadata (tables, keys, views, functions, ...).
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// Copy table data from one Postgres to another, in one snapshot.
    ///
    /// All tables are read from one snapshot and loaded parents before children, in one
    /// target transaction: all tables or none. The target tables must exist (run `schema
    /// copy` first).
    ///
    /// Examples:
    ///   lakeshift copy --source postgres://u@old/hr --target postgres://u@new/hr
    ///   lakeshift copy --source postgres://u@old/hr --target postgres://u@new/hr --tables jobs,departments --mode replace
    #[command(verbatim_doc_comment)]
    Copy(copy::CopyArgs),
    /// Back tables up to Avro or Parquet files on disk, S3 or memory, with a manifest.
    ///
    /// All tables are read in one snapshot and streamed into files of bounded size
    /// (`DEST/<backup-id>/<schema>.<table>/part-*.avro`); `manifest.json` is written last,
    /// so a backup without one is incomplete. Prints the backup id on stdout.
    ///
    /// Examples:
    ///   lakeshift backup --source postgres://u@host/hr --to ./backups
    ///   lakeshift backup --to s3://my-bucket/hr --format parquet --tables jobs,departments
    ///   lakeshift backup list --at ./backups
    ///   lakeshift backup verify --at ./backups --backup latest
    #[command(verbatim_doc_comment)]
    Backup(backup::BackupArgs),
    /// Restore a backup (or one foreign Avro/Parquet file) into Postgres, all or nothing.
    ///
    /// Missing tables are created from the manifest's DDL, rows go in by binary COPY, then
    /// keys, indexes and sequences; parents before children; one transaction; row counts
    /// and file checksums checked against the manifest.
    ///
    /// Examples:
    ///   lakeshift restore --from ./backups --target postgres://u@host/hr_copy
    ///   lakeshift restore --from ./backups --backup 20261124T101500Z-3fa2c1 --tables jobs --mode replace
    ///   lakeshift restore --from s3://my-bucket/hr --into-schema restored --dry-run
    ///   lakeshift restore file --table hired_employees spark_export.avro
    #[command(verbatim_doc_comment)]
    Restore(restore::RestoreArgs),
    /// The Delta mirror: sync Postgres tables to Delta tables, compact, vacuum, history.
    #[command(subcommand)]
    Lake(lake::LakeCommand),
    /// Mirror tables into Delta tables change by change: an initial copy, then every
    /// insert, update, delete and truncate, exactly once (a logical replication slot).
    ///
    /// Needs wal_level = logical on the server and a role allowed to replicate (or a
    /// superuser). The slot moves on only once the lake holds the changes; each Delta
    /// commit records its position, so a run killed anywhere resumes where the lake is.
    ///
    /// Examples:
    ///   lakeshift cdc --to ./lake --tables hired_employees,jobs
    ///   lakeshift cdc --to ./lake --until caught-up
    ///   lakeshift cdc status --to ./lake
    ///   lakeshift cdc drop --slot lakeshift
    #[command(verbatim_doc_comment)]
    Cdc(cdc::CdcArgs),
    /// Run SQL over Delta, Parquet, Avro, backup, CSV and live Postgres tables.
    ///
    /// Tables are registered by name with --table NAME=LOCATION[#FORMAT] or from a
    /// pipeline's catalog; the session's time zone is UTC. A file may hold several
    /// statements; the last one's result is printed or written.
    ///
    /// Examples:
    ///   lakeshift sql queries/hired_by_quarter_2021.sql --catalog pipelines/hr_lakehouse.yaml
    ///   lakeshift sql -e "SELECT count(*) FROM jobs" --table jobs=./lake/jobs
    ///   lakeshift sql q.sql --table e=./lake/hired_employees#delta@3 -o out.parquet
    ///   lakeshift sql -e "SELECT * FROM jobs" --table jobs=./backups#backup --format csv
    #[command(verbatim_doc_comment)]
    Sql(sql::SqlArgs),
    /// Run SQL files and write one HTML page of charts and tables (and PNG charts).
    ///
    /// Each file's header comments give its title and chart (see queries/*.sql).
    ///
    /// Examples:
    ///   lakeshift report --query queries/hired_by_quarter_2021.sql --query queries/departments_above_mean_2021.sql --catalog pipelines/hr_lakehouse.yaml -o report.html --png charts/
    #[command(verbatim_doc_comment)]
    Report(report::ReportArgs),
    /// Load CSV files into existing tables, typed by the table, with a reject log.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Run a pipeline YAML file, step by step.
    Run(pipeline::RunArgs),
    /// Check a pipeline YAML file and report every problem without running it.
    Validate(pipeline::ValidateArgs),
    /// Demo data: the HR data set in the format of the historical exports.
    #[command(subcommand)]
    Demo(demo::DemoCommand),
    /// Serve the REST ingestion API (JWT auth, OpenAPI document, Swagger UI at /docs).
    ///
    /// Users post batches of 1 to 1000 records per table; each record is checked against
    /// the table (types, lengths, required fields, foreign keys), valid ones are inserted in
    /// one transaction with ids assigned by the server, rejected ones are reported and
    /// logged in lakeshift_ingest_rejects. Needs LAKESHIFT_JWT_SECRET (32+ bytes).
    ///
    /// Examples:
    ///   LAKESHIFT_JWT_SECRET=$(openssl rand -hex 32) lakeshift serve --config api.yaml
    ///   lakeshift serve --config api.yaml --bind 0.0.0.0:8080 --database-url postgres://u@db/hr
    #[command(verbatim_doc_comment)]
    Serve(serve::ServeArgs),
    /// Print the REST API's OpenAPI 3 document (JSON).
    Openapi,
    /// Users of the REST API.
    #[command(subcommand)]
    User(user::UserCommand),
}

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Schema(cmd) => schema::run(cmd).await,
        Command::Copy(args) => copy::run(args, !cli.quiet).await,
        Command::Import(cmd) => import::run(cmd, !cli.quiet).await,
        Command::Backup(args) => backup::run(args, !cli.quiet).await,
        Command::Restore(args) => restore::run(args, !cli.quiet).await,
        Command::Lake(cmd) => lake::run(cmd, !cli.quiet).await,
        Command::Cdc(args) => cdc::run(args, !cli.quiet).await,
        Command::Sql(args) => sql::run(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Run(args) => pipeline::run(args, !cli.quiet).await,
        Command::Validate(args) => pipeline::validate(args),
        Command::Demo(cmd) => demo::run(cmd).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Openapi => serve::openapi(),
        Command::User(cmd) => user::run(cmd),
    }
}

/// clap value parser for database URLs. clap's own messages echo the bad value, password
/// and all, so this one reports the error itself, with the password redacted.
#[derive(Debug, Clone, Copy)]
pub struct UrlParser;

impl clap::builder::TypedValueParser for UrlParser {
    type Value = DbUrl;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<DbUrl, clap::Error> {
        let name = arg.map_or_else(|| "URL".to_string(), |a| format!("--{}", a.get_id()));
        let fail = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("{name}: {message}\n"),
            )
            .with_cmd(cmd)
        };
        let raw = value
            .to_str()
            .ok_or_else(|| fail("not valid UTF-8".into()))?;
        DbUrl::parse(raw).map_err(|e| fail(e.to_string()))
    }
}

/// clap value parser for a library option with a fixed set of values, by their YAML names
/// (which `--help` lists).
pub fn choice<T: Choice>() -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::{PossibleValue, TypedValueParser};
    let values = T::NAMES.iter().map(|name| {
        let aliases = T::ALIASES.iter().filter(|(_, n)| n == name);
        PossibleValue::new(*name).aliases(aliases.map(|(alias, _)| *alias))
    });
    clap::builder::PossibleValuesParser::new(values).try_map(|name: String| {
        T::from_name(&name).ok_or_else(|| format!("{name} is not one of {:?}", T::NAMES))
    })
}

/// The flags of the schemas an operation reads (YAML: `schemas:`, `exclude_schemas:`).
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Schema to read, a name or a pattern with * and ? (repeatable) [default: every schema
    /// but pg_catalog, information_schema and pg_toast, as pg_dump]
    #[arg(long = "schema", short = 'n')]
    schemas: Vec<String>,
    /// Schema never read, a name or pattern (repeatable).
    #[arg(long = "exclude-schema", short = 'N')]
    exclude_schemas: Vec<String>,
}

impl SchemaArgs {
    pub fn scope(&self) -> SchemaScope {
        SchemaScope {
            schemas: self.schemas.clone(),
            exclude_schemas: self.exclude_schemas.clone(),
        }
    }
}

/// The flags of a table selection (YAML: `schemas:`, `exclude_schemas:`, `tables:`,
/// `exclude_tables:`).
#[derive(Debug, Args)]
pub struct SelectionArgs {
    #[command(flatten)]
    schemas: SchemaArgs,
    /// Only these tables, `table` or `schema.table`, names or patterns (comma separated);
    /// default every table of the schemas, a partitioned table with its partitions.
    #[arg(long, short = 't', value_delimiter = ',')]
    tables: Vec<String>,
    /// Tables never read, names or patterns (comma separated, repeatable), as pg_dump -T.
    #[arg(long = "exclude-table", short = 'T', value_delimiter = ',')]
    exclude_tables: Vec<String>,
}

impl SelectionArgs {
    pub fn selection(&self) -> TableSelection {
        let scope = self.schemas.scope();
        TableSelection {
            schemas: scope.schemas,
            exclude_schemas: scope.exclude_schemas,
            tables: self.tables.clone(),
            exclude_tables: self.exclude_tables.clone(),
        }
    }
}

/// The flags of how tables are read (YAML: `partitions:`).
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Connections reading each table in parallel.
    #[arg(long, default_value_t = ReadOptions::default().partitions)]
    partitions: usize,
}

impl ReadArgs {
    pub fn options(&self) -> ReadOptions {
        ReadOptions {
            partitions: self.partitions,
            ..ReadOptions::default()
        }
    }
}

/// Print to stdout; a closed pipe (`| head`) ends the command quietly (see
/// [`Error::is_broken_pipe`]).
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("<stdout>", e))
}

/// Print `value` as pretty JSON.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    print(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// Write a JSON report file.
pub fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value)?;
    std::fs::write(path, json).map_err(|e| Error::io(path, e))
}

/// An error as the command line shows it: options named by their flags.
pub fn describe(error: &Error) -> String {
    error.describe(&lakeshift::options::flag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakeshift::backup::RestoreMode;
    use lakeshift::formats::{Compression, FileFormat};
    use lakeshift::lake::SyncMode;
    use lakeshift::postgres::write::LoadMode;
    use lakeshift::query::OutputFormat;

    /// Every name and alias a choice offers parses to a value, and its own name comes back.
    fn offers_what_it_parses<T: Choice + serde::Serialize>() {
        for name in T::NAMES {
            let value = T::from_name(name).unwrap_or_else(|| panic!("{name} does not parse"));
            assert_eq!(serde_json::to_value(value).unwrap(), *name);
        }
        for (alias, name) in T::ALIASES {
            let value = T::from_name(alias).unwrap_or_else(|| panic!("{alias} does not parse"));
            assert_eq!(serde_json::to_value(value).unwrap(), *name);
        }
        assert!(T::from_name("nonsense").is_none());
    }

    #[test]
    fn choices_offer_what_they_parse() {
        offers_what_it_parses::<SyncMode>();
        offers_what_it_parses::<LoadMode>();
        offers_what_it_parses::<RestoreMode>();
        offers_what_it_parses::<FileFormat>();
        offers_what_it_parses::<Compression>();
        offers_what_it_parses::<OutputFormat>();
    }

    #[test]
    fn option_errors_name_flags() {
        let err = Error::Options(lakeshift::options::Problems(vec![
            lakeshift::options::Problem::new("partitions", "must be at least 1"),
            lakeshift::options::Problem::new("s3.endpoint", "bad"),
        ]));
        assert_eq!(
            describe(&err),
            "--partitions: must be at least 1; --s3-endpoint: bad"
        );
        assert_eq!(
            err.to_string(),
            "partitions: must be at least 1; s3.endpoint: bad"
        );
    }

    #[test]
    fn every_command_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
