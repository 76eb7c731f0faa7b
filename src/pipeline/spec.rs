//! The pipeline YAML as written. A step is `type`, an optional `name`, the connections its
//! kind uses ([`Connections`]) and the options of its operation, all side by side:
//!
//! ```yaml
//! - type: lake_sync
//!   name: mirror          # optional
//!   connection: hr        # the kind's connections
//!   to: ./lake            # the rest: lakeshift::lake::SyncOptions
//!   mode: merge
//! ```
//!
//! Step kinds are listed once, in the `steps!` invocation below; each kind's checks and run
//! live in a module of [`super::steps`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::steps::{
    Checker, CompareOptions, ImportStepOptions, QueryOptions, ReportStepOptions, RunContext, Spec,
    SqlScriptOptions,
};
use crate::backup::{BackupOptions, RestoreOptions};
use crate::cdc::CdcOptions;
use crate::error::Result;
use crate::lake::SyncOptions;
use crate::postgres::schema_copy::SchemaCopyOptions;
use crate::postgres::transfer::CopyOptions;

/// A whole pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Connection name -> Postgres URL (`${ENV}` and `${ENV:-default}` are expanded), or
    /// the URL with another database and whether to create it.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionSpec>,
    /// Table name -> `LOCATION[#FORMAT]`: the tables `query` and `report` steps (and
    /// `lakeshift sql --catalog`) can name.
    #[serde(default)]
    pub catalog: BTreeMap<String, String>,
    /// Each parsed on its own ([`StepSpec`]), so that every step's problems are reported.
    pub steps: Vec<serde_yaml::Value>,
}

/// A connection as written: a URL, or `{url, database, create_database}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ConnectionSpec {
    Url(String),
    Full(FullConnection),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullConnection {
    /// Empty: the `PG*` variables, else the default server.
    #[serde(default)]
    pub url: String,
    /// This database on the URL's server instead of the URL's own.
    pub database: Option<String>,
    /// Create the database when it is missing, before the first step runs.
    #[serde(default)]
    pub create_database: bool,
}

/// The registry of step kinds: `Variant(options type) = "yaml type"`. It defines
/// [`StepSpec`] and the matches that hand each kind to its [`StepKind`] implementation.
macro_rules! steps {
    ($($variant:ident($options:ty) = $kind:literal,)*) => {
        /// One step; `type` picks the kind.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "type")]
        pub enum StepSpec {
            $(#[serde(rename = $kind)] $variant(Spec<$options>),)*
        }

        impl StepSpec {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(StepSpec::$variant(_) => $kind,)*
                }
            }

            pub fn name(&self) -> Option<&str> {
                match self {
                    $(StepSpec::$variant(s) => s.name.as_deref(),)*
                }
            }

            /// The connection names the step uses before it runs (see [`StepKind::connects`]).
            pub fn connects(&self) -> Vec<&str> {
                match self {
                    $(StepSpec::$variant(s) => s.connects(),)*
                }
            }

            pub(crate) fn check(&mut self, checker: &mut Checker<'_>) {
                match self {
                    $(StepSpec::$variant(s) => s.check(checker),)*
                }
            }

            pub(crate) async fn run(&self, run: &RunContext<'_>) -> Result<serde_json::Value> {
                match self {
                    $(StepSpec::$variant(s) => s.run(run).await,)*
                }
            }
        }
    };
}

steps! {
    SchemaCopy(SchemaCopyOptions) = "schema_copy",
    SqlScript(SqlScriptOptions) = "sql_script",
    ImportCsv(ImportStepOptions) = "import_csv",
    TableCopy(CopyOptions) = "table_copy",
    Backup(BackupOptions) = "backup",
    Restore(RestoreOptions) = "restore",
    Compare(CompareOptions) = "compare",
    LakeSync(SyncOptions) = "lake_sync",
    Cdc(CdcOptions) = "cdc",
    Query(QueryOptions) = "query",
    Report(ReportStepOptions) = "report",
}
