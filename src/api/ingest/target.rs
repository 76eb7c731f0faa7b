//! What a record for one table may hold: the fields (typed by the catalog), which are
//! required, which get the current time when absent, the generated id, and the keys to
//! check before writing.

use std::collections::HashMap;

use crate::postgres::catalog::{Catalog, ConstraintKind, Table};
use crate::postgres::connect::quote_ident;
use crate::postgres::server_rejects::server_checks_rows;
use crate::postgres::types::PgKind;

/// A field a record may carry.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub kind: PgKind,
    /// `format_type` of the column, for messages and server-side casts.
    pub type_sql: String,
    /// NULL is refused (the column is NOT NULL, or the endpoint requires a value).
    pub not_null: bool,
    /// The record must carry it.
    pub required: bool,
    /// When absent (or null), the current UTC time is used.
    pub now_if_missing: bool,
}

/// The generated key: a single integer primary key.
#[derive(Debug, Clone)]
pub struct IdColumn {
    pub name: String,
    pub kind: PgKind,
}

impl IdColumn {
    /// The largest id the column's type holds.
    pub fn max(&self) -> i64 {
        match self.kind {
            PgKind::Int2 => i16::MAX.into(),
            PgKind::Int4 => i32::MAX.into(),
            _ => i64::MAX,
        }
    }

    /// The SQL name of its type.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            PgKind::Int2 => "smallint",
            PgKind::Int4 => "integer",
            _ => "bigint",
        }
    }
}

/// A key checked before rows are written: a foreign key must find its parent row, a
/// primary or unique key must not exist yet.
#[derive(Debug, Clone)]
pub struct KeyCheck {
    /// Indexes into [`Target::fields`].
    pub fields: Vec<usize>,
    /// The table looked in, quoted and qualified, and its columns, quoted.
    pub table: String,
    pub table_columns: Vec<String>,
    /// Parent table name for messages (`departments`).
    pub table_name: String,
    pub must_exist: bool,
}

/// Everything needed to check and write records for one table.
#[derive(Debug, Clone)]
pub struct Target {
    pub table: Table,
    pub fields: Vec<Field>,
    /// Generated when a record does not carry it; a record may carry it only where it is
    /// among [`Target::fields`] (tables the operator allows explicit ids for).
    pub id: Option<IdColumn>,
    pub keys: Vec<KeyCheck>,
    /// The server refuses rows for reasons checked nowhere else (CHECK, a domain, a
    /// trigger, ...): such records become rejects one by one (see
    /// [`crate::postgres::server_rejects`]).
    pub server_checks: bool,
}

/// A fixed record shape (the documented HR endpoints): only these fields, each required
/// unless it defaults to now.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub fields: &'static [ShapeField],
    /// Foreign keys to check even where the database declares none: `(field, parent
    /// table, parent column)`.
    pub references: &'static [(&'static str, &'static str, &'static str)],
}

#[derive(Debug, Clone, Copy)]
pub struct ShapeField {
    pub name: &'static str,
    pub now_if_missing: bool,
}

impl Target {
    /// Every column but generated ones, typed and constrained by the catalog. The single
    /// integer primary key, if any, is generated; records may set it themselves only with
    /// `explicit_ids` (one explicit id near the type's maximum would exhaust the ids of
    /// every later request).
    pub fn generic(catalog: &Catalog, table: &Table, explicit_ids: bool) -> Target {
        let enums = catalog.enum_labels();
        let id = id_column(table, &enums);
        let fields = table
            .columns
            .iter()
            .filter(|c| c.generated.is_none())
            .filter(|c| explicit_ids || id.as_ref().is_none_or(|id| id.name != c.name))
            .map(|c| {
                let is_id = id.as_ref().is_some_and(|id| id.name == c.name);
                Field {
                    name: c.name.clone(),
                    kind: PgKind::of_text_input(c, &enums),
                    type_sql: c.type_sql.clone(),
                    not_null: c.not_null,
                    required: c.not_null && c.default.is_none() && c.identity.is_none() && !is_id,
                    now_if_missing: false,
                }
            })
            .collect();
        let mut target = Target {
            table: table.clone(),
            fields,
            id,
            keys: Vec::new(),
            server_checks: server_checks_rows(catalog, table),
        };
        target.keys = catalog_keys(catalog, &target);
        target
    }

    /// A fixed shape over the table's columns; `Err` names a field the table lacks.
    pub fn shaped(catalog: &Catalog, table: &Table, shape: &Shape) -> Result<Target, String> {
        let enums = catalog.enum_labels();
        let mut fields = Vec::new();
        for field in shape.fields {
            let column = table.column(field.name).ok_or_else(|| {
                format!("table {} has no column {}", table.qualified(), field.name)
            })?;
            fields.push(Field {
                name: column.name.clone(),
                kind: PgKind::of_text_input(column, &enums),
                type_sql: column.type_sql.clone(),
                not_null: !field.now_if_missing,
                required: !field.now_if_missing,
                now_if_missing: field.now_if_missing,
            });
        }
        let id = id_column(table, &enums).ok_or_else(|| {
            format!(
                "table {} has no single integer primary key to generate ids for",
                table.qualified()
            )
        })?;
        let mut target = Target {
            table: table.clone(),
            fields,
            id: Some(id),
            keys: Vec::new(),
            server_checks: server_checks_rows(catalog, table),
        };
        target.keys = catalog_keys(catalog, &target);
        for (field, parent, parent_column) in shape.references {
            let index = target
                .field_index(field)
                .expect("shape fields are checked above");
            let parent_table = catalog
                .tables
                .iter()
                .find(|t| t.name == *parent && t.schema == table.schema)
                .ok_or_else(|| format!("table {}.{parent} does not exist", table.schema))?;
            let declared = target.keys.iter().any(|k| {
                k.must_exist && k.fields == [index] && k.table == parent_table.qualified()
            });
            if !declared {
                target.keys.push(KeyCheck {
                    fields: vec![index],
                    table: parent_table.qualified(),
                    table_columns: vec![quote_ident(parent_column)],
                    table_name: parent_table.name.clone(),
                    must_exist: true,
                });
            }
        }
        Ok(target)
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// The single-column primary key of an integer type.
fn id_column(table: &Table, enums: &HashMap<String, Vec<String>>) -> Option<IdColumn> {
    let [name] = table.primary_key() else {
        return None;
    };
    let column = table.column(name)?;
    let kind = PgKind::of(column, enums);
    matches!(kind, PgKind::Int2 | PgKind::Int4 | PgKind::Int8).then(|| IdColumn {
        name: name.clone(),
        kind,
    })
}

/// The foreign, primary and unique keys the catalog declares on the target's fields.
fn catalog_keys(catalog: &Catalog, target: &Target) -> Vec<KeyCheck> {
    let table = &target.table;
    let mut keys = Vec::new();
    for constraint in &table.constraints {
        let Some(fields) = constraint
            .columns
            .iter()
            .map(|c| target.field_index(c))
            .collect::<Option<Vec<usize>>>()
        else {
            continue; // a key over a column records cannot set
        };
        match constraint.kind {
            ConstraintKind::ForeignKey => {
                let Some((schema, parent, columns)) = &constraint.references else {
                    continue;
                };
                let qualified = catalog
                    .tables
                    .iter()
                    .find(|t| &t.schema == schema && &t.name == parent)
                    .map_or_else(
                        || format!("{}.{}", quote_ident(schema), quote_ident(parent)),
                        Table::qualified,
                    );
                keys.push(KeyCheck {
                    fields,
                    table: qualified,
                    table_columns: columns.iter().map(|c| quote_ident(c)).collect(),
                    table_name: parent.clone(),
                    must_exist: true,
                });
            }
            ConstraintKind::PrimaryKey | ConstraintKind::Unique => keys.push(KeyCheck {
                fields,
                table: table.qualified(),
                table_columns: constraint.columns.iter().map(|c| quote_ident(c)).collect(),
                table_name: table.name.clone(),
                must_exist: false,
            }),
            _ => {}
        }
    }
    keys
}
