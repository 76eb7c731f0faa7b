//! The pipeline YAML as written: serde structs, nothing checked yet beyond shape.
//! [`super::validate`] turns a spec into a runnable [`super::Pipeline`].

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::backup::RestoreMode;
use crate::formats::{Compression, FileFormat};
use crate::lake::SyncMode;
use crate::postgres::write::LoadMode;
use crate::query::OutputFormat;

/// A whole pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Connection name -> Postgres URL (`${ENV}` and `${ENV:-default}` are expanded).
    #[serde(default)]
    pub connections: BTreeMap<String, String>,
    /// Table name -> `LOCATION[#FORMAT]`: the tables `query` and `report` steps (and
    /// `lakeshift sql --catalog`) can name.
    #[serde(default)]
    pub catalog: BTreeMap<String, String>,
    pub steps: Vec<StepSpec>,
}

/// One step; `type` picks the kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepSpec {
    SchemaCopy(SchemaCopySpec),
    SqlScript(SqlScriptSpec),
    ImportCsv(ImportCsvSpec),
    TableCopy(TableCopySpec),
    Backup(BackupSpec),
    Restore(RestoreSpec),
    Compare(CompareSpec),
    LakeSync(LakeSyncSpec),
    Query(QuerySpec),
    Report(ReportSpec),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeSyncSpec {
    pub name: Option<String>,
    /// The database to read.
    pub connection: String,
    /// The lake root: a directory or s3:// URL.
    pub to: String,
    #[serde(default = "default_schemas")]
    pub schemas: Vec<String>,
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default)]
    pub mode: SyncMode,
    #[serde(default)]
    pub key: Vec<String>,
    pub incremental_column: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    pub name: Option<String>,
    /// The SQL file, relative to the pipeline file.
    pub file: String,
    /// Where the result goes (path or URL).
    pub output: String,
    /// Default: from the output's extension.
    pub format: Option<OutputFormat>,
    /// Tables beside the pipeline's catalog.
    #[serde(default)]
    pub tables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    pub name: Option<String>,
    /// SQL files, relative to the pipeline file.
    pub queries: Vec<String>,
    /// The HTML page to write.
    pub output: String,
    /// Also write each chart as a PNG file here.
    pub png_dir: Option<String>,
    pub title: Option<String>,
    /// Tables beside the pipeline's catalog.
    #[serde(default)]
    pub tables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    pub name: Option<String>,
    /// The database to back up.
    pub connection: String,
    /// A directory, file://, s3:// or memory:// URL.
    pub to: String,
    #[serde(default = "default_schemas")]
    pub schemas: Vec<String>,
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default)]
    pub format: FileFormat,
    pub compression: Option<Compression>,
    pub max_file_size: Option<u64>,
    /// Re-read the backup after writing it (`backup verify`).
    #[serde(default)]
    pub verify: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreSpec {
    pub name: Option<String>,
    /// The database to restore into.
    pub connection: String,
    /// The backup location.
    pub from: String,
    /// A backup id or `latest`.
    pub backup: Option<String>,
    #[serde(default)]
    pub tables: Vec<String>,
    pub into_schema: Option<String>,
    #[serde(default)]
    pub mode: RestoreMode,
    /// Create the target database first if it does not exist.
    #[serde(default)]
    pub create_database: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    pub name: Option<String>,
    pub left: String,
    pub right: String,
    /// `table` or `schema.table`.
    pub tables: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableCopySpec {
    pub name: Option<String>,
    pub source: String,
    pub target: String,
    #[serde(default = "default_schemas")]
    pub schemas: Vec<String>,
    /// Only these tables; all tables of the schemas when absent.
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default)]
    pub mode: LoadMode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaCopySpec {
    pub name: Option<String>,
    pub source: String,
    pub target: String,
    #[serde(default = "default_schemas")]
    pub schemas: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlScriptSpec {
    pub name: Option<String>,
    pub connection: String,
    /// Path of the .sql file, relative to the pipeline file.
    pub file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCsvSpec {
    pub name: Option<String>,
    pub connection: String,
    /// A directory of `<table>.csv` files. Empty or absent with `demo`: generated demo data.
    pub dir: Option<String>,
    /// One file (with `table`) instead of a directory.
    pub file: Option<String>,
    pub table: Option<String>,
    #[serde(default = "default_schema")]
    pub schema: String,
    #[serde(default)]
    pub mode: LoadMode,
    pub max_rejects: Option<u64>,
    /// Reject log of a single-file import (default beside the file).
    pub rejects: Option<String>,
    #[serde(default)]
    pub csv: CsvSpec,
    /// Generate the HR demo data set when no `dir` is given.
    pub demo: Option<DemoSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSpec {
    #[serde(default)]
    pub header: bool,
    pub delimiter: Option<char>,
    pub quote: Option<char>,
    pub null_string: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSpec {
    pub rows: u64,
    #[serde(default)]
    pub seed: u64,
}

fn default_schemas() -> Vec<String> {
    vec![default_schema()]
}

fn default_schema() -> String {
    "public".into()
}
