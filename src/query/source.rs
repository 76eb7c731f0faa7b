//! A table to query, as the user names it: `NAME=LOCATION[#FORMAT]`.
//!
//! Formats: `delta` or `delta@VERSION`, `parquet`, `csv` (with a header line) or
//! `csv:noheader`, `avro`, `backup` or `backup:TABLE` (a lakeshift backup, by its manifest:
//! the backup directory itself or the backup root, whose newest complete backup is used),
//! `postgres` or `postgres:SCHEMA.TABLE` (a live table read by binary COPY). Without a
//! fragment the format is recognised: `postgres://` URLs, `.parquet`/`.csv`/`.avro` files,
//! and local directories holding a `_delta_log`, a backup manifest, or Parquet files.

use std::path::Path;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSource {
    /// The name SQL uses.
    pub name: String,
    /// A path or URL.
    pub location: String,
    /// As named by the `#FORMAT` fragment; `None`: recognised when the table is opened
    /// (it may not exist yet when a pipeline is checked).
    pub format: Option<SourceFormat>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFormat {
    Delta {
        version: Option<u64>,
    },
    Parquet,
    Csv {
        header: bool,
    },
    Avro,
    /// The backup's table (`None`: the source's name).
    Backup {
        table: Option<String>,
    },
    /// The database's table (`None`: the source's name).
    Postgres {
        table: Option<String>,
    },
}

impl TableSource {
    /// The format named, or else recognised from the location.
    pub fn resolved_format(&self) -> Result<SourceFormat> {
        match &self.format {
            Some(format) => Ok(format.clone()),
            None => recognise(&self.location),
        }
    }

    /// Parse `NAME=LOCATION[#FORMAT]`.
    pub fn parse(spec: &str) -> Result<TableSource> {
        let bad = |reason: &str| Error::Invalid(format!("--table {spec}: {reason}"));
        let (name, rest) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected NAME=LOCATION[#FORMAT]"))?;
        TableSource::new(name, rest).map_err(|e| match e {
            Error::Invalid(reason) => bad(&reason),
            other => other,
        })
    }

    /// The table `name` at `location` (`LOCATION[#FORMAT]`).
    pub fn new(name: &str, location: &str) -> Result<TableSource> {
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(Error::Invalid(format!(
                "table name {name:?}: use letters, digits and _"
            )));
        }
        let (location, fragment) = match location.rsplit_once('#') {
            Some((l, f)) => (l, Some(f)),
            None => (location, None),
        };
        if location.is_empty() {
            return Err(Error::Invalid("no location".into()));
        }
        let format = fragment.map(parse_format).transpose()?;
        Ok(TableSource {
            name: name.to_string(),
            location: location.to_string(),
            format,
        })
    }
}

/// `tables` followed by the `defaults` none of them overrides (by name).
pub fn with_defaults(mut tables: Vec<TableSource>, defaults: &[TableSource]) -> Vec<TableSource> {
    for source in defaults {
        if !tables.iter().any(|t| t.name == source.name) {
            tables.push(source.clone());
        }
    }
    tables
}

fn parse_format(fragment: &str) -> Result<SourceFormat> {
    let (kind, arg) = match fragment.split_once([':', '@']) {
        Some((k, a)) => (k, Some(a)),
        None => (fragment, None),
    };
    let format = match (kind, arg) {
        ("delta", None) => SourceFormat::Delta { version: None },
        ("delta", Some(v)) if fragment.contains('@') => {
            SourceFormat::Delta {
                version: Some(v.parse().map_err(|_| {
                    Error::Invalid(format!("#delta@{v}: a version is a whole number"))
                })?),
            }
        }
        ("parquet", None) => SourceFormat::Parquet,
        ("csv", None) => SourceFormat::Csv { header: true },
        ("csv", Some("noheader")) => SourceFormat::Csv { header: false },
        ("avro", None) => SourceFormat::Avro,
        ("backup", table) => SourceFormat::Backup {
            table: table.map(str::to_string),
        },
        ("postgres", table) => SourceFormat::Postgres {
            table: table.map(str::to_string),
        },
        _ => {
            return Err(Error::Invalid(format!(
                "unknown format #{fragment} (delta[@VERSION], parquet, csv[:noheader], avro, backup[:TABLE], postgres[:TABLE])"
            )));
        }
    };
    Ok(format)
}

/// The format a location's name or contents show.
fn recognise(location: &str) -> Result<SourceFormat> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return Ok(SourceFormat::Postgres { table: None });
    }
    let lower = location.to_ascii_lowercase();
    for (suffix, format) in [
        (".parquet", SourceFormat::Parquet),
        (".csv", SourceFormat::Csv { header: true }),
        (".avro", SourceFormat::Avro),
    ] {
        if lower.ends_with(suffix) {
            return Ok(format);
        }
    }
    if location.contains("://") && !location.starts_with("file://") {
        // Remote directories are not listed to guess: Delta is the usual one.
        return Ok(SourceFormat::Delta { version: None });
    }
    let dir = Path::new(location.trim_start_matches("file://"));
    if !dir.exists() {
        return Err(Error::Invalid(format!(
            "{location} does not exist (name its format with #FORMAT if it is remote)"
        )));
    }
    if dir.join("_delta_log").is_dir() {
        return Ok(SourceFormat::Delta { version: None });
    }
    if dir.join(crate::backup::manifest::MANIFEST).is_file() || has_backup(dir) {
        return Ok(SourceFormat::Backup { table: None });
    }
    if has_file_ending(dir, ".parquet") {
        return Ok(SourceFormat::Parquet);
    }
    if has_file_ending(dir, ".avro") {
        return Ok(SourceFormat::Avro);
    }
    Err(Error::Invalid(format!(
        "cannot tell the format of {location}: not a Delta table, backup, or directory of Parquet or Avro files (add #FORMAT)"
    )))
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn has_backup(dir: &Path) -> bool {
    entries(dir)
        .iter()
        .any(|p| p.join(crate::backup::manifest::MANIFEST).is_file())
}

fn has_file_ending(dir: &Path, suffix: &str) -> bool {
    entries(dir)
        .iter()
        .any(|p| p.to_string_lossy().to_ascii_lowercase().ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_name_formats_and_their_arguments() {
        let parse = |s: &str| TableSource::parse(s).unwrap().resolved_format().unwrap();
        assert_eq!(
            parse("t=x#delta@3"),
            SourceFormat::Delta { version: Some(3) }
        );
        assert_eq!(
            parse("t=x#csv:noheader"),
            SourceFormat::Csv { header: false }
        );
        assert_eq!(
            parse("t=dir#backup:public.jobs"),
            SourceFormat::Backup {
                table: Some("public.jobs".into())
            }
        );
        assert_eq!(
            parse("t=postgres://u@h/db"),
            SourceFormat::Postgres { table: None }
        );
        assert_eq!(parse("t=s3://b/x.parquet"), SourceFormat::Parquet);
        assert_eq!(
            parse("t=s3://b/lake/t"),
            SourceFormat::Delta { version: None }
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| TableSource::parse(s).unwrap_err().to_string();
        assert!(err("nothing").contains("expected NAME=LOCATION"));
        assert!(err("t=x#delta@v2").contains("a version is a whole number"));
        assert!(err("t=x#orc").contains("unknown format #orc"));
        assert!(err("a b=x#csv").contains("use letters, digits and _"));
        let missing = TableSource::parse("t=/no/such/dir").unwrap();
        let missing = missing.resolved_format().unwrap_err().to_string();
        assert!(missing.contains("does not exist"), "{missing}");
    }
}
