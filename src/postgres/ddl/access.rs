//! Row-level security, owners, privileges and default privileges.

use super::{if_missing, qualified};
use crate::postgres::catalog::{DefaultPrivileges, Grant, ObjectAccess, Policy, Table};
use crate::postgres::connect::{quote_ident, quote_literal};

/// `ENABLE` / `FORCE ROW LEVEL SECURITY` as the table has them.
pub(super) fn row_security(t: &Table) -> Vec<String> {
    let mut out = Vec::new();
    if t.row_security {
        out.push(format!(
            "ALTER TABLE ONLY {} ENABLE ROW LEVEL SECURITY",
            t.qualified()
        ));
    }
    if t.force_row_security {
        out.push(format!(
            "ALTER TABLE ONLY {} FORCE ROW LEVEL SECURITY",
            t.qualified()
        ));
    }
    out
}

/// `CREATE POLICY` unless it exists, and its comment.
pub(super) fn create_policy(p: &Policy) -> Vec<String> {
    let table = qualified(&p.schema, &p.table);
    let roles = if p.roles.is_empty() {
        "PUBLIC".to_string()
    } else {
        role_list(&p.roles)
    };
    let mut create = format!(
        "CREATE POLICY {} ON {table} AS {} FOR {} TO {roles}",
        quote_ident(&p.name),
        if p.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        },
        p.command
    );
    if let Some(using) = &p.using {
        create.push_str(&format!(" USING ({using})"));
    }
    if let Some(check) = &p.with_check {
        create.push_str(&format!(" WITH CHECK ({check})"));
    }
    let mut out = vec![if_missing(
        &format!(
            "SELECT 1 FROM pg_policy WHERE polname = {} AND polrelid = {}::regclass",
            quote_literal(&p.name),
            quote_literal(&table)
        ),
        &create,
    )];
    out.extend(p.comment.as_ref().map(|text| {
        format!(
            "COMMENT ON POLICY {} ON {table} IS {}",
            quote_ident(&p.name),
            quote_literal(text)
        )
    }));
    out
}

/// `ALTER .. OWNER TO`, for an object whose owner is its own and known (an event
/// trigger's is set when it is created, last).
pub(super) fn owner(a: &ObjectAccess) -> Option<String> {
    let owner = (a.owner.as_ref())
        .filter(|_| a.has_own_owner && a.kind != super::database::EVENT_TRIGGER)?;
    Some(format!(
        "ALTER {} {} OWNER TO {}",
        a.kind,
        a.identity,
        quote_ident(owner)
    ))
}

/// The object's privileges exactly: everything revoked from PUBLIC and the owner, then
/// each grant of its ACL in order. A column's privileges are only granted (a column has
/// none by default).
pub(super) fn privileges(a: &ObjectAccess) -> Vec<String> {
    let (Some(kind), Some(acl)) = (&a.grant_kind, &a.acl) else {
        return Vec::new();
    };
    let on = format!("ON {kind} {}", a.identity);
    let mut out = Vec::new();
    if a.column.is_none() {
        out.push(format!("REVOKE ALL {on} FROM PUBLIC"));
        if let Some(owner) = &a.owner {
            out.push(format!("REVOKE ALL {on} FROM {}", quote_ident(owner)));
        }
    }
    for grant in acl {
        let privileges: Vec<String> = match &a.column {
            Some(column) => grant
                .privileges
                .iter()
                .map(|p| format!("{p} ({})", quote_ident(column)))
                .collect(),
            None => grant.privileges.clone(),
        };
        out.push(as_grantor(
            grant,
            format!("GRANT {} {on} {}", privileges.join(", "), to(grant)),
        ));
    }
    out
}

/// `statement` made as the grant's grantor, when that is not the owner (as pg_dump does).
fn as_grantor(grant: &Grant, statement: String) -> String {
    match &grant.grantor {
        Some(grantor) => format!("SET ROLE {}; {statement}; RESET ROLE", quote_ident(grantor)),
        None => statement,
    }
}

/// `ALTER DEFAULT PRIVILEGES`; a role's database-wide defaults replace the built-in ones,
/// so those are revoked first.
pub(super) fn default_privileges(d: &DefaultPrivileges) -> Vec<String> {
    let mut prefix = format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}", quote_ident(&d.role));
    let mut out = Vec::new();
    match &d.schema {
        Some(schema) => prefix.push_str(&format!(" IN SCHEMA {}", quote_ident(schema))),
        None => out.push(format!(
            "{prefix} REVOKE ALL ON {} FROM PUBLIC, {}",
            d.objects,
            quote_ident(&d.role)
        )),
    }
    for grant in &d.grants {
        out.push(as_grantor(
            grant,
            format!(
                "{prefix} GRANT {} ON {} {}",
                grant.privileges.join(", "),
                d.objects,
                to(grant)
            ),
        ));
    }
    out
}

/// `TO role [WITH GRANT OPTION]`.
fn to(grant: &Grant) -> String {
    let grantee = grant
        .grantee
        .as_deref()
        .map_or("PUBLIC".to_string(), quote_ident);
    let option = if grant.grantable {
        " WITH GRANT OPTION"
    } else {
        ""
    };
    format!("TO {grantee}{option}")
}

fn role_list(roles: &[String]) -> String {
    roles
        .iter()
        .map(|r| quote_ident(r))
        .collect::<Vec<_>>()
        .join(", ")
}
