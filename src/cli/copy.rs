//! `lakeshift copy`: table data from one Postgres to another.

use clap::Args;
use lakeshift::Result;
use lakeshift::postgres::DbUrl;
use lakeshift::postgres::transfer::{CopyOptions, TableCopy};
use lakeshift::postgres::write::LoadMode;

use super::{ReadArgs, SelectionArgs, UrlParser, choice};

/// Arguments of `lakeshift copy` (its help text is on the command).
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Database to read [default: $DATABASE_URL, else PG* variables]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = UrlParser,
          default_value = "", hide_default_value = true)]
    source: DbUrl,
    /// Database to load into.
    #[arg(long, value_parser = UrlParser)]
    target: DbUrl,
    #[command(flatten)]
    selection: SelectionArgs,
    /// What to do with rows already in the target tables.
    #[arg(long, value_parser = choice::<LoadMode>(), default_value = "append")]
    mode: LoadMode,
    #[command(flatten)]
    read: ReadArgs,
}

impl CopyArgs {
    fn options(&self) -> CopyOptions {
        CopyOptions {
            selection: self.selection.selection(),
            mode: self.mode,
            read: self.read.options(),
        }
    }
}

pub async fn run(args: CopyArgs, progress: bool) -> Result<()> {
    let options = args.options();
    let summaries = TableCopy::new(args.source, args.target, options)
        .with_progress(progress)
        .run()
        .await?;
    for s in &summaries {
        eprintln!("{}: {} rows in {:.2} s", s.table, s.rows, s.seconds);
    }
    Ok(())
}
