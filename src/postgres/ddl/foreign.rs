//! Foreign data wrappers, servers, user mappings and foreign tables, each unless it exists.

use super::{if_missing, qualified};
use crate::postgres::catalog::{ForeignDataWrapper, ForeignServer, ForeignTable, UserMapping};
use crate::postgres::connect::{quote_ident, quote_literal};

/// ` OPTIONS (a 'x', b 'y')`, or nothing.
fn options(options: &[String]) -> String {
    if options.is_empty() {
        String::new()
    } else {
        format!(" OPTIONS ({})", options.join(", "))
    }
}

pub(super) fn wrapper(w: &ForeignDataWrapper) -> String {
    let mut create = format!("CREATE FOREIGN DATA WRAPPER {}", quote_ident(&w.name));
    if let Some(handler) = &w.handler {
        create.push_str(&format!(" HANDLER {handler}"));
    }
    if let Some(validator) = &w.validator {
        create.push_str(&format!(" VALIDATOR {validator}"));
    }
    create.push_str(&options(&w.options));
    if_missing(
        &format!(
            "SELECT 1 FROM pg_foreign_data_wrapper WHERE fdwname = {}",
            quote_literal(&w.name)
        ),
        &create,
    )
}

pub(super) fn server(s: &ForeignServer) -> String {
    let mut create = format!("CREATE SERVER IF NOT EXISTS {}", quote_ident(&s.name));
    if let Some(kind) = &s.server_type {
        create.push_str(&format!(" TYPE {}", quote_literal(kind)));
    }
    if let Some(version) = &s.version {
        create.push_str(&format!(" VERSION {}", quote_literal(version)));
    }
    create.push_str(&format!(
        " FOREIGN DATA WRAPPER {}{}",
        quote_ident(&s.wrapper),
        options(&s.options)
    ));
    create
}

pub(super) fn user_mapping(m: &UserMapping) -> String {
    let user = m.user.as_deref().map_or("PUBLIC".to_string(), quote_ident);
    format!(
        "CREATE USER MAPPING IF NOT EXISTS FOR {user} SERVER {}{}",
        quote_ident(&m.server),
        options(&m.options)
    )
}

/// `CREATE FOREIGN TABLE`: with its columns and checks, or as a partition of its parent
/// (whose columns and checks it takes).
pub(super) fn table(t: &ForeignTable) -> String {
    let shape = match &t.partition_of {
        Some(p) => format!(
            " PARTITION OF {} {}",
            qualified(&p.parent.0, &p.parent.1),
            p.bound
        ),
        None => {
            let mut lines = t.columns.clone();
            lines.extend(t.checks.iter().cloned());
            format!(" (\n    {}\n)", lines.join(",\n    "))
        }
    };
    format!(
        "CREATE FOREIGN TABLE IF NOT EXISTS {}{shape} SERVER {}{}",
        qualified(&t.schema, &t.name),
        quote_ident(&t.server),
        options(&t.options)
    )
}
