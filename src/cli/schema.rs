//! `lakeshift schema dump|copy`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use lakeshift::postgres::schema_copy::{self, SchemaCopyOptions};
use lakeshift::postgres::{DbUrl, ddl};
use lakeshift::{Error, Result};

use super::{SchemaArgs, UrlParser, print};

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print an idempotent SQL script that recreates the schemas' metadata.
    ///
    /// Examples:
    ///   lakeshift schema dump --source postgres://postgres@127.0.0.1/hr
    ///   lakeshift schema dump --schema public --schema audit -o schema.sql
    #[command(verbatim_doc_comment)]
    Dump(DumpArgs),
    /// Recreate the schemas' metadata in another database, in one transaction.
    ///
    /// Examples:
    ///   lakeshift schema copy --source postgres://postgres@127.0.0.1/old --target postgres://postgres@127.0.0.1/new
    ///   lakeshift schema copy --target postgres://postgres@127.0.0.1/new --dry-run
    #[command(verbatim_doc_comment)]
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Database to read [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    source: DbUrl,
    #[command(flatten)]
    schemas: SchemaArgs,
    #[command(flatten)]
    access: AccessArgs,
}

/// What of owners, privileges and tablespaces a recreated schema leaves out (schema copy,
/// restore).
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Leave out owners: objects belong to whoever applies the schema, as pg_dump -O;
    /// grants and policy roles the target lacks are then left out with a warning.
    #[arg(long, short = 'O')]
    pub no_owner: bool,
    /// Leave out privileges (GRANT, ALTER DEFAULT PRIVILEGES), as pg_dump -x.
    #[arg(long, short = 'x')]
    pub no_privileges: bool,
    /// Leave out tablespaces: tables and indexes go to the target's default tablespace
    /// (otherwise a tablespace the target lacks is an error).
    #[arg(long)]
    pub no_tablespaces: bool,
}

impl SourceArgs {
    fn options(&self) -> SchemaCopyOptions {
        SchemaCopyOptions {
            scope: self.schemas.scope(),
            no_owner: self.access.no_owner,
            no_privileges: self.access.no_privileges,
            no_tablespaces: self.access.no_tablespaces,
        }
    }
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Write the script here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Database to create the objects in.
    #[arg(long, value_parser = UrlParser)]
    target: DbUrl,
    /// Print the script instead of applying it.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(cmd: SchemaCommand) -> Result<()> {
    match cmd {
        SchemaCommand::Dump(args) => {
            let source = &args.source;
            let catalog = source.options().load_catalog(&source.source).await?;
            let script = ddl::script(&catalog, &source.source.redacted());
            match args.output {
                Some(path) => std::fs::write(&path, script).map_err(|e| Error::io(&path, e)),
                None => print(&script),
            }
        }
        SchemaCommand::Copy(args) => {
            let source = &args.source;
            let options = source.options();
            if args.dry_run {
                let catalog = options.load_catalog(&source.source).await?;
                return print(&ddl::script(&catalog, &source.source.redacted()));
            }
            let summary = schema_copy::copy(&source.source, &args.target, &options).await?;
            tracing::info!(
                "copied schema {} from {} to {}: {} tables, {} views, {} functions, {} sequences, {} indexes",
                summary.schemas.join(", "),
                source.source,
                args.target,
                summary.tables,
                summary.views,
                summary.functions,
                summary.sequences,
                summary.indexes
            );
            Ok(())
        }
    }
}
