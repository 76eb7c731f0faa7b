//! Declarative pipelines: a YAML file names connections and a list of steps. Loading parses
//! and validates it completely ([`validate`]); [`runner`] executes the steps in order and
//! writes a JSON run report ([`report`]).
//!
//! A step is its connections plus the options of its operation: the same options type the
//! CLI command builds from its flags. Step kinds are listed once, in [`spec`]; each kind's
//! checks and run live in [`steps`].

mod interpolate;
pub mod report;
pub mod runner;
pub mod spec;
pub mod steps;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::postgres::DbUrl;
use crate::query::TableSource;

pub use spec::StepSpec;
pub use validate::load;

/// A checked pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub path: PathBuf,
    /// The tables of the `catalog:` section.
    pub catalog: Vec<TableSource>,
    /// Connection name -> database.
    pub connections: BTreeMap<String, DbUrl>,
    /// The connections whose database is created when missing.
    pub to_create: BTreeSet<String>,
    pub steps: Vec<NamedStep>,
}

#[derive(Debug, Clone)]
pub struct NamedStep {
    pub name: String,
    pub step: StepSpec,
}
