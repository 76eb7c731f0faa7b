//! Operators, casts, text search dictionaries and configurations, each unless it exists.

use super::{if_missing, named_in_schema, qualified};
use crate::postgres::catalog::{Cast, Operator, TextSearchConfiguration, TextSearchDictionary};
use crate::postgres::connect::{quote_ident, quote_literal};

pub(super) fn operator(o: &Operator) -> String {
    // A commutator or negator created first left a shell of this one (no function yet).
    let exists = format!(
        "SELECT 1 FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
         WHERE n.nspname = {} AND o.oprname = {} AND o.oprcode <> 0
           AND o.oprleft = {} AND o.oprright = {}::regtype",
        quote_literal(&o.schema),
        quote_literal(&o.name),
        match o.left.as_str() {
            "NONE" => "0".to_string(),
            left => format!("{}::regtype", quote_literal(left)),
        },
        quote_literal(&o.right)
    );
    let create = format!(
        "CREATE OPERATOR {}.{} ({})",
        quote_ident(&o.schema),
        o.name,
        o.options
    );
    if_missing(&exists, &create)
}

pub(super) fn cast(c: &Cast) -> String {
    if_missing(
        &format!(
            "SELECT 1 FROM pg_cast WHERE castsource = {}::regtype AND casttarget = {}::regtype",
            quote_literal(&c.source),
            quote_literal(&c.target)
        ),
        &format!("CREATE CAST ({} AS {}) {}", c.source, c.target, c.how),
    )
}

pub(super) fn dictionary(d: &TextSearchDictionary) -> String {
    if_missing(
        &named_in_schema("pg_ts_dict", "dict", &d.schema, &d.name),
        &format!(
            "CREATE TEXT SEARCH DICTIONARY {} ({})",
            qualified(&d.schema, &d.name),
            d.options
        ),
    )
}

/// The configuration and its mappings, together, when it is missing.
pub(super) fn configuration(c: &TextSearchConfiguration) -> String {
    let name = qualified(&c.schema, &c.name);
    let mut statements = vec![format!(
        "CREATE TEXT SEARCH CONFIGURATION {name} (PARSER = {})",
        c.parser
    )];
    statements.extend(
        c.mappings
            .iter()
            .map(|m| format!("ALTER TEXT SEARCH CONFIGURATION {name} {m}")),
    );
    if_missing(
        &named_in_schema("pg_ts_config", "cfg", &c.schema, &c.name),
        &statements.join(";\n    "),
    )
}
