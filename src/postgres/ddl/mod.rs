//! DDL from the catalog: an idempotent SQL script that recreates a schema's metadata.
//!
//! Order: schemas, the extensions their objects use, collations, enum, domain, composite
//! and range types, the functions procedural languages are made of, then the languages,
//! functions that need no table, conversions, text search parsers, templates, dictionaries
//! and configurations, sequences, tables (then their storage parameters and column
//! settings), sequence ownership, foreign data wrappers, servers and foreign tables, the
//! tables' tablespaces; keys/unique/check/exclusion constraints, foreign keys (after every
//! table), functions that read tables, operators, casts, operator families and classes,
//! aggregates (after the functions they call), views (each after the views it reads),
//! indexes (after materialized views, which can carry them), extended statistics, replica
//! identities, row-level security, rules and triggers (with how they fire), publications,
//! subscriptions, comments, the tablespaces of indexes and materialized views; then
//! policies, user mappings, owners, privileges and default privileges (so they apply to
//! nothing the script creates); event triggers last (so they fire for nothing the script
//! does). Every statement is written so that running the script again changes nothing:
//! `IF NOT EXISTS`, `OR REPLACE`, or a `DO` block that checks the catalog first.

mod access;
mod database;
mod foreign;
mod operators;
mod tables;
mod tablespaces;
mod text_search;
mod types;

use std::fmt::Write as _;

use crate::postgres::catalog::{Access, Catalog, Extension, Firing, Statistics, View};
use crate::postgres::connect::{quote_ident, quote_literal};
pub use database::event_triggers;
pub use tables::{TableDdl, table_ddl};
use tables::{
    create_sequence, create_table, foreign_keys, indexes, keys_and_checks, replica_identity,
    sequence_owner, table_settings,
};
pub use tablespaces::placement_statements;

/// The statements that recreate `catalog`, in dependency order, without transaction control.
pub fn statements(catalog: &Catalog) -> Vec<String> {
    let Sections {
        mut pre_data,
        post_data,
    } = sections(catalog);
    let (before_rows, after_rows): (Vec<_>, Vec<_>) =
        catalog.placements.iter().partition(|p| p.before_rows());
    pre_data.extend(placement_statements(before_rows));
    pre_data.extend(post_data);
    pre_data.extend(placement_statements(after_rows));
    pre_data.extend(access_statements(&catalog.access));
    pre_data.extend(event_triggers(&catalog.event_triggers, &catalog.access));
    pre_data
}

/// Row-level security policies, user mappings, owners, privileges and default privileges
/// (last, so they apply to nothing the script creates): what follows [`sections`].
pub fn access_statements(access: &Access) -> Vec<String> {
    let mut out: Vec<String> = access
        .policies
        .iter()
        .flat_map(access::create_policy)
        .collect();
    out.extend(access.user_mappings.iter().map(foreign::user_mapping));
    out.extend(access.objects.iter().filter_map(access::owner));
    out.extend(access.objects.iter().flat_map(access::privileges));
    out.extend(
        access
            .default_privileges
            .iter()
            .flat_map(access::default_privileges),
    );
    out
}

/// [`statements`] but placements and [`access_statements`], in two parts as pg_dump's
/// sections: what rows need to be loaded, and what follows them (keys, foreign keys,
/// views, indexes, triggers, ..).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sections {
    pub pre_data: Vec<String>,
    pub post_data: Vec<String>,
}

pub fn sections(catalog: &Catalog) -> Sections {
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
    out.extend(catalog.collations.iter().map(types::create_collation));
    out.extend(catalog.enums.iter().map(types::create_enum));
    out.extend(catalog.domains.iter().map(types::create_domain));
    out.extend(catalog.composite_types.iter().map(types::create_composite));
    // A range type whose subtype_diff or canonical function is the catalog's own comes
    // after the functions (a canonical one takes the type: its shell goes first).
    let (own_function_ranges, ranges): (Vec<_>, Vec<_>) =
        catalog.range_types.iter().partition(|r| r.after_functions);
    out.extend(ranges.into_iter().map(types::create_range));
    let shells = own_function_ranges.iter().filter(|r| r.needs_shell);
    out.extend(shells.map(|r| types::range_shell(r)));
    let (language_functions, functions): (Vec<_>, Vec<_>) =
        catalog.functions.iter().partition(|f| f.serves_language);
    out.extend(language_functions.iter().map(|f| f.definition.clone()));
    out.extend(catalog.languages.iter().map(database::language));
    let (late, early): (Vec<_>, Vec<_>) = functions.into_iter().partition(|f| f.needs_tables);
    out.extend(early.iter().map(|f| f.definition.clone()));
    out.extend(own_function_ranges.into_iter().map(types::create_range));
    out.extend(catalog.conversions.iter().map(operators::conversion));
    out.extend(catalog.text_search_parsers.iter().map(text_search::parser));
    out.extend(
        catalog
            .text_search_templates
            .iter()
            .map(text_search::template),
    );
    out.extend((catalog.text_search_dictionaries.iter()).map(text_search::dictionary));
    out.extend((catalog.text_search_configurations.iter()).map(text_search::configuration));
    out.extend(catalog.sequences.iter().map(create_sequence));
    let tables = catalog.tables_in_creation_order();
    out.extend(tables.iter().map(|t| create_table(catalog, t)));
    out.extend(tables.iter().filter_map(|t| table_settings(t)));
    out.extend(catalog.sequences.iter().filter_map(sequence_owner));
    out.extend(catalog.foreign_data_wrappers.iter().map(foreign::wrapper));
    out.extend(catalog.foreign_servers.iter().map(foreign::server));
    out.extend(catalog.foreign_tables.iter().map(foreign::table));
    let pre_data = std::mem::take(&mut out);
    out.extend(keys_and_checks(&tables));
    out.extend(foreign_keys(&tables));
    out.extend(late.iter().map(|f| f.definition.clone()));
    // After every function they may call; before the views and indexes that use them.
    out.extend(catalog.operators.iter().map(operators::operator));
    out.extend(catalog.casts.iter().map(operators::cast));
    out.extend(catalog.operator_families.iter().map(operators::family));
    out.extend(catalog.operator_classes.iter().map(operators::class));
    out.extend(catalog.aggregates.iter().map(|a| a.definition.clone()));
    out.extend(catalog.views.iter().map(create_view));
    out.extend(indexes(catalog, &tables));
    out.extend(catalog.statistics.iter().flat_map(create_statistics));
    out.extend(tables.iter().filter_map(|t| replica_identity(t)));
    out.extend(tables.iter().flat_map(|t| access::row_security(t)));
    for rule in &catalog.rules {
        out.push(
            rule.definition
                .replacen("CREATE RULE", "CREATE OR REPLACE RULE", 1),
        );
        out.extend(firing(
            "RULE",
            &rule.schema,
            &rule.table,
            &rule.name,
            rule.firing,
        ));
    }
    for trigger in &catalog.triggers {
        let fires = firing(
            "TRIGGER",
            &trigger.schema,
            &trigger.table,
            &trigger.name,
            trigger.firing,
        );
        if trigger.cloned {
            out.extend(fires);
            continue;
        }
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
        out.extend(fires);
    }
    out.extend(catalog.publications.iter().flat_map(database::publication));
    out.extend(catalog.subscriptions.iter().map(database::subscription));
    for comment in &catalog.comments {
        out.push(format!(
            "COMMENT ON {} {} IS {}",
            comment.object_kind,
            comment.identity,
            quote_literal(&comment.text)
        ));
    }
    for label in &catalog.security_labels {
        out.push(format!(
            "SECURITY LABEL FOR {} ON {} {} IS {}",
            quote_ident(&label.provider),
            label.object_kind,
            label.identity,
            quote_literal(&label.label)
        ));
    }
    Sections {
        pre_data,
        post_data: out,
    }
}

/// `ALTER TABLE .. DISABLE | ENABLE REPLICA | ENABLE ALWAYS TRIGGER | RULE ..` for one that
/// does not fire by default (a re-created one does).
fn firing(what: &str, schema: &str, table: &str, name: &str, firing: Firing) -> Option<String> {
    firing.alter_words().map(|words| {
        format!(
            "ALTER TABLE {} {words} {what} {}",
            qualified(schema, table),
            quote_ident(name)
        )
    })
}

/// `CREATE STATISTICS`, and its statistics target when set.
fn create_statistics(s: &Statistics) -> Vec<String> {
    let mut out =
        vec![
            s.definition
                .replacen("CREATE STATISTICS", "CREATE STATISTICS IF NOT EXISTS", 1),
        ];
    if let Some(target) = s.target {
        out.push(format!(
            "ALTER STATISTICS {} SET STATISTICS {target}",
            qualified(&s.schema, &s.name)
        ));
    }
    out
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

pub(super) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A query that finds the object `name` of catalog `table` in `schema`; `prefix` starts its
/// columns' names (`dict`: `dictname`, `dictnamespace`).
pub(super) fn named_in_schema(table: &str, prefix: &str, schema: &str, name: &str) -> String {
    format!(
        "SELECT 1 FROM {table} x JOIN pg_namespace n ON n.oid = x.{prefix}namespace
         WHERE n.nspname = {} AND x.{prefix}name = {}",
        quote_literal(schema),
        quote_literal(name)
    )
}

/// A `DO` block that runs `statement` only when `exists_query` finds nothing.
pub(super) fn if_missing(exists_query: &str, statement: &str) -> String {
    format!(
        "DO $lakeshift$ BEGIN\n  IF NOT EXISTS ({exists_query}) THEN\n    {statement};\n  END IF;\nEND $lakeshift$"
    )
}

/// `CREATE EXTENSION`, after the schema it goes in when that is not one being created.
pub(super) fn create_extension(catalog: &Catalog, extension: &Extension) -> Vec<String> {
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
