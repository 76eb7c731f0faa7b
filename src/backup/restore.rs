//! `lakeshift restore`: a backup back into Postgres, all or nothing. Missing tables are
//! created from the manifest's DDL; rows go in through binary COPY; keys, foreign keys,
//! indexes and sequence positions follow the rows; every file's checksum and every table's
//! row count are checked before the one transaction commits.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use futures::{Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::inspect::{check_file, open};
use super::manifest::{DatabaseSchema, Manifest, TableEntry};
use crate::error::{Error, Result};
use crate::formats::READ_BATCH_ROWS;
use crate::options::{Check, Problem};
use crate::postgres::DbUrl;
use crate::postgres::catalog::{Catalog, Placement, Table};
use crate::postgres::cluster::{
    check_roles, check_tablespaces, missing_roles, missing_roles_error,
};
use crate::postgres::connect::{quote_ident, quote_literal};
use crate::postgres::ddl::{
    SESSION_SETTINGS, access_statements, event_triggers, placement_statements,
};
use crate::postgres::load::Load;
use crate::postgres::read::{conform, read_columns, read_schema};
use crate::postgres::types::PgKind;
use crate::postgres::write::{LoadColumns, LoadMode};
use crate::storage::encryption::FileCipher;
use crate::storage::{Location, S3Options, check_location};

/// What a restore does with a table that already exists in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreMode {
    /// Refuse to touch an existing table (nothing is written).
    #[default]
    FailIfExists,
    /// Empty it first (same transaction), then load.
    #[serde(alias = "overwrite")]
    Replace,
    /// Add the backup's rows to it.
    Append,
}

impl crate::options::Choice for RestoreMode {
    const NAMES: &'static [&'static str] = &["fail-if-exists", "replace", "append"];
    const ALIASES: &'static [(&'static str, &'static str)] = &[("overwrite", "replace")];
}

/// The options of a restore (YAML: the `restore` step beside `connection`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreOptions {
    /// The backup location, as given to a backup's `to`.
    pub from: String,
    /// The backup id; the newest complete backup when `None` or `latest`.
    pub backup: Option<String>,
    /// Only these tables (`table` or `schema.table`); all of the backup's when empty.
    pub tables: Vec<String>,
    /// Put every table in this schema instead of its own.
    pub into_schema: Option<String>,
    pub mode: RestoreMode,
    /// Only plan: check everything, write nothing.
    pub dry_run: bool,
    /// Create the target database first if it does not exist (a dry run plans as if it
    /// were created, empty).
    pub create_database: bool,
    /// Only the backup's whole schema, no rows (pg_restore --schema-only).
    pub schema_only: bool,
    /// Only rows, into tables that exist already (pg_restore --data-only): no DDL.
    pub data_only: bool,
    /// A whole-schema restore leaves owners out: objects belong to whoever restores (as
    /// pg_restore -O); grants and policies naming a role the target lacks are left out with
    /// a warning instead of failing the restore.
    pub no_owner: bool,
    /// A whole-schema restore leaves privileges and default privileges out (pg_restore -x).
    pub no_privileges: bool,
    /// Leave tablespaces out: every table and index goes to the target's default one
    /// (pg_restore --no-tablespaces); otherwise a tablespace the target lacks is an error.
    pub no_tablespaces: bool,
    pub s3: S3Options,
}

impl RestoreOptions {
    /// Restore the newest complete backup at `from`, with every other option at its default.
    pub fn from(from: impl Into<String>) -> Self {
        RestoreOptions {
            from: from.into(),
            ..RestoreOptions::default()
        }
    }
}

impl Check for RestoreOptions {
    fn check(&self, problems: &mut Vec<Problem>) {
        check_location("from", &self.from, &self.s3, problems);
        if self.into_schema.as_deref() == Some("") {
            problems.push(Problem::new("into_schema", "a schema name is empty"));
        }
        if self.schema_only && self.data_only {
            problems.push(Problem::new(
                "schema_only",
                "schema_only and data_only exclude each other",
            ));
        }
        if self.schema_only && (!self.tables.is_empty() || self.into_schema.is_some()) {
            problems.push(Problem::new(
                "schema_only",
                "a schema-only restore recreates the whole schema: it takes no tables or into_schema",
            ));
        }
    }
}

/// Restore a backup into a database.
#[derive(Debug, Clone)]
pub struct RestoreJob {
    target: DbUrl,
    options: RestoreOptions,
    progress: bool,
}

/// The plan of a restore, and after a real one, what it did.
#[derive(Debug, Clone, Serialize)]
pub struct RestorePlan {
    pub backup_id: String,
    pub target: String,
    pub dry_run: bool,
    pub tables: Vec<PlannedTable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedTable {
    /// `schema.table` in the target.
    pub table: String,
    pub action: TableAction,
    pub rows: u64,
    pub files: usize,
    pub seconds: f64,
}

/// What a restore does to one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableAction {
    /// It does not exist: create it from the manifest's DDL.
    Create,
    /// Empty it, then load.
    Replace,
    /// Load into it as it is.
    Append,
}

impl std::fmt::Display for TableAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            TableAction::Create => "create",
            TableAction::Replace => "replace",
            TableAction::Append => "append",
        })
    }
}

impl RestorePlan {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

impl RestoreJob {
    pub fn new(target: DbUrl, options: RestoreOptions) -> Self {
        RestoreJob {
            target,
            options,
            progress: false,
        }
    }

    /// Draw a progress bar per table when stderr is a terminal.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    pub async fn run(self) -> Result<RestorePlan> {
        self.options.problems()?;
        let options = &self.options;
        let from = Location::parse(&options.from, &options.s3)?;
        let manifest = open(&from, options.backup.as_deref()).await?;
        manifest.file_cipher()?; // an encrypted backup without its key: refused before anything
        let entries = self.select(&manifest)?;
        let names = SchemaNames::new(&entries, options.into_schema.as_deref());
        let target_schemas = names.targets();
        let missing_database = options.create_database && !self.target.database_exists().await?;
        if missing_database && !options.dry_run {
            self.target.create_database().await?;
        }
        let existing = if missing_database && options.dry_run {
            Catalog::default()
        } else {
            Catalog::load_existing(&self.target, &target_schemas).await?
        };
        let mut plan = RestorePlan {
            backup_id: manifest.backup_id.clone(),
            target: self.target.redacted(),
            dry_run: options.dry_run,
            tables: Vec::new(),
        };
        for entry in &entries {
            let qualified = names.table(entry);
            let (schema, name) = names.target(entry);
            let action = match (existing.table_in(&schema, &name), options.mode) {
                (None, _) if options.data_only => {
                    return Err(Error::Invalid(format!(
                        "table {qualified} does not exist in {} (a data-only restore loads into existing tables)",
                        self.target.redacted()
                    )));
                }
                (Some(twin), RestoreMode::FailIfExists) if options.data_only => {
                    check_shape(entry, twin, &names)?;
                    TableAction::Append
                }
                (None, _) => TableAction::Create,
                (Some(_), RestoreMode::FailIfExists) => {
                    return Err(Error::option(
                        "mode",
                        format!(
                            "table {qualified} already exists in {} (restore with mode replace or append, or into another schema)",
                            self.target.redacted()
                        ),
                    ));
                }
                (Some(twin), mode) => {
                    check_shape(entry, twin, &names)?;
                    if mode == RestoreMode::Replace {
                        TableAction::Replace
                    } else {
                        TableAction::Append
                    }
                }
            };
            plan.tables.push(PlannedTable {
                table: qualified,
                action,
                rows: if options.schema_only { 0 } else { entry.rows },
                files: entry.files.len(),
                seconds: 0.0,
            });
        }
        let whole = self.whole_schema(&manifest, &plan);
        if options.schema_only && whole.is_none() {
            return Err(Error::Invalid(format!(
                "backup {} holds no whole schema to restore alone: it was taken with --tables or \
                 --exclude-table, or its tables exist in {} already",
                manifest.backup_id,
                self.target.redacted()
            )));
        }
        let check = !(missing_database && options.dry_run);
        let access = match whole {
            Some(schema) => self.access(schema, check).await?,
            None => Vec::new(),
        };
        let mut placements: Vec<Placement> = match whole {
            Some(schema) => schema.placements.clone(),
            None => (entries.iter().zip(&plan.tables))
                .filter(|(_, t)| t.action == TableAction::Create && !options.data_only)
                .flat_map(|(entry, _)| entry.ddl.placements.iter().cloned())
                .collect(),
        };
        if check {
            check_tablespaces(&mut placements, &self.target, options.no_tablespaces).await?;
        }
        if options.dry_run {
            return Ok(plan);
        }
        let dir = from.child(&manifest.backup_id);
        let around = AroundRows { placements, access };
        self.load(&dir, &manifest, &entries, &names, &around, &mut plan)
            .await?;
        Ok(plan)
    }

    /// The statements that give a whole-schema restore its policies, owners and privileges,
    /// then its event triggers, without what `no_owner` and `no_privileges` leave out. With
    /// `check`, the roles they name must exist in the target (under `no_owner`, what names a
    /// missing one is left out with a warning).
    async fn access(&self, schema: &DatabaseSchema, check: bool) -> Result<Vec<String>> {
        let Some(access) = &schema.access else {
            // An older manifest: its post-data section holds these statements.
            let missing = if check {
                missing_roles(&self.target, &schema.roles).await?
            } else {
                Default::default()
            };
            return match missing.is_empty() {
                true => Ok(Vec::new()),
                false => Err(missing_roles_error(&missing, &self.target)),
            };
        };
        let mut access = access.clone();
        if self.options.no_owner {
            access.without_owners();
        }
        if self.options.no_privileges {
            access.without_privileges();
        }
        if check {
            check_roles(&mut access, &self.target, self.options.no_owner).await?;
        }
        let mut statements = access_statements(&access);
        statements.extend(event_triggers(&schema.event_triggers, &access));
        Ok(statements)
    }

    /// The backup's whole schema, when the whole backup goes into a database without its
    /// tables: it is recreated around the rows. Otherwise each table's own DDL is.
    fn whole_schema<'m>(
        &self,
        manifest: &'m Manifest,
        plan: &RestorePlan,
    ) -> Option<&'m DatabaseSchema> {
        manifest.database.as_ref().filter(|_| {
            !self.options.data_only
                && self.options.tables.is_empty()
                && self.options.into_schema.is_none()
                && plan.tables.iter().all(|t| t.action == TableAction::Create)
        })
    }

    /// The manifest's tables this restore takes, in the manifest's (foreign-key) order.
    fn select<'m>(&self, manifest: &'m Manifest) -> Result<Vec<&'m TableEntry>> {
        let tables = &self.options.tables;
        for name in tables {
            if !manifest.tables.iter().any(|t| matches(t, name)) {
                return Err(Error::Invalid(format!(
                    "table {name} is not in backup {}",
                    manifest.backup_id
                )));
            }
        }
        Ok(manifest
            .tables
            .iter()
            .filter(|t| tables.is_empty() || tables.iter().any(|n| matches(t, n)))
            .collect())
    }

    async fn load(
        &self,
        dir: &Location,
        manifest: &Manifest,
        entries: &[&TableEntry],
        names: &SchemaNames,
        around: &AroundRows,
        plan: &mut RestorePlan,
    ) -> Result<()> {
        let (before_rows, after_rows): (Vec<_>, Vec<_>) =
            around.placements.iter().partition(|p| p.before_rows());
        let whole = self.whole_schema(manifest, plan);
        let cipher = manifest.file_cipher()?;
        let mut client = self.target.connect().await?;
        let load = Load::begin(&mut client, "the restore").await?;
        let tx = load.tx();
        for setting in SESSION_SETTINGS {
            tx.batch_execute(setting)
                .await
                .map_err(|e| Error::pg("preparing the restore", e))?;
        }
        let actions: Vec<TableAction> = plan.tables.iter().map(|t| t.action).collect();
        let created = |i: usize| actions[i] == TableAction::Create;
        if let Some(schema) = whole {
            run_all(tx, &schema.sections.pre_data, names, "the schema").await?;
        }
        for (i, entry) in entries.iter().enumerate() {
            if created(i) && whole.is_none() {
                run_all(tx, &entry.ddl.create, names, &entry.qualified()).await?;
            }
        }
        let moves = placement_statements(before_rows);
        run_all(tx, &moves, names, "the tablespaces").await?;
        let catalog = Catalog::load_in(tx, &self.target, &names.targets()).await?;
        let table_of = |entry: &TableEntry| {
            let (schema, name) = names.target(entry);
            catalog
                .table_in(&schema, &name)
                .ok_or_else(|| Error::Internal {
                    task: "restoring".into(),
                    reason: format!("{schema}.{name} missing after its creation"),
                })
        };
        let replaced = entries
            .iter()
            .zip(&plan.tables)
            .filter(|(_, t)| t.action == TableAction::Replace)
            .map(|(entry, _)| table_of(entry))
            .collect::<Result<Vec<_>>>()?;
        load.truncate(&catalog, &replaced).await?;
        let with_rows = !self.options.schema_only;
        for (i, entry) in entries.iter().enumerate().filter(|_| with_rows) {
            let started = Instant::now();
            let table = table_of(entry)?;
            let (columns, schema) = load_columns(&catalog, table, entry)?;
            let bar = crate::progress::rows_bar(entry.rows, &entry.name, self.progress);
            let counter = bar.clone();
            let checks = Checksums::default();
            let batches = file_batches(dir, entry, manifest, schema, &checks, cipher.clone())
                .inspect_ok(move |b| counter.inc(b.num_rows() as u64));
            let rows = load
                .table(&catalog, table, &columns, LoadMode::Append, batches)
                .await?
                .rows;
            bar.finish_and_clear();
            checks.wait().await?;
            if rows != entry.rows {
                return Err(Error::Mismatch {
                    table: entry.qualified(),
                    reason: format!(
                        "{rows} rows restored, the manifest records {}; nothing was committed",
                        entry.rows
                    ),
                });
            }
            plan.tables[i].seconds = started.elapsed().as_secs_f64();
            tracing::info!(table = %names.table(entry), rows, "restored");
        }
        // After the rows: keys, indexes, views (materialized ones computed from the rows),
        // triggers, then policies, owners and privileges, and event triggers last.
        if let Some(schema) = whole {
            run_all(tx, &schema.sections.post_data, names, "the schema").await?;
        }
        let own_ddl = |i: usize| created(i) && whole.is_none();
        for (i, entry) in entries.iter().enumerate() {
            if own_ddl(i) {
                run_all(tx, &entry.ddl.constraints, names, &entry.qualified()).await?;
            }
        }
        for (i, entry) in entries.iter().enumerate() {
            if own_ddl(i) {
                run_all(tx, &entry.ddl.foreign_keys, names, &entry.qualified()).await?;
                run_all(tx, &entry.ddl.indexes, names, &entry.qualified()).await?;
            }
            if with_rows {
                set_sequences(tx, entry, names, actions[i]).await?;
            }
        }
        let moves = placement_statements(after_rows);
        run_all(tx, &moves, names, "the tablespaces").await?;
        run_all(tx, &around.access, names, "the schema").await?;
        load.commit(&format!("the restore into {}", self.target))
            .await
    }
}

/// What a restore applies around the rows beside the DDL: the tablespaces the target has
/// (tables' before the rows, indexes' after them), then the access statements.
struct AroundRows {
    placements: Vec<Placement>,
    access: Vec<String>,
}

/// Whether manifest table `t` is the one `name` (`table` or `schema.table`) designates.
fn matches(t: &TableEntry, name: &str) -> bool {
    match name.split_once('.') {
        Some((schema, table)) => t.schema == schema && t.name == table,
        None => t.name == name,
    }
}

async fn run_all(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &[String],
    names: &SchemaNames,
    table: &str,
) -> Result<()> {
    for statement in statements {
        tx.batch_execute(&names.rewrite(statement))
            .await
            .map_err(|e| {
                let head = statement.lines().next().unwrap_or_default().trim();
                Error::pg(format!("recreating {table} (`{head}`)"), e)
            })?;
    }
    Ok(())
}

/// The load columns (the manifest's, in file order) and the Arrow schema batches must have.
fn load_columns(
    catalog: &Catalog,
    table: &Table,
    entry: &TableEntry,
) -> Result<(LoadColumns, arrow::datatypes::SchemaRef)> {
    let columns = read_columns(catalog, table);
    let mut chosen = Vec::with_capacity(entry.columns.len());
    for column in &entry.columns {
        let found = columns.iter().find(|(c, _)| c.name == column.name);
        let Some((c, kind)) = found else {
            return Err(Error::Mismatch {
                table: table.full_name(),
                reason: format!("has no column {}", column.name),
            });
        };
        // A column the backup carried as text (it held values its Arrow type cannot carry).
        let kind = match kind {
            kind if column.arrow_type == "Utf8" && kind.arrow_type() != DataType::Utf8 => {
                PgKind::CastText
            }
            kind => kind.clone(),
        };
        chosen.push((*c, kind));
    }
    let schema = read_schema(&chosen);
    Ok((
        LoadColumns {
            names: chosen.iter().map(|(c, _)| c.name.clone()).collect(),
            kinds: chosen.into_iter().map(|(_, k)| k).collect(),
            tagged: false,
        },
        schema,
    ))
}

/// Checksum checks running beside the decoding of the same files.
#[derive(Default, Clone)]
struct Checksums(Arc<Mutex<Vec<JoinHandle<Result<()>>>>>);

impl Checksums {
    fn push(&self, check: JoinHandle<Result<()>>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(check);
    }

    async fn wait(&self) -> Result<()> {
        let checks = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        for check in checks {
            check.await.map_err(|e| Error::Internal {
                task: "checking a file".into(),
                reason: e.to_string(),
            })??;
        }
        Ok(())
    }
}

/// The rows of `entry`'s files, one file after the other, cast to `schema`; each file's
/// checksum is checked beside its decoding.
fn file_batches(
    dir: &Location,
    entry: &TableEntry,
    manifest: &Manifest,
    schema: arrow::datatypes::SchemaRef,
    checks: &Checksums,
    cipher: Option<FileCipher>,
) -> impl Stream<Item = Result<RecordBatch>> + Send + 'static {
    let (dir, format, checks) = (dir.clone(), manifest.file_format, checks.clone());
    let table = entry.qualified();
    futures::stream::iter(entry.files.clone())
        .then(move |file| {
            let (dir, checks, schema, table, cipher) = (
                dir.clone(),
                checks.clone(),
                schema.clone(),
                table.clone(),
                cipher.clone(),
            );
            async move {
                let check_dir = dir.clone();
                let check_file_entry = file.clone();
                checks.push(tokio::spawn(async move {
                    check_file(&check_dir, &check_file_entry).await
                }));
                let batches = format
                    .read(&dir, &file.path, READ_BATCH_ROWS, cipher.as_ref())
                    .await?;
                let url = dir.describe(&file.path);
                Ok::<_, Error>(batches.map(move |batch| {
                    let batch = batch.map_err(Error::from)?;
                    conform(&batch, &schema, &table).map_err(|e| Error::Storage {
                        url: url.clone(),
                        reason: e.to_string(),
                    })
                }))
            }
        })
        .try_flatten()
}

/// Check that an existing table can take the backup's rows: the same columns, same types.
fn check_shape(entry: &TableEntry, twin: &Table, names: &SchemaNames) -> Result<()> {
    let shape_error = |detail: String| Error::Mismatch {
        table: format!("table {}", twin.full_name()),
        reason: format!(
            "exists with another shape than in the backup: {detail}; nothing was written"
        ),
    };
    for column in &entry.columns {
        let pg_type = names.rewrite(&column.pg_type);
        match twin.column(&column.name) {
            None => return Err(shape_error(format!("it has no column {}", column.name))),
            Some(c) if c.type_sql != pg_type => {
                return Err(shape_error(format!(
                    "column {} is {} there and {pg_type} in the backup",
                    column.name, c.type_sql
                )));
            }
            Some(_) => {}
        }
    }
    let stored = |name: &str| entry.columns.iter().any(|c| c.name == name);
    if let Some(extra) = twin
        .columns
        .iter()
        .find(|c| c.generated.is_none() && !stored(&c.name))
    {
        return Err(shape_error(format!(
            "it has a column {} the backup does not",
            extra.name
        )));
    }
    Ok(())
}

/// Put the sequences behind a created or replaced table where the snapshot had them (the
/// load moved them past the largest id, which is what an append keeps).
async fn set_sequences(
    tx: &tokio_postgres::Transaction<'_>,
    entry: &TableEntry,
    names: &SchemaNames,
    action: TableAction,
) -> Result<()> {
    if action == TableAction::Append {
        return Ok(());
    }
    for sequence in &entry.sequences {
        let name = names.rewrite(&sequence.name);
        tx.query(
            "SELECT setval($1::text::regclass, $2, $3)",
            &[&name, &sequence.last_value, &sequence.is_called],
        )
        .await
        .map_err(|e| Error::pg(format!("setting sequence {name}"), e))?;
    }
    Ok(())
}

/// Where each backed-up schema goes (`--into-schema`), and DDL rewritten accordingly.
struct SchemaNames {
    /// `(from, to)` for every schema of the restored tables.
    renames: Vec<(String, String)>,
}

impl SchemaNames {
    fn new(entries: &[&TableEntry], into: Option<&str>) -> Self {
        let mut renames: Vec<(String, String)> = Vec::new();
        for entry in entries {
            if !renames.iter().any(|(from, _)| *from == entry.schema) {
                let to = into.unwrap_or(&entry.schema).to_string();
                renames.push((entry.schema.clone(), to));
            }
        }
        SchemaNames { renames }
    }

    fn targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = self.renames.iter().map(|(_, to)| to.clone()).collect();
        targets.dedup();
        targets
    }

    /// `(schema, table)` of `entry` in the target.
    fn target(&self, entry: &TableEntry) -> (String, String) {
        let schema = self
            .renames
            .iter()
            .find(|(from, _)| *from == entry.schema)
            .map_or(&entry.schema, |(_, to)| to);
        (schema.clone(), entry.name.clone())
    }

    /// `schema.table` of `entry` in the target, as shown.
    fn table(&self, entry: &TableEntry) -> String {
        let (schema, name) = self.target(entry);
        format!("{schema}.{name}")
    }

    /// `sql` with names qualified by a renamed schema moved to its new one. The DDL comes from
    /// the catalog with every name schema-qualified, so the qualifier is what moves.
    fn rewrite(&self, sql: &str) -> String {
        let mut sql = sql.to_string();
        for (from, to) in self.renames.iter().filter(|(from, to)| from != to) {
            sql = replace_qualifier(
                &sql,
                &format!("{}.", quote_ident(from)),
                &format!("{}.", quote_ident(to)),
            );
            sql = sql.replace(
                &format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(from)),
                &format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(to)),
            );
            sql = sql.replace(
                &format!("nspname = {}", quote_literal(from)),
                &format!("nspname = {}", quote_literal(to)),
            );
        }
        sql
    }
}

/// Replace `from` (`schema.`) where it starts a name: not preceded by an identifier
/// character, so `public.` does not match inside `mypublic.`.
fn replace_qualifier(sql: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(from) {
        let before = if at > 0 {
            rest[..at].chars().last()
        } else {
            out.chars().last()
        };
        out.push_str(&rest[..at]);
        let starts_name = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'));
        out.push_str(if starts_name { to } else { from });
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_move_only_where_a_name_starts() {
        assert_eq!(
            replace_qualifier(
                "CREATE TABLE public.t (a int DEFAULT nextval('public.s'::regclass), b mypublic.x)",
                "public.",
                "restored."
            ),
            "CREATE TABLE restored.t (a int DEFAULT nextval('restored.s'::regclass), b mypublic.x)"
        );
        assert_eq!(replace_qualifier("public.a", "public.", "x."), "x.a");
    }
}
