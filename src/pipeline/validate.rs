//! Spec -> [`Pipeline`]: a pure check that collects every problem with its YAML path
//! (`steps[2].connection: unknown connection "tgt"`) instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::interpolate::expand;
use super::spec::{ConnectionSpec, PipelineSpec, StepSpec};
use super::steps::Checker;
use super::{NamedStep, Pipeline};
use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use crate::query::TableSource;

/// Read, expand, parse and check the pipeline at `path`.
pub fn load(path: &Path) -> Result<Pipeline> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
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
    let mut to_create = BTreeSet::new();
    for (name, written) in &spec.connections {
        let (url, database, create) = match written {
            ConnectionSpec::Url(url) => (url, None, false),
            ConnectionSpec::Full(full) => {
                (&full.url, full.database.as_deref(), full.create_database)
            }
        };
        let url = DbUrl::parse(url).and_then(|url| match database {
            Some(database) => url.with_database(database),
            None => Ok(url),
        });
        match url {
            Ok(url) => {
                connections.insert(name.clone(), url);
                if create {
                    to_create.insert(name.clone());
                }
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
    let mut steps = Vec::new();
    for (i, value) in spec.steps.into_iter().enumerate() {
        let at = format!("steps[{i}]");
        let mut step = match serde_yaml::from_value::<StepSpec>(value) {
            Ok(step) => step,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                continue;
            }
        };
        let mut checker = Checker {
            at,
            base,
            connections: &spec.connections,
            catalog: &catalog,
            problems,
        };
        step.check(&mut checker);
        let name = step
            .name()
            .map_or_else(|| format!("{} #{}", step.kind(), i + 1), str::to_string);
        steps.push(NamedStep { name, step });
    }
    let default_name = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    Pipeline {
        name: spec.name.unwrap_or(default_name),
        path: path.to_path_buf(),
        catalog,
        connections,
        to_create,
        steps,
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
            err.contains("connections.bad: invalid connection string"),
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
            matches!(&p.steps[0].step, StepSpec::ImportCsv(i) if i.options.demo.is_some_and(|d| d.rows == 5 && d.seed == 1))
        );
    }

    #[test]
    fn steps_take_their_operations_options_and_checks() {
        let p = check_text(
            "connections: {db: \"${URL}\"}\nsteps:\n  - type: lake_sync\n    connection: db\n    to: /tmp/lake\n    mode: merge\n    partitions: 4\n    schemas: [a, b]\n  - type: backup\n    connection: db\n    to: s3://bucket/x\n    s3: {endpoint: \"http://127.0.0.1:9\", allow_http: true}\n",
        )
        .unwrap();
        let StepSpec::LakeSync(sync) = &p.steps[0].step else {
            panic!("a lake_sync step: {:?}", p.steps[0]);
        };
        assert_eq!(
            sync.options.mode,
            crate::lake::SyncMode::Upsert,
            "merge is upsert"
        );
        assert_eq!(sync.options.read.partitions, 4);
        assert_eq!(sync.options.selection.schemas, ["a", "b"]);
        let StepSpec::Backup(backup) = &p.steps[1].step else {
            panic!("a backup step");
        };
        assert!(backup.options.s3.allow_http);

        let err = check_text(
            "connections: {db: \"${URL}\"}\nsteps:\n  - type: lake_sync\n    connection: db\n    to: ''\n    incremental_column: id\n    partitions: 0\n  - type: backup\n    connection: db\n    to: ftp://x\n    max_file_size: 0\n  - type: table_copy\n    source: db\n    target: db\n    tabels: [x]\n",
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "steps[0].to: a lake location is required",
            "steps[0].incremental_column: needs mode append or upsert",
            "steps[0].partitions: must be at least 1",
            "steps[1].to: ftp://x: unsupported scheme",
            "steps[1].max_file_size: must be at least 1 byte",
            "steps[2]: unknown field `tabels`",
        ] {
            assert!(err.contains(expected), "{expected:?} in {err}");
        }
    }
}
