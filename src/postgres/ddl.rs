//! DDL from the catalog: an idempotent SQL script that recreates a schema's metadata.
//!
//! Order: schemas, the extensions their objects use, enum and domain types, functions that
//! need no table, sequences, tables, sequence ownership, keys/unique/check/exclusion
//! constraints, foreign keys (after every table), functions that read tables, views (each
//! after the views it reads), indexes (after materialized views, which can carry them),
//! triggers, comments. Every statement is written
//! so that running the script again changes nothing: `IF NOT EXISTS`, `OR REPLACE`, or a
//! `DO` block that checks the catalog first.

use std::fmt::Write as _;

use crate::postgres::catalog::{
    Catalog, Column, ConstraintKind, Domain, EnumType, Extension, Index, Sequence, Table, View,
};
use crate::postgres::connect::{quote_ident, quote_literal};

/// The statements that recreate `catalog`, in dependency order, without transaction control.
pub fn statements(catalog: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    for schema in &catalog.schemas {
        out.push(format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_ident(schema)
        ));
    }
    for extension in &catalog.extensions {
        out.extend(create_extension(catalog, extension));
    }
    out.extend(catalog.enums.iter().map(create_enum));
    out.extend(catalog.domains.iter().map(create_domain));
    let (late, early): (Vec<_>, Vec<_>) = catalog.functions.iter().partition(|f| f.needs_tables);
    out.extend(early.iter().map(|f| f.definition.clone()));
    out.extend(catalog.sequences.iter().map(create_sequence));
    out.extend(catalog.tables.iter().map(create_table));
    out.extend(catalog.sequences.iter().filter_map(sequence_owner));
    for foreign in [false, true] {
        for table in &catalog.tables {
            for c in &table.constraints {
                if (c.kind == ConstraintKind::ForeignKey) == foreign {
                    out.push(add_constraint(table, &c.name, &c.definition));
                }
            }
        }
    }
    out.extend(late.iter().map(|f| f.definition.clone()));
    out.extend(catalog.views.iter().map(create_view));
    out.extend(catalog.indexes.iter().map(create_index));
    for trigger in &catalog.triggers {
        out.push(if trigger.is_constraint {
            if_missing(
                &format!(
                    "SELECT 1 FROM pg_trigger WHERE tgname = {} AND tgrelid = {}::regclass",
                    quote_literal(&trigger.name),
                    quote_literal(&qualified(&trigger.schema, &trigger.table))
                ),
                &trigger.definition,
            )
        } else {
            trigger
                .definition
                .replacen("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", 1)
        });
    }
    for comment in &catalog.comments {
        out.push(format!(
            "COMMENT ON {} {} IS {}",
            comment.object_kind,
            comment.identity,
            quote_literal(&comment.text)
        ));
    }
    out
}

/// The statements that recreate one table on its own, in three phases: a restore creates
/// the table, loads its rows, then adds its keys and indexes (a backup's manifest carries
/// them). Like [`statements`], every one of them can run again without effect.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TableDdl {
    /// The table's schema, the extensions, types and sequences its columns use, the table
    /// itself without constraints but NOT NULL.
    pub create: Vec<String>,
    /// Keys, unique, check and exclusion constraints.
    pub constraints: Vec<String>,
    /// Added once every table they reference is loaded.
    pub foreign_keys: Vec<String>,
    pub indexes: Vec<String>,
}

/// [`TableDdl`] of `table`. Functions its defaults or checks call are not included.
pub fn table_ddl(catalog: &Catalog, table: &Table) -> TableDdl {
    let uses_type = |name: &str| {
        table.columns.iter().any(|c| {
            c.type_name == name
                || c.type_name == format!("_{name}")
                || c.element_type.as_deref() == Some(name)
        })
    };
    let owned_here = |s: &Sequence| {
        s.owned_by
            .as_ref()
            .is_some_and(|(t, _)| *t == table.full_name())
            || table.columns.iter().any(|c| {
                c.default
                    .as_deref()
                    .is_some_and(|d| d.starts_with("nextval(") && d.contains(&s.name))
            })
    };
    let mut create = vec![format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        quote_ident(&table.schema)
    )];
    for extension in &catalog.extensions {
        create.extend(create_extension(catalog, extension));
    }
    create.extend(
        catalog
            .enums
            .iter()
            .filter(|e| uses_type(&e.name))
            .map(create_enum),
    );
    create.extend(
        catalog
            .domains
            .iter()
            .filter(|d| uses_type(&d.name))
            .map(create_domain),
    );
    let sequences: Vec<&Sequence> = catalog.sequences.iter().filter(|s| owned_here(s)).collect();
    create.extend(sequences.iter().map(|s| create_sequence(s)));
    create.push(create_table(table));
    create.extend(sequences.iter().filter_map(|s| sequence_owner(s)));
    let (foreign_keys, constraints): (Vec<_>, Vec<_>) = table
        .constraints
        .iter()
        .partition(|c| c.kind == ConstraintKind::ForeignKey);
    let add =
        |c: &&crate::postgres::catalog::Constraint| add_constraint(table, &c.name, &c.definition);
    TableDdl {
        create,
        constraints: constraints.iter().map(add).collect(),
        foreign_keys: foreign_keys.iter().map(add).collect(),
        indexes: catalog
            .indexes
            .iter()
            .filter(|i| i.schema == table.schema && i.table == table.name)
            .map(create_index)
            .collect(),
    }
}

/// The whole script, in one transaction, as `schema dump` prints it.
pub fn script(catalog: &Catalog, source: &str) -> String {
    let mut sql = String::new();
    let _ = writeln!(sql, "-- lakeshift schema dump of {source}");
    let _ = writeln!(sql, "-- schemas: {}", catalog.schemas.join(", "));
    let _ = writeln!(sql, "-- idempotent: running it again changes nothing\n");
    sql.push_str("BEGIN;\n");
    for setting in SESSION_SETTINGS {
        let _ = writeln!(sql, "{setting};");
    }
    for statement in statements(catalog) {
        let _ = writeln!(sql, "\n{statement};");
    }
    sql.push_str("\nCOMMIT;\n");
    sql
}

/// Settings the script runs under: names in it are fully qualified, and function bodies are
/// not checked before the tables they read exist (as pg_dump does).
pub const SESSION_SETTINGS: &[&str] = &[
    "SET LOCAL check_function_bodies = false",
    "SET LOCAL search_path = pg_catalog",
    "SET LOCAL client_min_messages = warning",
];

fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A `DO` block that runs `statement` only when `exists_query` finds nothing.
fn if_missing(exists_query: &str, statement: &str) -> String {
    format!(
        "DO $lakeshift$ BEGIN\n  IF NOT EXISTS ({exists_query}) THEN\n    {statement};\n  END IF;\nEND $lakeshift$"
    )
}

fn type_exists(schema: &str, name: &str) -> String {
    format!(
        "SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = {} AND t.typname = {}",
        quote_literal(schema),
        quote_literal(name)
    )
}

/// `CREATE EXTENSION`, after the schema it goes in when that is not one being created.
fn create_extension(catalog: &Catalog, extension: &Extension) -> Vec<String> {
    let mut out = Vec::new();
    if !catalog.schemas.contains(&extension.schema) {
        out.push(format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_ident(&extension.schema)
        ));
    }
    out.push(format!(
        "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
        quote_ident(&extension.name),
        quote_ident(&extension.schema)
    ));
    out
}

/// `ALTER SEQUENCE .. OWNED BY` for a sequence owned by a column (serial).
fn sequence_owner(seq: &Sequence) -> Option<String> {
    let (table, column) = seq.owned_by.as_ref()?;
    let (schema, table) = table.split_once('.').unwrap_or(("public", table));
    Some(format!(
        "ALTER SEQUENCE {} OWNED BY {}.{}.{}",
        qualified(&seq.schema, &seq.name),
        quote_ident(schema),
        quote_ident(table),
        quote_ident(column)
    ))
}

fn create_index(index: &Index) -> String {
    index
        .definition
        .replacen("INDEX ", "INDEX IF NOT EXISTS ", 1)
}

fn create_enum(e: &EnumType) -> String {
    let labels: Vec<String> = e.labels.iter().map(|l| quote_literal(l)).collect();
    let create = format!(
        "CREATE TYPE {} AS ENUM ({})",
        qualified(&e.schema, &e.name),
        labels.join(", ")
    );
    if_missing(&type_exists(&e.schema, &e.name), &create)
}

fn create_domain(d: &Domain) -> String {
    let mut create = format!(
        "CREATE DOMAIN {} AS {}",
        qualified(&d.schema, &d.name),
        d.base_type
    );
    if let Some(collation) = &d.collation {
        let _ = write!(create, " COLLATE {collation}");
    }
    if let Some(default) = &d.default {
        let _ = write!(create, " DEFAULT {default}");
    }
    if d.not_null {
        create.push_str(" NOT NULL");
    }
    for (name, check) in &d.checks {
        let _ = write!(create, " CONSTRAINT {} {check}", quote_ident(name));
    }
    if_missing(&type_exists(&d.schema, &d.name), &create)
}

/// `START WITH .. INCREMENT BY .. MINVALUE .. MAXVALUE .. CACHE .. [NO] CYCLE`.
fn sequence_options(s: &Sequence) -> String {
    format!(
        "START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
        s.start,
        s.increment,
        s.min,
        s.max,
        s.cache,
        if s.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

fn create_sequence(s: &Sequence) -> String {
    format!(
        "CREATE SEQUENCE IF NOT EXISTS {} AS {} {}",
        qualified(&s.schema, &s.name),
        s.data_type,
        sequence_options(s)
    )
}

fn column_definition(c: &Column) -> String {
    let mut def = format!("{} {}", quote_ident(&c.name), c.type_sql);
    if let Some(collation) = &c.collation {
        let _ = write!(def, " COLLATE {collation}");
    }
    if let Some(expr) = &c.generated {
        let _ = write!(def, " GENERATED ALWAYS AS ({expr}) STORED");
    } else if let Some(default) = &c.default {
        let _ = write!(def, " DEFAULT {default}");
    }
    if let Some(kind) = c.identity {
        let when = if kind == 'a' { "ALWAYS" } else { "BY DEFAULT" };
        let _ = write!(def, " GENERATED {when} AS IDENTITY");
        if let Some(seq) = &c.identity_sequence {
            let name = qualified(&seq.schema, &seq.name);
            let _ = write!(def, " (SEQUENCE NAME {name} {})", sequence_options(seq));
        }
    }
    if c.not_null {
        def.push_str(" NOT NULL");
    }
    def
}

fn create_table(t: &Table) -> String {
    let columns: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("    {}", column_definition(c)))
        .collect();
    format!(
        "CREATE {}TABLE IF NOT EXISTS {} (\n{}\n)",
        if t.unlogged { "UNLOGGED " } else { "" },
        t.qualified(),
        columns.join(",\n")
    )
}

fn add_constraint(t: &Table, name: &str, definition: &str) -> String {
    let exists = format!(
        "SELECT 1 FROM pg_constraint WHERE conname = {} AND conrelid = {}::regclass",
        quote_literal(name),
        quote_literal(&t.qualified())
    );
    let add = format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {definition}",
        t.qualified(),
        quote_ident(name)
    );
    if_missing(&exists, &add)
}

fn create_view(v: &View) -> String {
    let with = if v.options.is_empty() {
        String::new()
    } else {
        format!(" WITH ({})", v.options.join(", "))
    };
    if v.materialized {
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {}{with} AS\n{}\nWITH DATA",
            qualified(&v.schema, &v.name),
            v.definition
        )
    } else {
        format!(
            "CREATE OR REPLACE VIEW {}{with} AS\n{}",
            qualified(&v.schema, &v.name),
            v.definition
        )
    }
}
