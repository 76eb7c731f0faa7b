//! The `import_csv` kind: one file, a directory of `<table>.csv` files, or the generated HR
//! demo data set.

use std::path::PathBuf;

use serde::Deserialize;

use super::One;
use super::{Checker, RunContext, StepKind, to_json};
use crate::blocking::spawn_blocking;
use crate::error::{Error, Result};
use crate::import::{CsvImport, DirImport, ImportOptions};

/// Where an `import_csv` step's rows come from, and the import's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportStepOptions {
    /// A directory of `<table>.csv` files. Empty or absent with `demo`: generated demo data.
    pub dir: Option<PathBuf>,
    /// One file (with `table`) instead of a directory.
    pub file: Option<PathBuf>,
    pub table: Option<String>,
    /// Reject log of a single-file import (default beside the file).
    pub rejects: Option<PathBuf>,
    /// Generate the HR demo data set (used when `dir` is empty or absent).
    pub demo: Option<DemoSpec>,
    #[serde(flatten)]
    pub import: ImportOptions,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSpec {
    pub rows: u64,
    #[serde(default)]
    pub seed: u64,
}

/// The one source an `import_csv` step names.
enum Source<'a> {
    File { path: &'a PathBuf, table: &'a str },
    Dir(&'a PathBuf),
    Demo(DemoSpec),
}

impl ImportStepOptions {
    fn source(&self) -> Option<Source<'_>> {
        let dir = self.dir.as_ref().filter(|d| !d.as_os_str().is_empty());
        match (dir, &self.file, &self.table, self.demo) {
            (Some(dir), None, None, _) => Some(Source::Dir(dir)),
            (None, Some(path), Some(table), None) => Some(Source::File { path, table }),
            (None, None, None, Some(demo)) => Some(Source::Demo(demo)),
            _ => None,
        }
    }
}

impl StepKind for ImportStepOptions {
    type On = One;

    fn check(&mut self, checker: &mut Checker<'_>) {
        checker.options(&self.import);
        if self.dir.as_ref().is_some_and(|d| d.as_os_str().is_empty()) {
            self.dir = None;
        }
        if self.source().is_none() {
            if self.file.is_some() && self.table.is_none() {
                checker.problem("table", "a single-file import needs the table to load");
            } else {
                checker.problem(
                    "",
                    "give exactly one of `dir`, `file` with `table`, or `demo` (used when `dir` is empty)",
                );
            }
            return;
        }
        if let Some(dir) = &mut self.dir {
            checker.existing("dir", dir, true);
        }
        if let Some(file) = &mut self.file {
            checker.existing("file", file, false);
        }
        if let Some(rejects) = &mut self.rejects {
            *rejects = checker.base.join(&*rejects);
        }
    }

    async fn run(&self, on: &One, run: &RunContext<'_>) -> Result<serde_json::Value> {
        let target = run.url(&on.connection)?.clone();
        let dir = match self.source() {
            Some(Source::File { path, table }) => {
                let import = CsvImport::new(target, table, path, self.import.clone())
                    .with_rejects(self.rejects.clone())
                    .with_progress(run.progress());
                let summary = import.run().await?;
                tracing::info!("{summary}");
                return to_json(&[summary]);
            }
            Some(Source::Dir(dir)) => dir.clone(),
            Some(Source::Demo(demo)) => generate_demo(run, demo).await?,
            None => {
                return Err(Error::Internal {
                    task: "import_csv".into(),
                    reason: "the step's source was not checked".into(),
                });
            }
        };
        let summaries = DirImport::new(target, dir, self.import.clone())
            .with_progress(run.progress())
            .run()
            .await?;
        for summary in &summaries {
            tracing::info!("{summary}");
        }
        to_json(&summaries)
    }
}

/// Generate the HR demo data set into the run's work directory.
async fn generate_demo(run: &RunContext<'_>, demo: DemoSpec) -> Result<PathBuf> {
    let dir = run.work_dir().join("demo-data");
    let target = dir.clone();
    let generated = spawn_blocking("generating demo data", move || {
        crate::demo::generate(&target, demo.rows, demo.seed)
    })
    .await?;
    tracing::info!(rows = generated.hired_employees, dir = %dir.display(), "generated demo data");
    Ok(dir)
}
