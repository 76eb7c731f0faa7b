//! `lakeshift run` and `lakeshift validate`.

use std::path::PathBuf;

use clap::Args;
use lakeshift::Result;
use lakeshift::pipeline::runner::{self, RunOptions};

use super::print;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline YAML file.
    ///
    /// Examples:
    ///   lakeshift run pipelines/hr_migration.yaml
    ///   HR_DATA_DIR=../shared/data/hr_challenge lakeshift run pipelines/hr_migration.yaml --report run.json
    #[arg(verbatim_doc_comment)]
    pipeline: PathBuf,
    /// Write the JSON run report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Directory for files the run generates (demo data, ...).
    #[arg(long, default_value = "target/lakeshift-run")]
    work_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline YAML file.
    ///
    /// Example:
    ///   lakeshift validate pipelines/hr_migration.yaml
    #[arg(verbatim_doc_comment)]
    pipeline: PathBuf,
}

pub async fn run(args: RunArgs, progress: bool) -> Result<()> {
    let pipeline = lakeshift::pipeline::load(&args.pipeline)?;
    let options = RunOptions {
        work_dir: args.work_dir,
        progress,
    };
    let (report, outcome) = runner::run(&pipeline, &options).await;
    if let Some(path) = &args.report {
        report.write(path)?;
    }
    outcome?;
    tracing::info!(
        "pipeline {} succeeded: {} steps in {:.2} s",
        report.pipeline,
        report.steps.len(),
        report.seconds
    );
    Ok(())
}

pub fn validate(args: ValidateArgs) -> Result<()> {
    let pipeline = lakeshift::pipeline::load(&args.pipeline)?;
    let mut text = format!(
        "{}: valid, {} steps\n",
        args.pipeline.display(),
        pipeline.steps.len()
    );
    for (i, step) in pipeline.steps.iter().enumerate() {
        text.push_str(&format!(
            "  {}. {} ({})\n",
            i + 1,
            step.name,
            step.step.kind()
        ));
    }
    print(&text)
}
