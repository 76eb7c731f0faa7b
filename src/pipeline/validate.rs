//! Spec -> [`Pipeline`]: a pure check that collects every problem with its YAML path
//! (`steps[2].connection: unknown connection "tgt"`) instead of stopping at the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::interpolate::expand;
use super::spec::{ImportCsvSpec, PipelineSpec, StepSpec};
use super::{
    BackupStep, ImportSource, ImportStep, LakeSyncStep, NamedStep, Pipeline, RestoreStep, Step,
};
use crate::error::{Error, Result};
use crate::formats::csv::CsvOptions;
use crate::lake::SyncMode;
use crate::postgres::DbUrl;
use crate::query::{OutputFormat, TableSource, with_defaults};
use crate::storage::{Location, S3Options};

/// Read, expand, parse and check the pipeline at `path`.
pub fn load(path: &Path) -> Result<Pipeline> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
    from_str(&text, path, &|name| std::env::var(name).ok())
}

/// Check a pipeline given as text (`path` locates relative files and names it in errors).
pub fn from_str(text: &str, path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Pipeline> {
    let invalid = |problems: Vec<String>| Error::InvalidPipeline {
        path: path.to_path_buf(),
        problems: problems.join("\n"),
    };
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| invalid(vec![e.to_string()]))?;
    let mut problems = Vec::new();
    expand(&mut value, "", env, &mut problems);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let spec: PipelineSpec =
        serde_yaml::from_value(value).map_err(|e| invalid(vec![e.to_string()]))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let pipeline = check(spec, path, &base, &mut problems);
    if problems.is_empty() {
        Ok(pipeline)
    } else {
        Err(invalid(problems))
    }
}

fn check(spec: PipelineSpec, path: &Path, base: &Path, problems: &mut Vec<String>) -> Pipeline {
    let mut connections = BTreeMap::new();
    for (name, url) in &spec.connections {
        match DbUrl::parse(url) {
            Ok(url) => {
                connections.insert(name.clone(), url);
            }
            Err(e) => problems.push(format!("connections.{name}: {e}")),
        }
    }
    if spec.steps.is_empty() {
        problems.push("steps: a pipeline needs at least one step".into());
    }
    let mut catalog = Vec::new();
    for (name, location) in &spec.catalog {
        match TableSource::new(name, location) {
            Ok(source) => catalog.push(source),
            Err(e) => problems.push(format!("catalog.{name}: {e}")),
        }
    }
    let mut ctx = Ctx {
        connections: &spec.connections,
        parsed: &connections,
        catalog: &catalog,
        base,
        problems,
    };
    let steps = spec
        .steps
        .into_iter()
        .enumerate()
        .filter_map(|(i, step)| ctx.step(&format!("steps[{i}]"), i, step))
        .collect();
    let default_name = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    Pipeline {
        name: spec.name.unwrap_or(default_name),
        path: path.to_path_buf(),
        catalog,
        steps,
    }
}

struct Ctx<'a> {
    connections: &'a BTreeMap<String, String>,
    parsed: &'a BTreeMap<String, DbUrl>,
    catalog: &'a [TableSource],
    base: &'a Path,
    problems: &'a mut Vec<String>,
}

impl Ctx<'_> {
    fn problem(&mut self, at: &str, message: impl std::fmt::Display) {
        self.problems.push(format!("{at}: {message}"));
    }

    fn connection(&mut self, at: &str, name: &str) -> Option<DbUrl> {
        if let Some(url) = self.parsed.get(name) {
            return Some(url.clone());
        }
        if !self.connections.contains_key(name) {
            let known: Vec<&String> = self.connections.keys().collect();
            self.problem(
                at,
                format!("unknown connection {name:?} (defined: {known:?})"),
            );
        }
        None
    }

    /// Check a storage URL's form (the location itself is reached when the step runs).
    fn location(&mut self, at: &str, url: &str) {
        if let Err(e) = Location::parse(url, &S3Options::default()) {
            self.problem(at, e);
        }
    }

    fn existing(&mut self, at: &str, file: &str, want_dir: bool) -> Option<PathBuf> {
        let path = self.base.join(file);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() == want_dir => Some(path),
            Ok(_) => {
                self.problem(
                    at,
                    format!(
                        "{} is not a {}",
                        path.display(),
                        if want_dir { "directory" } else { "file" }
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(at, format!("{}: {e}", path.display()));
                None
            }
        }
    }

    fn step(&mut self, at: &str, index: usize, spec: StepSpec) -> Option<NamedStep> {
        let (name, step) = match spec {
            StepSpec::SchemaCopy(s) => {
                let source = self.connection(&format!("{at}.source"), &s.source);
                let target = self.connection(&format!("{at}.target"), &s.target);
                if s.schemas.is_empty() {
                    self.problem(&format!("{at}.schemas"), "name at least one schema");
                }
                (
                    s.name,
                    Step::SchemaCopy {
                        source: source?,
                        target: target?,
                        schemas: s.schemas,
                    },
                )
            }
            StepSpec::SqlScript(s) => {
                let connection = self.connection(&format!("{at}.connection"), &s.connection);
                let file = self.existing(&format!("{at}.file"), &s.file, false);
                (
                    s.name,
                    Step::SqlScript {
                        connection: connection?,
                        file: file?,
                    },
                )
            }
            StepSpec::ImportCsv(s) => (s.name.clone(), Step::ImportCsv(self.import(at, s)?)),
            StepSpec::TableCopy(s) => {
                let source = self.connection(&format!("{at}.source"), &s.source);
                let target = self.connection(&format!("{at}.target"), &s.target);
                let step = Step::TableCopy {
                    source: source?,
                    target: target?,
                    schemas: s.schemas,
                    tables: s.tables,
                    mode: s.mode,
                };
                (s.name, step)
            }
            StepSpec::Backup(s) => {
                let source = self.connection(&format!("{at}.connection"), &s.connection);
                self.location(&format!("{at}.to"), &s.to);
                if s.max_file_size == Some(0) {
                    self.problem(&format!("{at}.max_file_size"), "must be at least 1 byte");
                }
                let step = Step::Backup(BackupStep {
                    source: source?,
                    to: s.to,
                    schemas: s.schemas,
                    tables: s.tables,
                    format: s.format,
                    compression: s.compression,
                    max_file_size: s.max_file_size,
                    verify: s.verify,
                });
                (s.name, step)
            }
            StepSpec::Restore(s) => {
                let target = self.connection(&format!("{at}.connection"), &s.connection);
                self.location(&format!("{at}.from"), &s.from);
                let step = Step::Restore(RestoreStep {
                    target: target?,
                    from: s.from,
                    backup: s.backup,
                    tables: s.tables,
                    into_schema: s.into_schema,
                    mode: s.mode,
                    create_database: s.create_database,
                });
                (s.name, step)
            }
            StepSpec::LakeSync(s) => {
                let source = self.connection(&format!("{at}.connection"), &s.connection);
                if s.incremental_column.is_some() && s.mode == SyncMode::Overwrite {
                    self.problem(
                        &format!("{at}.incremental_column"),
                        "needs mode append or merge",
                    );
                }
                let step = Step::LakeSync(LakeSyncStep {
                    source: source?,
                    to: s.to,
                    schemas: s.schemas,
                    tables: s.tables,
                    mode: s.mode,
                    key: s.key,
                    incremental_column: s.incremental_column,
                });
                (s.name, step)
            }
            StepSpec::Query(s) => {
                let file = self.existing(&format!("{at}.file"), &s.file, false);
                let tables = self.tables(&format!("{at}.tables"), &s.tables);
                let format = s.format.or_else(|| OutputFormat::of_path(&s.output));
                if format.is_none() {
                    self.problem(
                        &format!("{at}.format"),
                        "give a format (table, csv, json, parquet) or an output with one of their extensions",
                    );
                }
                let step = Step::Query {
                    file: file?,
                    output: s.output,
                    format: format?,
                    tables,
                };
                (s.name, step)
            }
            StepSpec::Report(s) => {
                if s.queries.is_empty() {
                    self.problem(&format!("{at}.queries"), "name at least one SQL file");
                }
                let queries: Vec<Option<PathBuf>> = s
                    .queries
                    .iter()
                    .enumerate()
                    .map(|(i, q)| self.existing(&format!("{at}.queries[{i}]"), q, false))
                    .collect();
                let tables = self.tables(&format!("{at}.tables"), &s.tables);
                let step = Step::Report {
                    queries: queries.into_iter().collect::<Option<_>>()?,
                    output: PathBuf::from(s.output),
                    png_dir: s.png_dir.map(PathBuf::from),
                    title: s.title,
                    tables,
                };
                (s.name, step)
            }
            StepSpec::Compare(s) => {
                let left = self.connection(&format!("{at}.left"), &s.left);
                let right = self.connection(&format!("{at}.right"), &s.right);
                if s.tables.is_empty() {
                    self.problem(&format!("{at}.tables"), "name at least one table");
                }
                let step = Step::Compare {
                    left: left?,
                    right: right?,
                    tables: s.tables,
                };
                (s.name, step)
            }
        };
        Some(NamedStep {
            name: name.unwrap_or_else(|| format!("{} #{}", step.kind(), index + 1)),
            step,
        })
    }

    /// The catalog's tables with `extra` added (an extra one replaces a catalog one).
    fn tables(&mut self, at: &str, extra: &BTreeMap<String, String>) -> Vec<TableSource> {
        let mut tables: Vec<TableSource> = Vec::new();
        for (name, location) in extra {
            match TableSource::new(name, location) {
                Ok(source) => tables.push(source),
                Err(e) => self.problem(&format!("{at}.{name}"), e),
            }
        }
        with_defaults(tables, self.catalog)
    }

    fn import(&mut self, at: &str, s: ImportCsvSpec) -> Option<ImportStep> {
        let target = self.connection(&format!("{at}.connection"), &s.connection);
        let dir = s.dir.filter(|d| !d.is_empty());
        let source = match (dir, s.file, s.table, s.demo) {
            (Some(dir), None, None, _) => {
                ImportSource::Dir(self.existing(&format!("{at}.dir"), &dir, true)?)
            }
            (None, Some(file), Some(table), None) => ImportSource::File {
                path: self.existing(&format!("{at}.file"), &file, false)?,
                table,
                rejects: s.rejects.map(|r| self.base.join(r)),
            },
            (None, None, None, Some(demo)) => ImportSource::Demo {
                rows: demo.rows,
                seed: demo.seed,
            },
            (None, Some(_), None, _) => {
                self.problem(
                    &format!("{at}.table"),
                    "a single-file import needs the table to load",
                );
                return None;
            }
            _ => {
                self.problem(at, "give exactly one of `dir`, `file` with `table`, or `demo` (used when `dir` is empty)");
                return None;
            }
        };
        let delimiter = self.ascii(&format!("{at}.csv.delimiter"), s.csv.delimiter, b',');
        let quote = self.ascii(&format!("{at}.csv.quote"), s.csv.quote, b'"');
        let options = CsvOptions {
            delimiter,
            quote,
            header: s.csv.header,
            null_string: s.csv.null_string,
        };
        Some(ImportStep {
            target: target?,
            source,
            schema: s.schema,
            mode: s.mode,
            max_rejects: s.max_rejects,
            options,
        })
    }

    fn ascii(&mut self, at: &str, c: Option<char>, default: u8) -> u8 {
        match c {
            None => default,
            Some(c) if c.is_ascii() && c != '\n' && c != '\r' => c as u8,
            Some(c) => {
                self.problem(
                    at,
                    format!("{c:?} must be one ASCII character other than a newline"),
                );
                default
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(yaml: &str) -> Result<Pipeline> {
        let dir = std::env::temp_dir();
        from_str(yaml, &dir.join("p.yaml"), &|name| {
            (name == "URL").then(|| "postgres://u@h/db".to_string())
        })
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let err = check_text(
            "connections:\n  db: ${URL}\n  bad: mysql://x\nsteps:\n  - type: sql_script\n    connection: dbx\n    file: nope.sql\n  - type: import_csv\n    connection: db\n    file: x.csv\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("connections.bad: invalid database URL"),
            "{err}"
        );
        assert!(
            err.contains("steps[0].connection: unknown connection \"dbx\""),
            "{err}"
        );
        assert!(err.contains("steps[0].file:"), "{err}");
        assert!(
            err.contains("steps[1].table: a single-file import needs the table"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let err = check_text("steps:\n  - type: sql_scrpt\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `sql_scrpt`"), "{err}");
        let err = check_text("connections: {db: \"${URL}\"}\nsteps:\n  - type: import_csv\n    connection: db\n    demo: {rows: 5}\n    colour: red\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn a_valid_pipeline_resolves_connections_and_demo_data() {
        let p = check_text("connections: {db: \"${URL}\"}\nsteps:\n  - type: import_csv\n    connection: db\n    dir: ''\n    demo: {rows: 5, seed: 1}\n").unwrap();
        assert_eq!(p.name, "p");
        assert!(
            matches!(&p.steps[0].step, Step::ImportCsv(i) if matches!(i.source, ImportSource::Demo { rows: 5, seed: 1 }))
        );
    }
}
