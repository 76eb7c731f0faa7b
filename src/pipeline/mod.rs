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

use crate::backup::RestoreMode;
use crate::formats::csv::CsvOptions;
use crate::formats::{Compression, FileFormat};
use crate::lake::SyncMode;
use crate::postgres::DbUrl;
use crate::postgres::write::LoadMode;
use crate::query::{OutputFormat, TableSource};

pub use validate::load;

/// A checked pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub path: PathBuf,
    /// The tables of the `catalog:` section.
    pub catalog: Vec<TableSource>,
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
    Backup(BackupStep),
    Restore(RestoreStep),
    Compare {
        left: DbUrl,
        right: DbUrl,
        tables: Vec<String>,
    },
    LakeSync(LakeSyncStep),
    Query {
        file: PathBuf,
        output: String,
        format: OutputFormat,
        /// The catalog's tables and the step's own.
        tables: Vec<TableSource>,
    },
    Report {
        queries: Vec<PathBuf>,
        output: PathBuf,
        png_dir: Option<PathBuf>,
        title: Option<String>,
        tables: Vec<TableSource>,
    },
}

#[derive(Debug, Clone)]
pub struct LakeSyncStep {
    pub source: DbUrl,
    pub to: String,
    pub schemas: Vec<String>,
    pub tables: Vec<String>,
    pub mode: SyncMode,
    pub key: Vec<String>,
    pub incremental_column: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BackupStep {
    pub source: DbUrl,
    pub to: String,
    pub schemas: Vec<String>,
    pub tables: Vec<String>,
    pub format: FileFormat,
    pub compression: Option<Compression>,
    pub max_file_size: Option<u64>,
    pub verify: bool,
}

#[derive(Debug, Clone)]
pub struct RestoreStep {
    pub target: DbUrl,
    pub from: String,
    pub backup: Option<String>,
    pub tables: Vec<String>,
    pub into_schema: Option<String>,
    pub mode: RestoreMode,
    pub create_database: bool,
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
            Step::Backup(_) => "backup",
            Step::Restore(_) => "restore",
            Step::Compare { .. } => "compare",
            Step::LakeSync(_) => "lake_sync",
            Step::Query { .. } => "query",
            Step::Report { .. } => "report",
        }
    }

    /// The databases the step connects to (checked before any step runs). A database the
    /// step creates is not among them, and neither is a database an earlier step of the
    /// pipeline may create (it would not exist yet).
    pub fn connections(&self) -> Vec<&DbUrl> {
        match self {
            Step::SchemaCopy { source, target, .. } => vec![source, target],
            Step::SqlScript { connection, .. } => vec![connection],
            Step::ImportCsv(import) => vec![&import.target],
            Step::TableCopy { source, target, .. } => vec![source, target],
            Step::Backup(backup) => vec![&backup.source],
            Step::Restore(restore) if restore.create_database => vec![],
            Step::Restore(restore) => vec![&restore.target],
            Step::Compare { left, .. } => vec![left],
            Step::LakeSync(sync) => vec![&sync.source],
            // Their Postgres tables (if any) are reached when the step runs.
            Step::Query { .. } | Step::Report { .. } => vec![],
        }
    }
}
