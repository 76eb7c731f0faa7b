//! `lakeshift demo generate`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use lakeshift::Result;
use lakeshift::blocking::spawn_blocking;

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write departments.csv, jobs.csv and hired_employees.csv in the historical format.
    ///
    /// Headerless, CRLF, UTC datetimes like 2021-11-07T02:48:42Z, about 3.5% of employee rows
    /// with one empty field. The same seed always gives the same files.
    ///
    /// Examples:
    ///   lakeshift demo generate data/ --rows 100000
    ///   lakeshift demo generate /tmp/big --rows 10000000 --seed 7
    #[command(verbatim_doc_comment)]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write the three files into (created if missing).
    dir: PathBuf,
    /// Number of hired_employees rows.
    #[arg(long, default_value_t = 10_000)]
    rows: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub async fn run(cmd: DemoCommand) -> Result<()> {
    let DemoCommand::Generate(args) = cmd;
    let started = std::time::Instant::now();
    let generated = spawn_blocking("generating demo data", move || {
        lakeshift::demo::generate(&args.dir, args.rows, args.seed)
    })
    .await?;
    tracing::info!(
        "wrote {} departments, {} jobs, {} hired_employees to {} in {:.2} s",
        generated.departments,
        generated.jobs,
        generated.hired_employees,
        generated.dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
