//! Types and collations: enums, domains, composite and range types.

use std::fmt::Write as _;

use super::{if_missing, named_in_schema, qualified};
use crate::postgres::catalog::{Collation, CompositeType, Domain, EnumType, RangeType};
use crate::postgres::connect::{quote_ident, quote_literal};

fn type_exists(schema: &str, name: &str) -> String {
    named_in_schema("pg_type", "typ", schema, name)
}

pub(super) fn create_enum(e: &EnumType) -> String {
    let labels: Vec<String> = e.labels.iter().map(|l| quote_literal(l)).collect();
    let create = format!(
        "CREATE TYPE {} AS ENUM ({})",
        qualified(&e.schema, &e.name),
        labels.join(", ")
    );
    if_missing(&type_exists(&e.schema, &e.name), &create)
}

pub(super) fn create_domain(d: &Domain) -> String {
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

pub(super) fn create_composite(t: &CompositeType) -> String {
    let create = format!(
        "CREATE TYPE {} AS (\n    {}\n)",
        qualified(&t.schema, &t.name),
        t.attributes.join(",\n    ")
    );
    if_missing(&type_exists(&t.schema, &t.name), &create)
}

/// `CREATE TYPE .. AS RANGE`, unless it exists (a shell of it does not count).
pub(super) fn create_range(t: &RangeType) -> String {
    let create = format!(
        "CREATE TYPE {} AS RANGE ({})",
        qualified(&t.schema, &t.name),
        t.options
    );
    let defined = format!("{} AND x.typisdefined", type_exists(&t.schema, &t.name));
    if_missing(&defined, &create)
}

/// The shell a range type's own `canonical` function is declared with, before the type.
pub(super) fn range_shell(t: &RangeType) -> String {
    let create = format!("CREATE TYPE {}", qualified(&t.schema, &t.name));
    if_missing(&type_exists(&t.schema, &t.name), &create)
}

pub(super) fn create_collation(c: &Collation) -> String {
    format!(
        "CREATE COLLATION IF NOT EXISTS {} ({})",
        qualified(&c.schema, &c.name),
        c.options
    )
}
