//! Text search parsers, templates, dictionaries and configurations, each unless it exists.

use super::{if_missing, named_in_schema, qualified};
use crate::postgres::catalog::{
    TextSearchConfiguration, TextSearchDictionary, TextSearchParser, TextSearchTemplate,
};

pub(super) fn parser(p: &TextSearchParser) -> String {
    if_missing(
        &named_in_schema("pg_ts_parser", "prs", &p.schema, &p.name),
        &format!(
            "CREATE TEXT SEARCH PARSER {} ({})",
            qualified(&p.schema, &p.name),
            p.functions
        ),
    )
}

pub(super) fn template(t: &TextSearchTemplate) -> String {
    if_missing(
        &named_in_schema("pg_ts_template", "tmpl", &t.schema, &t.name),
        &format!(
            "CREATE TEXT SEARCH TEMPLATE {} ({})",
            qualified(&t.schema, &t.name),
            t.functions
        ),
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
