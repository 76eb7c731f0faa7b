//! Which tables of a database an operation reads: one type, resolved against the catalog,
//! shared by every job that reads a database (copy, backup, lake sync).

use serde::Deserialize;

use super::DbUrl;
use super::catalog::{Catalog, Table};
use crate::error::{Error, Result};
use crate::options::{Check, Problem};

/// The schema read when a selection names none.
pub const DEFAULT_SCHEMA: &str = "public";

/// `schemas`, or [`DEFAULT_SCHEMA`] when it names none: the one rule for every option that
/// lists schemas.
pub fn schemas_or_default(schemas: &[String]) -> Vec<String> {
    if schemas.is_empty() {
        vec![DEFAULT_SCHEMA.to_string()]
    } else {
        schemas.to_vec()
    }
}

/// Schemas and tables to read. In YAML, `schemas:` and `tables:` beside a step's other options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TableSelection {
    /// Schemas whose tables are read; `public` when empty.
    pub schemas: Vec<String>,
    /// Only these tables (`table` or `schema.table`); every table of the schemas when empty.
    pub tables: Vec<String>,
}

impl TableSelection {
    /// The schemas to load from the catalog.
    pub fn schemas(&self) -> Vec<String> {
        schemas_or_default(&self.schemas)
    }

    /// Load the catalog of the selected schemas.
    pub async fn load_catalog(&self, url: &DbUrl) -> Result<Catalog> {
        Catalog::load(url, &self.schemas()).await
    }

    /// The selected tables of `catalog`, in foreign-key order; a named table that does not
    /// exist is an error (`url` says where it was looked for).
    pub fn resolve<'c>(&self, catalog: &'c Catalog, url: &DbUrl) -> Result<Vec<&'c Table>> {
        let mut chosen = Vec::with_capacity(self.tables.len());
        for name in &self.tables {
            let table = catalog.table(name).ok_or_else(|| Error::UnknownTable {
                table: name.clone(),
                url: url.redacted(),
            })?;
            chosen.push(table.oid);
        }
        Ok(catalog
            .tables_in_fk_order()
            .into_iter()
            .filter(|t| self.tables.is_empty() || chosen.contains(&t.oid))
            .collect())
    }
}

impl Check for TableSelection {
    fn check(&self, problems: &mut Vec<Problem>) {
        if self.schemas.iter().any(|s| s.is_empty()) {
            problems.push(Problem::new("schemas", "a schema name is empty"));
        }
        if self.tables.iter().any(|t| t.is_empty()) {
            problems.push(Problem::new("tables", "a table name is empty"));
        }
    }
}
