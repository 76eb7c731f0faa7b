//! The Postgres-to-Postgres kinds: `schema_copy`, `sql_script`, `table_copy`, `compare`.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Checker, RunContext, StepKind, to_json};
use super::{LeftRight, One, SourceTarget};
use crate::error::Result;
use crate::postgres::compare::compare_tables;
use crate::postgres::schema_copy::{self, SchemaCopyOptions};
use crate::postgres::sql_file;
use crate::postgres::transfer::{CopyOptions, TableCopy};

impl StepKind for SchemaCopyOptions {
    type On = SourceTarget;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.options(self);
    }

    async fn run(&self, on: &SourceTarget, run: &RunContext<'_>) -> Result<serde_json::Value> {
        let (source, target) = (run.url(&on.source)?, run.url(&on.target)?);
        to_json(&schema_copy::copy(source, target, self).await?)
    }
}

impl StepKind for CopyOptions {
    type On = SourceTarget;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.options(self);
    }

    async fn run(&self, on: &SourceTarget, run: &RunContext<'_>) -> Result<serde_json::Value> {
        let (source, target) = (run.url(&on.source)?, run.url(&on.target)?);
        let copy = TableCopy::new(source.clone(), target.clone(), self.clone());
        to_json(&copy.with_progress(run.progress()).run().await?)
    }
}

/// `sql_script`: run a `.sql` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlScriptOptions {
    /// The `.sql` file, relative to the pipeline file.
    pub file: PathBuf,
}

impl StepKind for SqlScriptOptions {
    type On = One;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.existing("file", &mut self.file, false);
    }

    async fn run(&self, on: &One, run: &RunContext<'_>) -> Result<serde_json::Value> {
        sql_file::run_file(run.url(&on.connection)?, &self.file).await?;
        Ok(serde_json::json!({ "file": self.file }))
    }
}

/// `compare`: the same rows in both databases, or an error naming the first table that differs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareOptions {
    /// `table` or `schema.table`.
    pub tables: Vec<String>,
}

impl StepKind for CompareOptions {
    type On = LeftRight;

    fn check(&mut self, checker: &mut Checker<'_>) {
        if self.tables.is_empty() {
            checker.problem("tables", "name at least one table");
        }
    }

    /// Only `left` is reached beforehand: `right` is often the database a restore creates.
    fn connects<'a>(&self, on: &'a LeftRight) -> Vec<&'a str> {
        vec![&on.left]
    }

    async fn run(&self, on: &LeftRight, run: &RunContext<'_>) -> Result<serde_json::Value> {
        let (left, right) = (run.url(&on.left)?, run.url(&on.right)?);
        to_json(&compare_tables(left, right, &self.tables).await?)
    }
}
