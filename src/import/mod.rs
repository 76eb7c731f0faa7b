//! Historical CSV import: a headerless (or headed) CSV file into an existing table, typed by
//! the table's columns, with a row-level reject log.
//!
//! One file loads in one transaction: the table is locked against concurrent writers, key
//! sets are read, the file is parsed on a blocking thread and streamed to binary COPY, and
//! the accepted rows commit together — or, past `--max-rejects` or on any error, not at all.

mod dir;
mod keys;

pub use dir::DirImport;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use tokio_postgres::Transaction;

use crate::blocking::{receiver_stream, spawn_blocking};
use crate::error::{Error, Result};
use crate::formats::csv::rejects::RejectLog;
use crate::formats::csv::{CsvOptions, TargetColumn, TypedCsvReader, read_header};
use crate::options::{Check, Problem};
use crate::postgres::catalog::{Catalog, Column, Table, split_name};
use crate::postgres::connect::{DbUrl, quote_ident};
use crate::postgres::load::Load;
use crate::postgres::selection::DEFAULT_SCHEMA;
use crate::postgres::server_rejects::{TAG_COLUMN, server_checks_rows};
use crate::postgres::types::{PgKind, arrow_field};
use crate::postgres::write::{self, LoadColumns, LoadMode};
use keys::{ForeignKeySpec, KeyChecker, KeySpec};

/// Rows per Arrow batch (and per COPY chunk).
pub const DEFAULT_BATCH_SIZE: usize = 64 * 1024;

/// The outcome of one file's import.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub file: PathBuf,
    pub table: String,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub rejects_file: Option<PathBuf>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -> {}: read {}, loaded {}, rejected {} in {:.2} s ({:.0} rows/s)",
            self.file.display(),
            self.table,
            self.rows_read,
            self.rows_loaded,
            self.rows_rejected,
            self.seconds,
            self.rows_per_second
        )?;
        if let Some(path) = &self.rejects_file {
            write!(f, "; rejects in {}", path.display())?;
        }
        Ok(())
    }
}

/// The options of a CSV import (YAML: the `import_csv` step beside its source).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportOptions {
    /// The schema of the tables: of a directory's `<table>.csv` files, and of a table named
    /// without one.
    pub schema: String,
    pub mode: LoadMode,
    /// More rejects than this in a file and nothing of it is committed.
    pub max_rejects: Option<u64>,
    pub csv: CsvOptions,
    /// Rows per Arrow batch (and per COPY chunk).
    #[serde(skip)]
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            schema: DEFAULT_SCHEMA.into(),
            mode: LoadMode::Append,
            max_rejects: None,
            csv: CsvOptions::default(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl Check for ImportOptions {
    fn check(&self, problems: &mut Vec<Problem>) {
        if self.schema.is_empty() {
            problems.push(Problem::new("schema", "a schema name is empty"));
        }
        if self.csv.delimiter == self.csv.quote {
            problems.push(Problem::new(
                "csv.quote",
                "the quote character cannot also be the delimiter",
            ));
        }
        if self.csv.max_record_bytes == 0 {
            problems.push(Problem::new("csv.max_record_bytes", "must be at least 1"));
        }
        if self.batch_size == 0 {
            problems.push(Problem::new("batch_size", "must be at least 1"));
        }
    }
}

/// Import one CSV file into one table.
#[derive(Debug, Clone)]
pub struct CsvImport {
    target: DbUrl,
    table: String,
    path: PathBuf,
    options: ImportOptions,
    rejects: Option<PathBuf>,
    progress: bool,
}

impl CsvImport {
    /// Load `path` into `table` (`table` or `schema.table`; the options' schema when
    /// unqualified).
    pub fn new(
        target: DbUrl,
        table: impl Into<String>,
        path: impl Into<PathBuf>,
        options: ImportOptions,
    ) -> Self {
        CsvImport {
            target,
            table: table.into(),
            path: path.into(),
            options,
            rejects: None,
            progress: false,
        }
    }

    /// Where rejects go (`.jsonl` for JSON Lines); default `<file>.rejects.csv`.
    pub fn with_rejects(mut self, path: Option<PathBuf>) -> Self {
        self.rejects = path;
        self
    }

    /// Draw a progress bar when stderr is a terminal.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Run the import.
    pub async fn run(self) -> Result<ImportSummary> {
        self.options.problems()?;
        let file = open(&self.path)?;
        let (schema, name) = split_name(&self.table);
        let schema = schema.unwrap_or_else(|| self.options.schema.clone());
        let qualified = format!("{}.{}", quote_ident(&schema), quote_ident(&name));
        let schemas = vec![schema];
        let catalog = Catalog::load(&self.target, &schemas).await?;
        let table = catalog
            .table(&qualified)
            .ok_or_else(|| Error::UnknownTable {
                table: self.table.clone(),
                url: self.target.redacted(),
            })?
            .clone();
        let started = Instant::now();
        let mut client = self.target.connect().await?;
        let load = Load::begin(&mut client, "the import").await?;
        let truncate = self.options.mode == LoadMode::Replace;
        let mut summary = self.load(&load, &catalog, &table, file, truncate).await?;
        load.commit(&format!("the import into {}", table.name))
            .await?;
        summary.set_elapsed(started);
        summary.warn_if_nothing_loaded();
        Ok(summary)
    }

    fn reader(
        &self,
        file: std::fs::File,
        targets: Vec<TargetColumn>,
    ) -> Result<TypedCsvReader<std::fs::File>> {
        let rejects = RejectLog::new(
            self.rejects
                .clone()
                .unwrap_or_else(|| RejectLog::default_path(&self.path)),
        )?;
        Ok(TypedCsvReader::new(
            file,
            self.path.clone(),
            self.options.csv.clone(),
            targets,
            rejects,
            self.options.max_rejects,
            self.options.batch_size,
        ))
    }

    /// Load the file into `table` as part of `load` (not committed here).
    pub(crate) async fn load(
        &self,
        load: &Load<'_>,
        catalog: &Catalog,
        table: &Table,
        file: std::fs::File,
        truncate: bool,
    ) -> Result<ImportSummary> {
        let started = Instant::now();
        let tx = load.tx();
        let mode = self.options.mode;
        let header = if self.options.csv.header {
            let names = read_header(open(&self.path)?, &self.options.csv)
                .map_err(|e| Error::io(&self.path, e))?;
            // An empty file has no header and nothing to load.
            Some(names).filter(|n| !n.is_empty())
        } else {
            None
        };
        let (mut columns, targets) = load_columns(catalog, table, header.as_deref())?;
        columns.tagged |= server_checks_rows(catalog, table);
        lock(tx, table, catalog).await?;
        if truncate {
            write::empty(tx, catalog, table).await?;
        }
        let checker = KeyChecker::prepare(tx, key_spec(table, &columns, mode)).await?;
        let bar = crate::progress::bytes_bar(
            file.metadata().map_or(0, |m| m.len()),
            &table.name,
            self.progress,
        );
        let mut reader = self.reader(file, targets)?;
        if columns.tagged {
            reader = reader.with_line_numbers(TAG_COLUMN);
        }
        let (batches, parse) = parse_in_background(reader, checker, bar.clone());
        let copied = load.table(catalog, table, &columns, mode, batches).await;
        let mut reader = parse.await?;
        bar.finish_and_clear();
        // The reject log is published whatever happens: it explains a failed load too. Late
        // rejects re-read the file, so this runs on the blocking pool.
        let late: Vec<_> = match &copied {
            Ok(outcome) => outcome
                .rejected
                .iter()
                .map(|r| (r.tag as u64, r.column.clone(), r.reason.clone()))
                .collect(),
            Err(_) => Vec::new(),
        };
        let (stats, rejects_file, late) = spawn_blocking("writing the reject log", move || {
            let late = reader.reject_late(&late);
            let stats = reader.stats();
            Ok((stats, reader.finish()?, late))
        })
        .await?;
        let loaded = copied?.rows;
        late?;
        let mut summary = ImportSummary {
            file: self.path.clone(),
            table: table.full_name(),
            rows_read: stats.rows_read,
            rows_loaded: loaded,
            rows_rejected: stats.rows_rejected,
            bytes: stats.bytes_read,
            seconds: 0.0,
            rows_per_second: 0.0,
            rejects_file,
        };
        summary.set_elapsed(started);
        Ok(summary)
    }
}

/// Parse on the blocking pool: batches come out of the returned stream (bounded, two in
/// flight; a parse error, such as too many rejects, ends it); the future gives the reader
/// back when parsing ends, its reject log not yet published.
fn parse_in_background(
    mut reader: TypedCsvReader<std::fs::File>,
    mut checker: KeyChecker,
    progress: indicatif::ProgressBar,
) -> (
    impl futures::Stream<Item = Result<RecordBatch>>,
    impl Future<Output = Result<TypedCsvReader<std::fs::File>>>,
) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
    let parse = spawn_blocking("parsing CSV", move || {
        loop {
            let next = reader.next_batch(&mut checker);
            let stats = reader.stats();
            progress.set_position(stats.bytes_read);
            progress.set_message(format!(
                "{} rows, {} rejected",
                stats.rows_read, stats.rows_rejected
            ));
            match next {
                Ok(Some(batch)) => {
                    if sender.blocking_send(Ok(batch)).is_err() {
                        break; // the writer stopped; its error is the one to report
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = sender.blocking_send(Err(e));
                    break;
                }
            }
        }
        Ok(reader)
    });
    (receiver_stream(receiver), parse)
}

impl ImportSummary {
    fn set_elapsed(&mut self, started: Instant) {
        self.seconds = started.elapsed().as_secs_f64();
        self.rows_per_second = self.rows_read as f64 / self.seconds.max(1e-9);
    }

    /// Every row rejected usually means the file went to the wrong table.
    fn warn_if_nothing_loaded(&self) {
        if self.rows_read > 0 && self.rows_loaded == 0 {
            tracing::warn!(
                "no row of {} was loaded: is {} the right table? (see the reject log)",
                self.file.display(),
                self.table
            );
        }
    }
}

pub(crate) fn open(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        let reason = "is a directory, not a CSV file";
        let err = std::io::Error::new(std::io::ErrorKind::IsADirectory, reason);
        return Err(Error::io(path, err));
    }
    Ok(file)
}

/// The columns a CSV fills and how each is parsed: all but generated ones, in table order,
/// or in the order of the file's header names.
fn load_columns(
    catalog: &Catalog,
    table: &Table,
    header: Option<&[String]>,
) -> Result<(LoadColumns, Vec<TargetColumn>)> {
    let enums = catalog.enum_labels();
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    let mut targets = Vec::new();
    let insertable: Vec<&Column> = table
        .columns
        .iter()
        .filter(|c| c.generated.is_none())
        .collect();
    let ordered = match header {
        Some(header) => by_header(table, &insertable, header)?,
        None => insertable,
    };
    for column in ordered {
        let kind = PgKind::of_text_input(column, &enums);
        names.push(column.name.clone());
        kinds.push(kind.clone());
        targets.push(TargetColumn {
            name: column.name.clone(),
            field: Arc::new(arrow_field(column, &kind)),
            kind,
            not_null: column.not_null,
        });
    }
    let tagged = kinds.iter().any(PgKind::needs_cast);
    Ok((
        LoadColumns {
            names,
            kinds,
            tagged,
        },
        targets,
    ))
}

/// The table's columns in the order a header names them: by exact name, else by a unique
/// case-insensitive match. An unknown, repeated or missing name is an error before loading.
fn by_header<'t>(
    table: &Table,
    insertable: &[&'t Column],
    header: &[String],
) -> Result<Vec<&'t Column>> {
    let mismatch = |reason: String| Error::Mismatch {
        table: table.full_name(),
        reason,
    };
    let all = || {
        insertable
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut ordered: Vec<&Column> = Vec::with_capacity(header.len());
    for name in header {
        let exact = insertable.iter().copied().find(|c| c.name == *name);
        let folded: Vec<&Column> = insertable
            .iter()
            .copied()
            .filter(|c| c.name.eq_ignore_ascii_case(name.trim()))
            .collect();
        let column = match (exact, folded.as_slice()) {
            (Some(c), _) | (None, &[c]) => c,
            (None, []) => {
                return Err(mismatch(format!(
                    "the header names {name:?}, which is not a column (the columns are {})",
                    all()
                )));
            }
            (None, _) => {
                return Err(mismatch(format!(
                    "the header's {name:?} matches several columns but none exactly"
                )));
            }
        };
        if ordered.iter().any(|c| c.name == column.name) {
            return Err(mismatch(format!("the header names {} twice", column.name)));
        }
        ordered.push(column);
    }
    let missing: Vec<&str> = insertable
        .iter()
        .filter(|c| !ordered.iter().any(|o| o.name == c.name))
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(mismatch(format!(
            "the header lacks the columns {}",
            missing.join(", ")
        )));
    }
    Ok(ordered)
}

/// Keep concurrent writers out of the table (and parent rows in place) until commit.
async fn lock(tx: &Transaction<'_>, table: &Table, catalog: &Catalog) -> Result<()> {
    let mut sql = format!(
        "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE;",
        table.qualified()
    );
    for fk in table.foreign_keys() {
        let (schema, parent, _) = fk.references.as_ref().expect("foreign keys reference");
        if (schema, parent) != (&table.schema, &table.name)
            && catalog.table_in(schema, parent).is_some()
        {
            sql.push_str(&format!(
                " LOCK TABLE {}.{} IN SHARE MODE;",
                quote_ident(schema),
                quote_ident(parent)
            ));
        }
    }
    tx.batch_execute(&sql)
        .await
        .map_err(|e| Error::pg(format!("locking {}", table.name), e))
}

fn key_spec<'a>(table: &'a Table, columns: &'a LoadColumns, mode: LoadMode) -> KeySpec<'a> {
    KeySpec {
        table: table.qualified(),
        label: &table.name,
        primary_key: table.primary_key(),
        foreign_keys: table
            .foreign_keys()
            .map(|fk| {
                let (schema, parent, parent_cols) =
                    fk.references.clone().expect("foreign keys reference");
                let self_reference = schema == table.schema && parent == table.name;
                let parent = format!("{}.{}", quote_ident(&schema), quote_ident(&parent));
                ForeignKeySpec {
                    name: fk.name.clone(),
                    columns: fk.columns.clone(),
                    parent,
                    parent_columns: parent_cols,
                    self_reference,
                }
            })
            .collect(),
        load_columns: &columns.names,
        kinds: &columns.kinds,
        against_existing: mode == LoadMode::Append,
    }
}
