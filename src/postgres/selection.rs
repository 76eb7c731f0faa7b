//! What an operation reads from a database: schemas and tables chosen by name or pattern,
//! resolved against the catalog. One type, shared by every job that reads a database (copy,
//! backup, lake sync) and by `schema dump` / `copy` for its schemas.
//!
//! The default is pg_dump's: every schema but the system ones. A partitioned table is one
//! table (its partitions are read through it and are not listed unless named), and a
//! name given with `--exclude-table` / `--exclude-schema` is never read, so an object
//! lakeshift cannot handle never fails a command that leaves it out.

use serde::Deserialize;

use super::DbUrl;
use super::catalog::{Catalog, Table, split_name};
use crate::error::{Error, Result};
use crate::options::{Check, Problem};

/// The schema the single-table commands (`import csv`, the REST API) use when none is named.
pub const DEFAULT_SCHEMA: &str = "public";

/// Schemas to read, by name or pattern (`*` any characters, `?` one, as in pg_dump's `-n`).
/// In YAML, `schemas:` and `exclude_schemas:` beside a step's other options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SchemaScope {
    /// Every non-system schema when empty.
    pub schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
}

impl SchemaScope {
    /// Exactly these schemas.
    pub fn named<S: Into<String>>(schemas: impl IntoIterator<Item = S>) -> Self {
        SchemaScope {
            schemas: schemas.into_iter().map(Into::into).collect(),
            exclude_schemas: Vec::new(),
        }
    }

    /// The schemas of `url` this scope names, sorted; a name that is not a pattern must
    /// exist, and a pattern must match something.
    pub async fn resolve(&self, url: &DbUrl) -> Result<Vec<String>> {
        let existing = Catalog::user_schemas(url).await?;
        let mut chosen: Vec<String> = if self.schemas.is_empty() {
            existing.clone()
        } else {
            let mut chosen = Vec::new();
            for wanted in &self.schemas {
                let found: Vec<&String> = existing.iter().filter(|s| glob(wanted, s)).collect();
                if found.is_empty() {
                    return Err(Error::UnknownSchema {
                        schema: wanted.clone(),
                        url: url.redacted(),
                    });
                }
                chosen.extend(found.into_iter().cloned());
            }
            chosen
        };
        chosen.retain(|s| !self.exclude_schemas.iter().any(|p| glob(p, s)));
        chosen.sort();
        chosen.dedup();
        Ok(chosen)
    }

    /// The catalog of the chosen schemas.
    pub async fn load_catalog(&self, url: &DbUrl) -> Result<Catalog> {
        Catalog::load(url, &self.resolve(url).await?).await
    }
}

impl Check for SchemaScope {
    fn check(&self, problems: &mut Vec<Problem>) {
        if self.schemas.iter().any(|s| s.is_empty()) {
            problems.push(Problem::new("schemas", "a schema name is empty"));
        }
        if self.exclude_schemas.iter().any(|s| s.is_empty()) {
            problems.push(Problem::new("exclude_schemas", "a schema name is empty"));
        }
    }
}

/// Schemas and tables to read. In YAML, `schemas:`, `exclude_schemas:`, `tables:` and
/// `exclude_tables:` beside a step's other options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TableSelection {
    /// Schemas by name or pattern; every non-system schema when empty (see [`SchemaScope`]:
    /// its fields are spelled out here, as serde cannot flatten twice).
    pub schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    /// Only these tables (`table` or `schema.table`, or patterns of them); every table of
    /// the schemas when empty.
    pub tables: Vec<String>,
    /// Tables never read (names or patterns, like pg_dump's `-T`).
    pub exclude_tables: Vec<String>,
}

impl TableSelection {
    /// The schemas part of the selection.
    pub fn scope(&self) -> SchemaScope {
        SchemaScope {
            schemas: self.schemas.clone(),
            exclude_schemas: self.exclude_schemas.clone(),
        }
    }

    /// Load the catalog of the selected schemas.
    pub async fn load_catalog(&self, url: &DbUrl) -> Result<Catalog> {
        self.scope().load_catalog(url).await
    }

    /// The selected tables of `catalog`, parents and referenced tables first. A partition
    /// whose parent is in the catalog is read through it, so only a name (not a pattern)
    /// selects it alone. A name that matches nothing is an error (`url` says where it was
    /// looked for).
    pub fn resolve<'c>(&self, catalog: &'c Catalog, url: &DbUrl) -> Result<Vec<&'c Table>> {
        let through_parent = |t: &Table| {
            t.partition_of
                .as_ref()
                .is_some_and(|p| catalog.table_in(&p.parent.0, &p.parent.1).is_some())
        };
        let mut chosen: Vec<u32> = Vec::new();
        for wanted in &self.tables {
            if is_pattern(wanted) {
                let found: Vec<u32> = catalog
                    .tables
                    .iter()
                    .filter(|t| !through_parent(t) && table_matches(wanted, t))
                    .map(|t| t.oid)
                    .collect();
                if found.is_empty() {
                    return Err(Error::UnknownTable {
                        table: format!("{wanted} (no table matches)"),
                        url: url.redacted(),
                    });
                }
                chosen.extend(found);
            } else {
                let table = catalog.table(wanted).ok_or_else(|| Error::UnknownTable {
                    table: wanted.clone(),
                    url: url.redacted(),
                })?;
                chosen.push(table.oid);
            }
        }
        Ok(catalog
            .tables_in_fk_order()
            .into_iter()
            .filter(|t| {
                if self.tables.is_empty() {
                    !through_parent(t)
                } else {
                    chosen.contains(&t.oid)
                }
            })
            .filter(|t| !self.exclude_tables.iter().any(|p| table_matches(p, t)))
            .collect())
    }
}

impl Check for TableSelection {
    fn check(&self, problems: &mut Vec<Problem>) {
        self.scope().check(problems);
        if self.tables.iter().any(|t| t.is_empty()) {
            problems.push(Problem::new("tables", "a table name is empty"));
        }
        if self.exclude_tables.iter().any(|t| t.is_empty()) {
            problems.push(Problem::new("exclude_tables", "a table name is empty"));
        }
    }
}

fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?'])
}

/// `pattern` against a table: `schema.table` patterns match both parts, others the name.
fn table_matches(pattern: &str, table: &Table) -> bool {
    match split_name(pattern) {
        (Some(schema), name) => glob(&schema, &table.schema) && glob(&name, &table.name),
        (None, name) => glob(&name, &table.name),
    }
}

/// Shell-style match: `*` is any run of characters, `?` any one; nothing else is special.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Greedy match with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::{glob, split_name};

    #[test]
    fn names_split_as_pg_dump_reads_them() {
        let split = |s: &str| split_name(s);
        let some = |s: &str| Some(s.to_string());
        assert_eq!(split("jobs"), (None, "jobs".into()));
        assert_eq!(split("hr.jobs"), (some("hr"), "jobs".into()));
        assert_eq!(split(r#""../escaped""#), (None, "../escaped".into()));
        assert_eq!(
            split(r#"public."../escaped""#),
            (some("public"), "../escaped".into())
        );
        assert_eq!(
            split(r#""Odd Schema"."a.b""#),
            (some("Odd Schema"), "a.b".into())
        );
        assert_eq!(split(r#""say ""hi""""#), (None, r#"say "hi""#.into()));
        // Unquoted, the first dot separates (Catalog::table then tries the whole text).
        assert_eq!(split("../escaped"), (some(""), "./escaped".into()));
        // Not well-formed quoting: taken as written.
        assert_eq!(split(r#""open"#), (None, r#""open"#.into()));
        assert_eq!(split(r#"O"B"#), (None, r#"O"B"#.into()));
    }

    #[test]
    fn globs_match_as_in_a_shell() {
        assert!(glob("*", ""));
        assert!(glob("pay*", "payment_p2022_01"));
        assert!(glob("*_p2022_0?", "payment_p2022_01"));
        assert!(!glob("*_p2022_0?", "payment_p2022_10"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("über*", "übermensch"));
    }
}
