//! One Delta table fed by the stream: its columns as the lake holds them, the changes not
//! yet applied (one per key: the last wins), and applying them as one Delta merge whose
//! commit records the stream position (see [`super::position`]).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, lit, when};
use datafusion::prelude::SessionContext;
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::transaction::TransactionError;
use deltalake::{DeltaTable, DeltaTableError};

use super::pgoutput::{Field as Sent, Relation, Tuple};
use super::position::Position;
use super::rows::{Cell, column};
use crate::error::{Error, Result};
use crate::lake::schema::{delta_type, to_delta};
use crate::lake::sync::quoted;
use crate::lake::{delta_error, writer_properties};
use crate::postgres::catalog::Table;
use crate::postgres::types::{PG_TYPE_KEY, PgKind};

const DELETED: &str = "__lakeshift_deleted";
const KEEP: &str = "__lakeshift_keep_";

/// A column of the lake's table.
#[derive(Debug, Clone)]
pub struct LakeColumn {
    pub name: String,
    pub kind: PgKind,
    /// The type values are built in before the conversion to the lake's type.
    pub read_type: DataType,
    /// The lake's field (Delta-compatible type, the Postgres type in its metadata).
    pub field: Field,
}

/// The source's view of a relation: which lake column each of its columns feeds.
#[derive(Debug, Clone, PartialEq)]
struct Mapping {
    /// Per relation column, the lake column index.
    columns: Vec<usize>,
    /// Lake column indexes of the replica identity key.
    key: Vec<usize>,
    /// Per relation column, its type and modifier.
    types: Vec<(u32, i32)>,
}

enum Pending {
    Upsert(Vec<Cell>),
    Delete(Vec<Cell>),
}

pub struct Mirror {
    pub table: Table,
    pub label: String,
    delta: DeltaTable,
    slot: String,
    /// What the lake's own log says it holds.
    pub position: Position,
    columns: Vec<LakeColumn>,
    /// The lake has no column of these yet: the next merge adds them.
    added: bool,
    mapping: Option<Mapping>,
    pending: HashMap<Vec<u8>, Pending>,
    pending_bytes: usize,
    /// Changes folded into `pending` (several may land on one key).
    pending_changes: u64,
    /// Changes applied by this process.
    pub applied: u64,
}

impl Mirror {
    /// The mirror of `table` in `delta` (which holds its initial copy and a position).
    pub fn open(table: Table, delta: DeltaTable, slot: &str, position: Position) -> Result<Self> {
        let label = table.full_name();
        let schema: Schema = delta
            .snapshot()
            .map_err(|e| delta_error(&label, e))?
            .schema()
            .as_ref()
            .try_into_arrow()
            .map_err(|e| delta_error(&label, e))?;
        let columns = schema
            .fields()
            .iter()
            .map(|f| LakeColumn {
                name: f.name().clone(),
                kind: PgKind::CastText,
                read_type: f.data_type().clone(),
                field: f.as_ref().clone(),
            })
            .collect();
        Ok(Mirror {
            table,
            label,
            delta,
            slot: slot.to_string(),
            position,
            columns,
            added: false,
            mapping: None,
            pending: HashMap::new(),
            pending_bytes: 0,
            pending_changes: 0,
            applied: 0,
        })
    }

    pub fn pending_rows(&self) -> usize {
        self.pending.len()
    }

    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    fn error(&self, reason: String) -> Error {
        Error::Stream {
            slot: self.slot.clone(),
            reason: format!("{}: {reason}", self.label),
        }
    }

    /// Take the relation's current shape. `typed` gives each relation column's Postgres
    /// type (`format_type`) and kind. A column new to the lake is added (older rows null);
    /// one whose type changed is refused. Returns whether the shape changed (the caller
    /// applies what is pending first).
    pub fn shape_changes(&self, relation: &Relation) -> bool {
        let names: Vec<Option<usize>> = relation
            .columns
            .iter()
            .map(|c| self.columns.iter().position(|l| l.name == c.name))
            .collect();
        match &self.mapping {
            None => true,
            Some(m) => {
                names.iter().any(Option::is_none)
                    || names
                        .iter()
                        .copied()
                        .map(Option::unwrap)
                        .collect::<Vec<_>>()
                        != m.columns
                    || relation.columns.iter().filter(|c| c.key).count() != m.key.len()
                    || relation
                        .columns
                        .iter()
                        .map(|c| (c.type_oid, c.type_modifier))
                        .ne(m.types.iter().copied())
            }
        }
    }

    pub fn take_shape(&mut self, relation: &Relation, typed: &[(String, PgKind)]) -> Result<()> {
        let mut columns = Vec::with_capacity(relation.columns.len());
        for (sent, (type_sql, kind)) in relation.columns.iter().zip(typed) {
            let read_type = kind.arrow_type();
            let lake_type = delta_type(&read_type);
            match self.columns.iter().position(|l| l.name == sent.name) {
                Some(at) => {
                    let lake = &mut self.columns[at];
                    let recorded = lake.field.metadata().get(PG_TYPE_KEY).cloned();
                    // (Delta names a list's items `element`, Arrow `item`.)
                    let same = lake.field.data_type().equals_datatype(&lake_type);
                    let fits = same || *lake.field.data_type() == DataType::Utf8;
                    if recorded.as_ref().is_some_and(|r| r != type_sql) || !fits {
                        let was = recorded.unwrap_or_else(|| lake.field.data_type().to_string());
                        return Err(self.error(format!(
                            "column {} changed type from {was} to {type_sql}: the lake cannot \
                             take it; nothing after this change was applied. Mirror the table \
                             anew (`lakeshift cdc drop`, then run again) once the change is done",
                            sent.name
                        )));
                    }
                    lake.kind = kind.clone();
                    lake.read_type = if same { read_type } else { DataType::Utf8 };
                    columns.push(at);
                }
                None => {
                    let field = Field::new(&sent.name, lake_type, true)
                        .with_metadata([(PG_TYPE_KEY.to_string(), type_sql.clone())].into());
                    tracing::info!(table = %self.label, column = %sent.name, "a column added at the source: added to the lake");
                    self.columns.push(LakeColumn {
                        name: sent.name.clone(),
                        kind: kind.clone(),
                        read_type,
                        field,
                    });
                    self.added = true;
                    columns.push(self.columns.len() - 1);
                }
            }
        }
        // The primary key when there is one (under REPLICA IDENTITY FULL every column is
        // flagged), else the replica identity's columns.
        let primary: Vec<usize> = self
            .table
            .primary_key()
            .iter()
            .filter_map(|name| self.columns.iter().position(|l| l.name == *name))
            .filter(|at| columns.contains(at))
            .collect();
        let key: Vec<usize> =
            if !primary.is_empty() && primary.len() == self.table.primary_key().len() {
                primary
            } else {
                relation
                    .columns
                    .iter()
                    .zip(&columns)
                    .filter(|(c, _)| c.key)
                    .map(|(_, &at)| at)
                    .collect()
            };
        if key.is_empty() {
            return Err(self.error(
                "has no replica identity key (a primary key, or REPLICA IDENTITY USING INDEX): \
                 its updates and deletes cannot be matched"
                    .into(),
            ));
        }
        let types = relation
            .columns
            .iter()
            .map(|c| (c.type_oid, c.type_modifier))
            .collect();
        self.mapping = Some(Mapping {
            columns,
            key,
            types,
        });
        Ok(())
    }

    fn mapping(&self) -> Result<&Mapping> {
        self.mapping
            .as_ref()
            .ok_or_else(|| self.error("a change arrived before its relation's description".into()))
    }

    /// The tuple as cells in lake column order (columns the source does not send are kept).
    fn cells(&self, tuple: Tuple) -> Result<Vec<Cell>> {
        let mapping = self.mapping()?;
        if tuple.len() != mapping.columns.len() {
            return Err(self.error(format!(
                "a row of {} values for {} columns",
                tuple.len(),
                mapping.columns.len()
            )));
        }
        let mut cells = vec![Cell::Keep; self.columns.len()];
        for (value, &at) in tuple.into_iter().zip(&mapping.columns) {
            cells[at] = match value {
                Sent::Null => Cell::Null,
                Sent::Unchanged => Cell::Keep,
                Sent::Text(t) => Cell::Text(t.into_boxed_slice()),
            };
        }
        Ok(cells)
    }

    fn key_of(&self, cells: &[Cell]) -> Result<Vec<u8>> {
        let mut key = Vec::new();
        for &at in &self.mapping()?.key {
            match &cells[at] {
                Cell::Text(t) => {
                    key.extend((t.len() as u32).to_le_bytes());
                    key.extend_from_slice(t);
                }
                _ => key.extend(u32::MAX.to_le_bytes()),
            }
        }
        Ok(key)
    }

    fn put(&mut self, key: Vec<u8>, change: Pending) {
        let cells = match &change {
            Pending::Upsert(c) | Pending::Delete(c) => c,
        };
        self.pending_bytes += cells.iter().map(Cell::bytes).sum::<usize>() + key.len();
        self.pending.insert(key, change);
    }

    pub fn insert(&mut self, new: Tuple) -> Result<()> {
        self.pending_changes += 1;
        let cells = self.cells(new)?;
        let key = self.key_of(&cells)?;
        self.put(key, Pending::Upsert(cells));
        Ok(())
    }

    pub fn update(&mut self, old: Option<Tuple>, new: Tuple) -> Result<()> {
        self.pending_changes += 1;
        let mut cells = self.cells(new)?;
        let key = self.key_of(&cells)?;
        let keeps = cells.contains(&Cell::Keep);
        if let Some(old) = old {
            let old = self.cells(old)?;
            let old_key = self.key_of(&old)?;
            if old_key != key {
                if keeps {
                    // The kept value lives under the old key, which a merge on the new key
                    // cannot reach.
                    return Err(self.error(
                        "an update changed the key of a row and left a TOASTed value \
                         unchanged: give the table REPLICA IDENTITY FULL to mirror such updates"
                            .into(),
                    ));
                }
                self.put(old_key, Pending::Delete(old));
            }
        }
        // An earlier change of the same key in this batch holds the values this one keeps.
        if keeps && let Some(Pending::Upsert(before)) = self.pending.get(&key) {
            for (cell, earlier) in cells.iter_mut().zip(before) {
                if *cell == Cell::Keep {
                    *cell = earlier.clone();
                }
            }
        }
        self.put(key, Pending::Upsert(cells));
        Ok(())
    }

    pub fn delete(&mut self, old: Tuple) -> Result<()> {
        self.pending_changes += 1;
        let cells = self.cells(old)?;
        let key = self.key_of(&cells)?;
        self.put(key, Pending::Delete(cells));
        Ok(())
    }

    /// Apply the pending changes as one Delta merge recording `position`. A commit that
    /// loses to another writer's (a `lake sync` into the same table) is merged again on
    /// the table as that writer left it.
    pub async fn apply(&mut self, position: Position) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let count = std::mem::take(&mut self.pending_changes);
        let key_columns = self.mapping()?.key.clone();
        let batch = self.batch(pending.into_values(), &key_columns)?;
        let mut attempt = 0;
        let merged = loop {
            let commit = self.commit(position);
            match merge(
                self.delta.clone(),
                batch.clone(),
                &self.columns,
                &key_columns,
                commit,
                self.added,
            )
            .await
            {
                Ok(merged) => break merged,
                Err(e) if is_conflict(&e) && attempt < COMMIT_ATTEMPTS => {
                    attempt += 1;
                    tracing::warn!(table = %self.label, attempt, "another writer committed first: merging again");
                    self.delta
                        .update_incremental(None)
                        .await
                        .map_err(|e| delta_error(&self.label, e))?;
                }
                Err(e) => return Err(delta_error(&self.label, e)),
            }
        };
        self.delta = merged;
        self.added = false;
        self.position = position;
        self.applied += count;
        Ok(())
    }

    /// Remove every row (a `TRUNCATE` at the source), recording `position`. The changes
    /// before it are applied first (by the caller).
    pub async fn truncate(&mut self, position: Position) -> Result<()> {
        let (table, _) = self
            .delta
            .clone()
            .delete()
            .with_commit_properties(self.commit(position))
            .await
            .map_err(|e| delta_error(&self.label, e))?;
        self.delta = table;
        self.position = position;
        self.applied += 1;
        Ok(())
    }

    fn commit(&self, position: Position) -> CommitProperties {
        CommitProperties::default()
            .with_application_transactions(position.actions(&self.slot).to_vec())
            .with_metadata([
                (
                    "lakeshift.source".to_string(),
                    serde_json::json!(self.label),
                ),
                ("lakeshift.slot".to_string(), serde_json::json!(self.slot)),
                (
                    "lakeshift.position".to_string(),
                    serde_json::json!(position.to_string()),
                ),
            ])
    }

    /// The merge's source rows: the lake's columns, whether each row is a delete, and for
    /// each column some rows keep, which rows keep it.
    fn batch(
        &self,
        pending: impl ExactSizeIterator<Item = Pending>,
        key: &[usize],
    ) -> Result<RecordBatch> {
        let rows: Vec<(bool, Vec<Cell>)> = pending
            .map(|p| match p {
                Pending::Upsert(cells) => (false, cells),
                Pending::Delete(cells) => (true, cells),
            })
            .collect();
        let width = self.columns.len();
        let mut fields = Vec::with_capacity(width + 2);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(width + 2);
        let null = Cell::Null;
        for (at, lake) in self.columns.iter().enumerate() {
            // A delete's row holds its key (the rest is not needed).
            fn cell<'r>(
                row: &'r (bool, Vec<Cell>),
                at: usize,
                key: &[usize],
                null: &'r Cell,
            ) -> &'r Cell {
                match row.1.get(at) {
                    Some(c) if !row.0 || key.contains(&at) => c,
                    _ => null,
                }
            }
            let sent = rows
                .iter()
                .any(|r| matches!(cell(r, at, key, &null), Cell::Text(_)));
            // A column no row sends (one the source dropped): nulls of the lake's type.
            let converted = if !sent {
                new_null_array(lake.field.data_type(), rows.len())
            } else {
                let built = column(
                    &lake.kind,
                    &lake.read_type,
                    rows.iter().map(|r| cell(r, at, key, &null)),
                    &lake.name,
                )
                .map_err(|e| self.error(e))?;
                let single =
                    |t: &DataType| Arc::new(Schema::new(vec![Field::new("v", t.clone(), true)]));
                to_delta(
                    &RecordBatch::try_new(single(&lake.read_type), vec![built])?,
                    &single(lake.field.data_type()),
                )?
                .column(0)
                .clone()
            };
            fields.push(lake.field.clone());
            arrays.push(converted);
        }
        fields.push(Field::new(DELETED, DataType::Boolean, false));
        arrays.push(Arc::new(BooleanArray::from_iter(
            rows.iter().map(|(deleted, _)| Some(*deleted)),
        )));
        for at in 0..width {
            let keeps = |(deleted, cells): &(bool, Vec<Cell>)| {
                !deleted && cells.get(at).is_none_or(|c| *c == Cell::Keep)
            };
            if rows.iter().any(keeps) {
                fields.push(Field::new(format!("{KEEP}{at}"), DataType::Boolean, false));
                arrays.push(Arc::new(BooleanArray::from_iter(
                    rows.iter().map(|r| Some(keeps(r))),
                )));
            }
        }
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        Ok(RecordBatch::try_new(schema, arrays)?)
    }
}

/// Retries of a merge whose commit lost to another writer's.
const COMMIT_ATTEMPTS: u32 = 5;

fn is_conflict(e: &DeltaTableError) -> bool {
    matches!(
        e,
        DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(_) | TransactionError::VersionAlreadyExists(_)
        } | DeltaTableError::VersionAlreadyExists(_)
    )
}

async fn merge(
    delta: DeltaTable,
    batch: RecordBatch,
    columns: &[LakeColumn],
    key: &[usize],
    commit: CommitProperties,
    evolve: bool,
) -> std::result::Result<DeltaTable, DeltaTableError> {
    let schema = batch.schema();
    let provider = MemTable::try_new(schema.clone(), vec![vec![batch]])?;
    let ctx = SessionContext::new();
    let source = ctx.read_table(Arc::new(provider))?;
    let side =
        |alias: &str, name: &str| Expr::Column(datafusion::common::Column::new(Some(alias), name));
    let on = key
        .iter()
        .map(|&k| side("target", &columns[k].name).eq(side("source", &columns[k].name)))
        .reduce(Expr::and)
        .expect("a key has at least one column");
    let deleted = side("source", DELETED);
    let value = |at: usize| {
        let name = &columns[at].name;
        let keep = format!("{KEEP}{at}");
        if schema.field_with_name(&keep).is_ok() {
            when(side("source", &keep), side("target", name))
                .otherwise(side("source", name))
                .expect("a CASE with one branch")
        } else {
            side("source", name)
        }
    };
    let inserted = |at: usize| {
        let name = &columns[at].name;
        let keep = format!("{KEEP}{at}");
        if schema.field_with_name(&keep).is_ok() {
            when(
                side("source", &keep),
                lit(datafusion::scalar::ScalarValue::Null),
            )
            .otherwise(side("source", name))
            .expect("a CASE with one branch")
        } else {
            side("source", name)
        }
    };
    let (table, _metrics) = delta
        .merge(source, on)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_merge_schema(evolve)
        .with_commit_properties(commit)
        .with_writer_properties(writer_properties())
        .when_matched_delete(|d| d.predicate(deleted.clone()))
        .and_then(|m| {
            m.when_matched_update(|u| {
                (0..columns.len()).fold(u.predicate(!deleted.clone()), |u, at| {
                    u.update(quoted(&columns[at].name), value(at))
                })
            })
        })
        .and_then(|m| {
            m.when_not_matched_insert(|i| {
                (0..columns.len()).fold(i.predicate(!deleted.clone()), |i, at| {
                    i.set(quoted(&columns[at].name), inserted(at))
                })
            })
        })?
        .await?;
    Ok(table)
}
