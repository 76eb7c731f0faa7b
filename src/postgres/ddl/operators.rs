//! Operators, operator families and classes, casts and conversions, each unless it exists.

use super::{if_missing, named_in_schema, qualified};
use crate::postgres::catalog::{Cast, Conversion, Operator, OperatorClass, OperatorFamily};
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

/// An operator family (or class) of `method` named `name` in `schema`, as a query.
fn with_method(catalog: &str, prefix: &str, schema: &str, name: &str, method: &str) -> String {
    format!(
        "{} AND x.{prefix}method = (SELECT oid FROM pg_am WHERE amname = {})",
        named_in_schema(catalog, prefix, schema, name),
        quote_literal(method)
    )
}

/// The family and the members its classes do not bring, together, when it is missing.
pub(super) fn family(f: &OperatorFamily) -> String {
    let name = format!(
        "{} USING {}",
        qualified(&f.schema, &f.name),
        quote_ident(&f.method)
    );
    let mut statements = vec![format!("CREATE OPERATOR FAMILY {name}")];
    if !f.loose_members.is_empty() {
        statements.push(format!(
            "ALTER OPERATOR FAMILY {name} ADD\n      {}",
            f.loose_members.join(",\n      ")
        ));
    }
    if_missing(
        &with_method("pg_opfamily", "opf", &f.schema, &f.name, &f.method),
        &statements.join(";\n    "),
    )
}

pub(super) fn class(c: &OperatorClass) -> String {
    let default = if c.default { " DEFAULT" } else { "" };
    if_missing(
        &with_method("pg_opclass", "opc", &c.schema, &c.name, &c.method),
        &format!(
            "CREATE OPERATOR CLASS {}{default} FOR TYPE {} USING {} FAMILY {} AS\n      {}",
            qualified(&c.schema, &c.name),
            c.for_type,
            quote_ident(&c.method),
            c.family,
            c.members.join(",\n      ")
        ),
    )
}

pub(super) fn conversion(c: &Conversion) -> String {
    let default = if c.default { "DEFAULT " } else { "" };
    if_missing(
        &named_in_schema("pg_conversion", "con", &c.schema, &c.name),
        &format!(
            "CREATE {default}CONVERSION {} FOR {} TO {} FROM {}",
            qualified(&c.schema, &c.name),
            quote_literal(&c.from_encoding),
            quote_literal(&c.to_encoding),
            c.function
        ),
    )
}
