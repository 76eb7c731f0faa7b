//! Executing a checked pipeline: every connection is tried before the first step (fail fast),
//! then steps run in order, each calling the same library function as its CLI command; the
//! first failure stops the run.

use std::path::PathBuf;
use std::time::Instant;

use super::report::{RunReport, Status, StepReport};
use super::{BackupStep, ImportSource, ImportStep, Pipeline, Step};
use crate::backup::{BackupJob, RestoreJob};
use crate::blocking::spawn_blocking;
use crate::error::{Error, Result};
use crate::import::{CsvImport, DirImport};
use crate::lake::SyncJob;
use crate::postgres::compare::compare_tables;
use crate::postgres::transfer::TableCopy;
use crate::postgres::{ddl, script};
use crate::report::ReportJob;
use crate::storage::{Location, S3Options};

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where generated data and other run files go.
    pub work_dir: PathBuf,
    pub progress: bool,
}

/// Run `pipeline`; the report is complete whether or not a step failed.
pub async fn run(pipeline: &Pipeline, options: &RunOptions) -> (RunReport, Result<()>) {
    let started = Instant::now();
    let mut report = RunReport {
        pipeline: pipeline.name.clone(),
        file: pipeline.path.display().to_string(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        seconds: 0.0,
        status: Status::Succeeded,
        steps: Vec::new(),
    };
    let mut outcome = check_connections(pipeline).await;
    for (index, named) in pipeline.steps.iter().enumerate() {
        let mut step = StepReport {
            index,
            name: named.name.clone(),
            kind: named.step.kind().into(),
            status: Status::Skipped,
            seconds: 0.0,
            output: serde_json::Value::Null,
            error: None,
        };
        if outcome.is_ok() {
            tracing::info!(step = index + 1, of = pipeline.steps.len(), name = %named.name, "running step");
            let step_started = Instant::now();
            match run_step(&named.step, options).await {
                Ok(output) => {
                    step.status = Status::Succeeded;
                    step.output = output;
                }
                Err(e) => {
                    step.status = Status::Failed;
                    step.error = Some(e.to_string());
                    outcome = Err(Error::Step {
                        index: index + 1,
                        name: named.name.clone(),
                        source: Box::new(e),
                    });
                }
            }
            step.seconds = step_started.elapsed().as_secs_f64();
        }
        report.steps.push(step);
    }
    report.seconds = started.elapsed().as_secs_f64();
    if outcome.is_err() {
        report.status = Status::Failed;
    }
    (report, outcome)
}

async fn check_connections(pipeline: &Pipeline) -> Result<()> {
    let mut seen = Vec::new();
    for url in pipeline.steps.iter().flat_map(|s| s.step.connections()) {
        if !seen.contains(&url) {
            url.connect().await?;
            seen.push(url);
        }
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

async fn run_step(step: &Step, options: &RunOptions) -> Result<serde_json::Value> {
    match step {
        Step::SchemaCopy {
            source,
            target,
            schemas,
        } => Ok(to_json(&ddl::copy(source, target, schemas, false).await?)),
        Step::SqlScript { connection, file } => {
            script::run_file(connection, file).await?;
            Ok(serde_json::json!({ "file": file }))
        }
        Step::ImportCsv(import) => import_csv(import, options).await,
        Step::TableCopy {
            source,
            target,
            schemas,
            tables,
            mode,
        } => {
            let copy = TableCopy::new(source.clone(), target.clone())
                .with_schemas(schemas.clone())
                .with_tables(tables.clone())
                .with_mode(*mode);
            Ok(to_json(&copy.run().await?))
        }
        Step::Backup(backup) => run_backup(backup, options).await,
        Step::Restore(restore) => {
            let from = Location::parse(&restore.from, &S3Options::default())?;
            let plan = RestoreJob::new(from, restore.target.clone())
                .with_backup(restore.backup.clone())
                .with_tables(restore.tables.clone())
                .with_into_schema(restore.into_schema.clone())
                .with_mode(restore.mode)
                .with_create_database(restore.create_database)
                .with_progress(options.progress)
                .run()
                .await?;
            Ok(to_json(&plan))
        }
        Step::Compare {
            left,
            right,
            tables,
        } => Ok(to_json(&compare_tables(left, right, tables).await?)),
        Step::LakeSync(sync) => {
            let job = SyncJob::new(sync.source.clone(), sync.to.clone())
                .with_schemas(sync.schemas.clone())
                .with_tables(sync.tables.clone())
                .with_mode(sync.mode)
                .with_key(sync.key.clone())
                .with_incremental_column(sync.incremental_column.clone())
                .with_progress(options.progress);
            Ok(to_json(&job.run().await?))
        }
        Step::Query {
            file,
            output,
            format,
            tables,
        } => {
            let script = crate::query::Script::from_file(file)?;
            let rows = crate::query::run_scripts(&[script], tables, *format, Some(output)).await?;
            Ok(serde_json::json!({ "file": file, "output": output, "rows": rows }))
        }
        Step::Report {
            queries,
            output,
            png_dir,
            title,
            tables,
        } => {
            let summary = ReportJob::new(queries.clone(), tables.clone(), output.clone())
                .with_png_dir(png_dir.clone())
                .with_title(title.clone())
                .run()
                .await?;
            Ok(to_json(&summary))
        }
    }
}

async fn run_backup(step: &BackupStep, options: &RunOptions) -> Result<serde_json::Value> {
    let to = Location::parse(&step.to, &S3Options::default())?;
    let mut job = BackupJob::new(step.source.clone(), to.clone())
        .with_schemas(step.schemas.clone())
        .with_tables(step.tables.clone())
        .with_format(step.format)
        .with_compression(step.compression)
        .with_progress(options.progress);
    if let Some(bytes) = step.max_file_size {
        job = job.with_max_file_size(bytes);
    }
    let summary = job.run().await?;
    let verified = if step.verify {
        Some(crate::backup::verify(&to, Some(&summary.backup_id)).await?)
    } else {
        None
    };
    Ok(serde_json::json!({ "backup": summary, "verified": verified }))
}

async fn import_csv(step: &ImportStep, options: &RunOptions) -> Result<serde_json::Value> {
    let configure = |import: CsvImport| {
        import
            .with_options(step.options.clone())
            .with_mode(step.mode)
            .with_max_rejects(step.max_rejects)
            .with_progress(options.progress)
    };
    let dir = match &step.source {
        ImportSource::File {
            path,
            table,
            rejects,
        } => {
            let table = if table.contains('.') {
                table.clone()
            } else {
                format!("{}.{table}", step.schema)
            };
            let import = configure(CsvImport::new(step.target.clone(), table, path.clone()))
                .with_rejects(rejects.clone());
            let summary = import.run().await?;
            tracing::info!("{summary}");
            return Ok(to_json(&[summary]));
        }
        ImportSource::Dir(dir) => dir.clone(),
        ImportSource::Demo { rows, seed } => {
            let dir = options.work_dir.join("demo-data");
            let (rows, seed, target) = (*rows, *seed, dir.clone());
            let generated = spawn_blocking("generating demo data", move || {
                crate::demo::generate(&target, rows, seed)
            })
            .await?;
            tracing::info!(rows = generated.hired_employees, dir = %dir.display(), "generated demo data");
            dir
        }
    };
    let summaries = DirImport::new(step.target.clone(), dir)
        .with_schema(step.schema.clone())
        .with_template(configure)
        .run()
        .await?;
    for summary in &summaries {
        tracing::info!("{summary}");
    }
    Ok(to_json(&summaries))
}
