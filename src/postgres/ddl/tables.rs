//! Tables and what belongs to each: sequences, columns, partitions, keys, foreign keys,
//! indexes, replica identity.

use std::fmt::Write as _;

use super::types::{
    create_collation, create_composite, create_domain, create_enum, create_range, range_shell,
};
use super::{create_extension, if_missing, qualified};
use crate::postgres::catalog::{
    Catalog, Column, Constraint, ConstraintKind, Index, Placement, QualifiedName, Sequence, Table,
};
use crate::postgres::connect::{quote_ident, quote_literal};

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
    /// The tablespaces of the table, its partitions and their indexes, when not the
    /// default one (a restore can leave them out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placements: Vec<Placement>,
}

/// [`TableDdl`] of `table` and, when it is partitioned, of its partitions (a restore loads
/// their rows through it). Functions its defaults or checks call are not included (but
/// those a range type its columns use is made with).
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
    // Every collation (cheap; columns and composite types' attributes may use them), the
    // types the columns use, the sequences they draw from.
    let collations = &catalog.collations;
    let enums: Vec<_> = catalog
        .enums
        .iter()
        .filter(|e| uses_type(&e.name))
        .collect();
    let domains: Vec<_> = catalog
        .domains
        .iter()
        .filter(|d| uses_type(&d.name))
        .collect();
    let composites: Vec<_> = (catalog.composite_types.iter())
        .filter(|t| uses_type(&t.name))
        .collect();
    let ranges: Vec<_> = (catalog.range_types.iter())
        .filter(|t| uses_type(&t.name))
        .collect();
    let sequences: Vec<&Sequence> = catalog.sequences.iter().filter(|s| owned_here(s)).collect();
    // Each object's schema first: a partition or a type may live in another one.
    let mut schemas: Vec<&String> = Vec::new();
    let all_schemas = (tables.iter().map(|t| &t.schema))
        .chain(collations.iter().map(|c| &c.schema))
        .chain(enums.iter().map(|e| &e.schema))
        .chain(domains.iter().map(|d| &d.schema))
        .chain(composites.iter().map(|t| &t.schema))
        .chain(ranges.iter().map(|t| &t.schema))
        .chain(sequences.iter().map(|s| &s.schema));
    for schema in all_schemas {
        if !schemas.contains(&schema) {
            schemas.push(schema);
        }
    }
    let mut create: Vec<String> = schemas
        .iter()
        .map(|s| format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(s)))
        .collect();
    for extension in &catalog.extensions {
        create.extend(create_extension(catalog, extension));
    }
    create.extend(collations.iter().map(create_collation));
    create.extend(enums.iter().map(|e| create_enum(e)));
    create.extend(domains.iter().map(|d| create_domain(d)));
    create.extend(composites.iter().map(|t| create_composite(t)));
    for range in &ranges {
        if range.needs_shell {
            create.push(range_shell(range));
        }
        create.extend(range.function_definitions.iter().cloned());
        create.push(create_range(range));
    }
    create.extend(sequences.iter().map(|s| create_sequence(s)));
    create.extend(tables.iter().map(|t| create_table(catalog, t)));
    create.extend(tables.iter().filter_map(|t| table_settings(t)));
    create.extend(sequences.iter().filter_map(|s| sequence_owner(s)));
    let mut indexes = indexes(catalog, &tables);
    indexes.extend(tables.iter().filter_map(|t| replica_identity(t)));
    TableDdl {
        create,
        constraints: keys_and_checks(&tables),
        foreign_keys: foreign_keys(&tables),
        indexes,
        placements: placements(catalog, &tables),
    }
}

/// The placements of `tables` and of their indexes (a key's too).
fn placements(catalog: &Catalog, tables: &[&Table]) -> Vec<Placement> {
    let has_table =
        |schema: &str, name: &str| tables.iter().any(|t| t.schema == schema && t.name == name);
    // An index of one of the tables: one of the catalog's, or a key's (named as the key).
    let has_index = |schema: &str, name: &str| {
        let indexed = |i: &&Index| i.schema == schema && i.name == name;
        let keyed = |t: &&Table| t.schema == schema && t.constraints.iter().any(|c| c.name == name);
        catalog
            .indexes
            .iter()
            .find(indexed)
            .is_some_and(|i| has_table(&i.schema, &i.table))
            || tables.iter().any(keyed)
    };
    catalog
        .placements
        .iter()
        .filter(|p| match p.kind.as_str() {
            "TABLE" => has_table(&p.schema, &p.name),
            "INDEX" => has_index(&p.schema, &p.name),
            _ => false,
        })
        .cloned()
        .collect()
}

/// Keys, unique, check and exclusion constraints of `tables` (parents first), each declared
/// on its own table; a partition's key is then attached to its parent's (as pg_dump does,
/// so every partition keeps its own constraint name).
pub(super) fn keys_and_checks(tables: &[&Table]) -> Vec<String> {
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
pub(super) fn foreign_keys(tables: &[&Table]) -> Vec<String> {
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
pub(super) fn indexes(catalog: &Catalog, tables: &[&Table]) -> Vec<String> {
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
pub(super) fn replica_identity(t: &Table) -> Option<String> {
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

/// `ALTER SEQUENCE .. OWNED BY` for a sequence owned by a column (serial).
pub(super) fn sequence_owner(seq: &Sequence) -> Option<String> {
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

pub(super) fn create_sequence(s: &Sequence) -> String {
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
pub(super) fn create_table(catalog: &Catalog, t: &Table) -> String {
    let kind = if t.unlogged { "UNLOGGED " } else { "" };
    let partition_by = t
        .partition_key
        .as_ref()
        .map(|key| format!(" PARTITION BY {key}"))
        .unwrap_or_default();
    if let Some(of) = &t.partition_of {
        let parent = catalog.table_in(&of.parent.0, &of.parent.1);
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

/// `ALTER TABLE ONLY .. SET (..), ALTER COLUMN ..` for the storage parameters and column
/// settings the table has (none when all are the defaults). Setting them again changes
/// nothing.
pub(super) fn table_settings(t: &Table) -> Option<String> {
    (!t.settings.is_empty()).then(|| {
        format!(
            "ALTER TABLE ONLY {} {}",
            t.qualified(),
            t.settings.join(", ")
        )
    })
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
