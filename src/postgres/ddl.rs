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
    Catalog, Column, Constraint, ConstraintKind, Domain, EnumType, Extension, Index, QualifiedName,
    Sequence, Table, View,
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
    let tables = catalog.tables_in_creation_order();
    out.extend(tables.iter().map(|t| create_table(catalog, t)));
    out.extend(catalog.sequences.iter().filter_map(sequence_owner));
    out.extend(keys_and_checks(&tables));
    out.extend(foreign_keys(&tables));
    out.extend(late.iter().map(|f| f.definition.clone()));
    out.extend(catalog.views.iter().map(create_view));
    out.extend(indexes(catalog, &tables));
    out.extend(tables.iter().filter_map(|t| replica_identity(t)));
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

/// [`TableDdl`] of `table` and, when it is partitioned, of its partitions (a restore loads
/// their rows through it). Functions its defaults or checks call are not included.
pub fn table_ddl(catalog: &Catalog, table: &Table) -> TableDdl {
    let tables: Vec<&Table> = catalog
        .tables_in_creation_order()
        .into_iter()
        .filter(|t| t.oid == table.oid || catalog.is_partition_of(t, table))
        .collect();
    let uses_type = |name: &str| {
        tables.iter().flat_map(|t| &t.columns).any(|c| {
            c.type_name == name
                || c.type_name == format!("_{name}")
                || c.element_type.as_deref() == Some(name)
        })
    };
    let owned_here = |s: &Sequence| {
        tables.iter().any(|table| {
            s.owned_by
                .as_ref()
                .is_some_and(|(t, _)| *t == table.full_name())
                || table.columns.iter().any(|c| {
                    c.default
                        .as_deref()
                        .is_some_and(|d| d.starts_with("nextval(") && d.contains(&s.name))
                })
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
    for t in &tables {
        // A partition may live in another schema than its parent.
        let schema = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&t.schema));
        if !create.contains(&schema) {
            create.push(schema);
        }
        create.push(create_table(catalog, t));
    }
    create.extend(sequences.iter().filter_map(|s| sequence_owner(s)));
    let mut indexes = indexes(catalog, &tables);
    indexes.extend(tables.iter().filter_map(|t| replica_identity(t)));
    TableDdl {
        create,
        constraints: keys_and_checks(&tables),
        foreign_keys: foreign_keys(&tables),
        indexes,
    }
}

/// Keys, unique, check and exclusion constraints of `tables` (parents first), each declared
/// on its own table; a partition's key is then attached to its parent's (as pg_dump does,
/// so every partition keeps its own constraint name).
fn keys_and_checks(tables: &[&Table]) -> Vec<String> {
    let all: Vec<(&Table, &Constraint)> = tables
        .iter()
        .flat_map(|t| t.constraints.iter().map(move |c| (*t, c)))
        .filter(|(_, c)| c.kind != ConstraintKind::ForeignKey && !c.inherited)
        .collect();
    let mut out: Vec<String> = all
        .iter()
        .map(|(t, c)| add_constraint(t, &c.name, &c.definition))
        .collect();
    out.extend(all.iter().filter_map(|(t, c)| {
        let parent = c.attached_to.as_ref()?;
        Some(attach_index(parent, &(t.schema.clone(), c.name.clone())))
    }));
    out
}

/// Foreign keys of `tables`, but those a partition has from its parent's.
fn foreign_keys(tables: &[&Table]) -> Vec<String> {
    tables
        .iter()
        .flat_map(|t| {
            t.foreign_keys()
                .filter(|c| !c.inherited)
                .map(|c| add_constraint(t, &c.name, &c.definition))
        })
        .collect()
}

/// The indexes on `tables` (and on the catalog's materialized views when `tables` is the
/// whole catalog), then the attachments of partitions' indexes to their parents'.
fn indexes(catalog: &Catalog, tables: &[&Table]) -> Vec<String> {
    let whole = tables.len() == catalog.tables.len();
    let chosen: Vec<&Index> = catalog
        .indexes
        .iter()
        .filter(|i| {
            whole
                || tables
                    .iter()
                    .any(|t| t.schema == i.schema && t.name == i.table)
        })
        .collect();
    let mut out: Vec<String> = chosen.iter().map(|i| create_index(i)).collect();
    out.extend(chosen.iter().filter_map(|i| {
        let parent = i.attached_to.as_ref()?;
        Some(attach_index(parent, &(i.schema.clone(), i.name.clone())))
    }));
    out
}

/// `ALTER INDEX parent ATTACH PARTITION child`, unless attached already.
fn attach_index(parent: &QualifiedName, child: &QualifiedName) -> String {
    let child_name = qualified(&child.0, &child.1);
    if_missing(
        &format!(
            "SELECT 1 FROM pg_inherits WHERE inhrelid = {}::regclass",
            quote_literal(&child_name)
        ),
        &format!(
            "ALTER INDEX {} ATTACH PARTITION {child_name}",
            qualified(&parent.0, &parent.1)
        ),
    )
}

/// `ALTER TABLE .. REPLICA IDENTITY` when it is not the default.
fn replica_identity(t: &Table) -> Option<String> {
    let identity = match (t.replica_identity, &t.replica_index) {
        ('f', _) => "FULL".to_string(),
        ('n', _) => "NOTHING".to_string(),
        ('i', Some(index)) => format!("USING INDEX {}", quote_ident(index)),
        _ => return None,
    };
    Some(format!(
        "ALTER TABLE ONLY {} REPLICA IDENTITY {identity}",
        t.qualified()
    ))
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

/// `CREATE TABLE`: a partition as `PARTITION OF` its parent (with the defaults and NOT NULLs
/// of its own), an inheritance child with its own columns and `INHERITS`, a partitioned
/// table with its key.
fn create_table(catalog: &Catalog, t: &Table) -> String {
    let kind = if t.unlogged { "UNLOGGED " } else { "" };
    let partition_by = t
        .partition_key
        .as_ref()
        .map(|key| format!(" PARTITION BY {key}"))
        .unwrap_or_default();
    if let Some(of) = &t.partition_of {
        let parent = catalog.table(&format!("{}.{}", of.parent.0, of.parent.1));
        let options: Vec<String> = t
            .columns
            .iter()
            .filter_map(|c| partition_column_options(c, parent?.column(&c.name)?))
            .collect();
        let options = if options.is_empty() {
            String::new()
        } else {
            format!(" (\n{}\n)", options.join(",\n"))
        };
        return format!(
            "CREATE {kind}TABLE IF NOT EXISTS {} PARTITION OF {}{options}\n{}{partition_by}",
            t.qualified(),
            qualified(&of.parent.0, &of.parent.1),
            of.bound
        );
    }
    let columns: Vec<String> = t
        .columns
        .iter()
        .filter(|c| c.local || t.inherits.is_empty())
        .map(|c| format!("    {}", column_definition(c)))
        .collect();
    let inherits = if t.inherits.is_empty() {
        String::new()
    } else {
        let parents: Vec<String> = t.inherits.iter().map(|(s, n)| qualified(s, n)).collect();
        format!("\nINHERITS ({})", parents.join(", "))
    };
    format!(
        "CREATE {kind}TABLE IF NOT EXISTS {} (\n{}\n){inherits}{partition_by}",
        t.qualified(),
        columns.join(",\n")
    )
}

/// `column WITH OPTIONS ..` for what a partition's column has that its parent's lacks.
fn partition_column_options(c: &Column, parent: &Column) -> Option<String> {
    let mut options = String::new();
    if let Some(default) = c.default.as_ref().filter(|_| c.default != parent.default) {
        let _ = write!(options, " DEFAULT {default}");
    }
    if c.not_null && !parent.not_null {
        options.push_str(" NOT NULL");
    }
    (!options.is_empty()).then(|| format!("    {} WITH OPTIONS{options}", quote_ident(&c.name)))
}

fn add_constraint(t: &Table, name: &str, definition: &str) -> String {
    let exists = format!(
        "SELECT 1 FROM pg_constraint WHERE conname = {} AND conrelid = {}::regclass",
        quote_literal(name),
        quote_literal(&t.qualified())
    );
    // Keys are declared on each table alone (a partitioned table's are attached to after);
    // checks and foreign keys recurse into partitions and children, as they must.
    let only = if definition.starts_with("CHECK") || definition.starts_with("FOREIGN KEY") {
        ""
    } else {
        "ONLY "
    };
    let add = format!(
        "ALTER TABLE {only}{} ADD CONSTRAINT {} {definition}",
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
