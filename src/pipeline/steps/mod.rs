//! What each step kind does in a pipeline: its checks beyond its options' own, and its run,
//! which calls the same library function as the kind's CLI command. One module per group
//! of kinds, as in `cli/`; the kinds themselves are listed in [`super::spec`].

mod backup;
mod connections;
mod import;
mod lake;
mod postgres;
mod query;

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{DeserializeOwned, Error as _};

pub use connections::{Connections, LeftRight, NoConnection, One, SourceTarget};
pub use import::ImportStepOptions;
pub use postgres::{CompareOptions, SqlScriptOptions};
pub use query::{QueryOptions, ReportStepOptions};

use crate::error::{Error, Result};
use crate::options::Check;
use crate::postgres::DbUrl;
use crate::query::{TableSource, with_defaults};

/// A step kind: the options of its operation, the connections it names, how it is checked
/// and run. Dispatched statically from [`super::spec::StepSpec`], never as a trait object.
#[allow(async_fn_in_trait)]
pub trait StepKind: DeserializeOwned + std::fmt::Debug + Clone {
    type On: Connections;

    /// Check what the options' own [`Check`] cannot (files, the catalog) and resolve paths
    /// against the pipeline's folder.
    fn check(&mut self, checker: &mut Checker<'_>);

    /// The connections reached before any step runs. A database the step creates is not
    /// among them, and neither is one an earlier step may create.
    fn connects<'a>(&self, on: &'a Self::On) -> Vec<&'a str> {
        on.names().into_iter().map(|(_, name)| name).collect()
    }

    /// Run the step; its JSON output goes into the run report.
    async fn run(&self, on: &Self::On, run: &RunContext<'_>) -> Result<serde_json::Value>;
}

/// One step of a kind: its name, the connections it uses, the options of its operation.
#[derive(Debug, Clone)]
pub struct Spec<O: StepKind> {
    pub name: Option<String>,
    pub on: O::On,
    pub options: O,
}

/// `name` and the connection keys are taken out of the step's mapping; the rest is the
/// operation's options (which refuse unknown fields).
impl<'de, O: StepKind> Deserialize<'de> for Spec<O> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let mut fields = serde_yaml::Mapping::deserialize(de)?;
        let name = match fields.remove("name") {
            None | Some(serde_yaml::Value::Null) => None,
            Some(value) => Some(String::deserialize(value).map_err(D::Error::custom)?),
        };
        let mut connections = serde_yaml::Mapping::new();
        for key in <O::On as Connections>::KEYS {
            if let Some(value) = fields.remove(*key) {
                connections.insert((*key).into(), value);
            }
        }
        let on = O::On::deserialize(serde_yaml::Value::Mapping(connections))
            .map_err(D::Error::custom)?;
        let options =
            O::deserialize(serde_yaml::Value::Mapping(fields)).map_err(D::Error::custom)?;
        Ok(Spec { name, on, options })
    }
}

impl<O: StepKind> Spec<O> {
    pub(crate) fn connects(&self) -> Vec<&str> {
        self.options.connects(&self.on)
    }

    pub(crate) fn check(&mut self, checker: &mut Checker<'_>) {
        for (key, name) in self.on.names() {
            checker.connection(key, name);
        }
        self.options.check(checker);
    }

    pub(crate) async fn run(&self, run: &RunContext<'_>) -> Result<serde_json::Value> {
        self.options.run(&self.on, run).await
    }
}

/// What a step's check can look at, and where its problems go (`steps[2].to: ...`).
pub struct Checker<'a> {
    pub(crate) at: String,
    pub(crate) base: &'a Path,
    pub(crate) connections: &'a BTreeMap<String, crate::pipeline::spec::ConnectionSpec>,
    pub(crate) catalog: &'a [TableSource],
    pub(crate) problems: &'a mut Vec<String>,
}

impl Checker<'_> {
    /// A problem with `option` of this step (the step as a whole when `option` is empty).
    pub fn problem(&mut self, option: &str, message: impl Display) {
        let at = if option.is_empty() {
            self.at.clone()
        } else {
            format!("{}.{option}", self.at)
        };
        self.problems.push(format!("{at}: {message}"));
    }

    /// The problems of a library options type, each under its option.
    pub fn options(&mut self, options: &impl Check) {
        let mut found = Vec::new();
        options.check(&mut found);
        for problem in found {
            self.problem(&problem.option, problem.message);
        }
    }

    fn connection(&mut self, key: &str, name: &str) {
        if !self.connections.contains_key(name) {
            let known: Vec<&String> = self.connections.keys().collect();
            self.problem(
                key,
                format!("unknown connection {name:?} (defined: {known:?})"),
            );
        }
    }

    /// `path` made relative to the pipeline's folder, checked to be a file (or directory).
    pub fn existing(&mut self, option: &str, path: &mut PathBuf, want_dir: bool) {
        *path = self.base.join(&*path);
        match std::fs::metadata(&*path) {
            Ok(m) if m.is_dir() == want_dir => {}
            Ok(_) => {
                let kind = if want_dir { "directory" } else { "file" };
                let message = format!("{} is not a {kind}", path.display());
                self.problem(option, message);
            }
            Err(e) => {
                let message = format!("{}: {e}", path.display());
                self.problem(option, message);
            }
        }
    }

    /// The catalog's tables with `extra` added (an extra one replaces a catalog one).
    pub fn tables(&mut self, option: &str, extra: &BTreeMap<String, String>) -> Vec<TableSource> {
        let mut tables: Vec<TableSource> = Vec::new();
        for (name, location) in extra {
            match TableSource::new(name, location) {
                Ok(source) => tables.push(source),
                Err(e) => self.problem(&format!("{option}.{name}"), e),
            }
        }
        with_defaults(tables, self.catalog)
    }
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where generated data and other run files go.
    pub work_dir: PathBuf,
    pub progress: bool,
}

/// What a running step can use.
pub struct RunContext<'a> {
    pub(crate) urls: &'a BTreeMap<String, DbUrl>,
    pub(crate) options: &'a RunOptions,
}

impl RunContext<'_> {
    /// The database of connection `name` (checked to exist when the pipeline was loaded).
    pub fn url(&self, name: &str) -> Result<&DbUrl> {
        self.urls.get(name).ok_or_else(|| Error::Internal {
            task: "running a step".into(),
            reason: format!("connection {name} was not checked"),
        })
    }

    pub fn progress(&self) -> bool {
        self.options.progress
    }

    pub fn work_dir(&self) -> &Path {
        &self.options.work_dir
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(value)?)
}
