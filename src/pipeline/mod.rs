//! Declarative pipelines: a YAML file names connections and a list of steps. Loading parses
//! and validates it completely ([`validate`]); [`runner`] executes the steps in order and
//! writes a JSON run report ([`report`]).
//!
//! Step kinds are listed once, in [`Step`]; adding one touches [`spec::StepSpec`], its
//! validation and its arm in the runner.

mod interpolate;
pub mod report;
pub mod runner;
pub mod spec;
pub mod validate;

use std::path::PathBuf;

use crate::formats::csv::CsvOptions;
use crate::postgres::DbUrl;
use crate::postgres::write::LoadMode;

pub use validate::load;

/// A checked pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub path: PathBuf,
    pub steps: Vec<NamedStep>,
}

#[derive(Debug, Clone)]
pub struct NamedStep {
    pub name: String,
    pub step: Step,
}

/// Every step kind.
#[derive(Debug, Clone)]
pub enum Step {
    SchemaCopy {
        source: DbUrl,
        target: DbUrl,
        schemas: Vec<String>,
    },
    SqlScript {
        connection: DbUrl,
        file: PathBuf,
    },
    ImportCsv(ImportStep),
    TableCopy {
        source: DbUrl,
        target: DbUrl,
        schemas: Vec<String>,
        tables: Vec<String>,
        mode: LoadMode,
    },
}

#[derive(Debug, Clone)]
pub struct ImportStep {
    pub target: DbUrl,
    pub source: ImportSource,
    pub schema: String,
    pub mode: LoadMode,
    pub max_rejects: Option<u64>,
    pub options: CsvOptions,
}

#[derive(Debug, Clone)]
pub enum ImportSource {
    File {
        path: PathBuf,
        table: String,
        rejects: Option<PathBuf>,
    },
    Dir(PathBuf),
    /// Generate the HR demo data set into the run's work directory, then import it.
    Demo {
        rows: u64,
        seed: u64,
    },
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::SchemaCopy { .. } => "schema_copy",
            Step::SqlScript { .. } => "sql_script",
            Step::ImportCsv(_) => "import_csv",
            Step::TableCopy { .. } => "table_copy",
        }
    }

    /// The databases the step connects to (checked before any step runs).
    pub fn connections(&self) -> Vec<&DbUrl> {
        match self {
            Step::SchemaCopy { source, target, .. } => vec![source, target],
            Step::SqlScript { connection, .. } => vec![connection],
            Step::ImportCsv(import) => vec![&import.target],
            Step::TableCopy { source, target, .. } => vec![source, target],
        }
    }
}
