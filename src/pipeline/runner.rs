//! Executing a checked pipeline: every connection is tried before the first step (fail fast),
//! then steps run in order, each calling the same library function as its CLI command; the
//! first failure stops the run.

use std::time::Instant;

use super::Pipeline;
use super::report::{RunReport, Status, StepReport};
use super::steps::RunContext;
pub use super::steps::RunOptions;
use crate::error::{Error, Result};

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
            let run = RunContext {
                urls: &pipeline.connections,
                options,
            };
            match named.step.run(&run).await {
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
    for name in pipeline.steps.iter().flat_map(|s| s.step.connects()) {
        if !seen.contains(&name) {
            if let Some(url) = pipeline.connections.get(name) {
                if pipeline.to_create.contains(name) && !url.database_exists().await? {
                    url.create_database().await?;
                    tracing::info!(
                        connection = name,
                        database = url.database(),
                        "created the database"
                    );
                }
                url.connect().await?;
            }
            seen.push(name);
        }
    }
    Ok(())
}
