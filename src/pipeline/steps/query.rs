//! The `query` and `report` kinds: SQL files over the pipeline's catalog and the step's own
//! tables.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::NoConnection;
use super::{Checker, RunContext, StepKind, to_json};
use crate::error::Result;
use crate::query::{OutputFormat, Script, TableSource};
use crate::report::{ReportJob, ReportOptions};

/// `query`: one SQL file, its last result written to `output`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryOptions {
    /// The SQL file, relative to the pipeline file.
    pub file: PathBuf,
    /// Where the result goes (path or URL).
    pub output: String,
    /// Default: from the output's extension.
    pub format: Option<OutputFormat>,
    /// Tables beside the pipeline's catalog: name -> `LOCATION[#FORMAT]`.
    #[serde(default)]
    pub tables: BTreeMap<String, String>,
    /// The catalog's tables and the step's own, once checked.
    #[serde(skip)]
    registered: Vec<TableSource>,
}

impl StepKind for QueryOptions {
    type On = NoConnection;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.existing("file", &mut self.file, false);
        self.registered = checker.tables("tables", &self.tables);
        self.format = self.format.or_else(|| OutputFormat::of_path(&self.output));
        if self.format.is_none() {
            checker.problem(
                "format",
                "give a format (table, csv, json, parquet) or an output with one of their extensions",
            );
        }
    }

    async fn run(&self, _: &NoConnection, _: &RunContext<'_>) -> Result<serde_json::Value> {
        let script = Script::from_file(&self.file)?;
        let format = self.format.unwrap_or_default();
        let output = Some(self.output.as_str());
        let rows = crate::query::run_scripts(&[script], &self.registered, format, output).await?;
        Ok(serde_json::json!({ "file": self.file, "output": self.output, "rows": rows }))
    }
}

/// `report`: the report's options and the tables its queries read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportStepOptions {
    #[serde(flatten)]
    pub report: ReportOptions,
    /// Tables beside the pipeline's catalog: name -> `LOCATION[#FORMAT]`.
    #[serde(default)]
    pub tables: BTreeMap<String, String>,
    #[serde(skip)]
    registered: Vec<TableSource>,
}

impl StepKind for ReportStepOptions {
    type On = NoConnection;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.options(&self.report);
        for (i, query) in self.report.queries.iter_mut().enumerate() {
            checker.existing(&format!("queries[{i}]"), query, false);
        }
        self.registered = checker.tables("tables", &self.tables);
    }

    async fn run(&self, _: &NoConnection, _: &RunContext<'_>) -> Result<serde_json::Value> {
        let job = ReportJob::new(self.report.clone(), self.registered.clone());
        to_json(&job.run().await?)
    }
}
