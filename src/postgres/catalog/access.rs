//! Who owns each object and who may use it: owners, privileges (`GRANT`, column grants)
//! and default privileges.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::queries::{Queries, WHOLE_DATABASE, not_in_extension};
use super::{Policy, UserMapping};
use crate::error::Result;
#[cfg(doc)]
use crate::postgres::connect::quote_ident;

/// Who may do what: row-level security policies, owners and privileges of every object,
/// default privileges. Kept apart from the rest of a catalog because it names roles, which
/// belong to the cluster: `--no-owner`, `--no-privileges` and missing roles change it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Access {
    pub policies: Vec<Policy>,
    /// As whom a role (or PUBLIC) uses a foreign server.
    #[serde(default)]
    pub user_mappings: Vec<UserMapping>,
    /// Owners and privileges of every object of the catalog, and of its schemas.
    pub objects: Vec<ObjectAccess>,
    pub default_privileges: Vec<DefaultPrivileges>,
}

/// One object's owner and privileges, or one column's privileges.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectAccess {
    /// The object kind in `ALTER <kind> .. OWNER TO`: `TABLE`, `MATERIALIZED VIEW`, `AGGREGATE`.
    pub kind: String,
    /// The object kind in `GRANT .. ON <kind>`; `None` for kinds without privileges.
    pub grant_kind: Option<String>,
    /// The object as SQL: `sales.orders`, `catalog.concat_step(acc text, item text)`.
    pub identity: String,
    /// For a column's privileges: the column.
    pub column: Option<String>,
    /// `None` once left out: its role is missing where the catalog is recreated.
    pub owner: Option<String>,
    /// Whether the owner is the object's own to set (a sequence owned by a column follows
    /// its table's; a column has none; `--no-owner` leaves every owner out).
    pub has_own_owner: bool,
    /// The privileges; `None` when they are the kind's defaults (nothing to grant).
    pub acl: Option<Vec<Grant>>,
}

/// Privileges one role (or `PUBLIC`) holds, as one `GRANT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `None` for `PUBLIC`.
    pub grantee: Option<String>,
    pub privileges: Vec<String>,
    pub grantable: bool,
    /// Who granted it, when not the owner (a role holding the grant option): the grant is
    /// made as that role.
    #[serde(default)]
    pub grantor: Option<String>,
}

/// `ALTER DEFAULT PRIVILEGES FOR ROLE .. [IN SCHEMA ..]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DefaultPrivileges {
    pub role: String,
    /// `None`: the role's defaults everywhere, which replace the built-in ones.
    pub schema: Option<String>,
    /// `TABLES`, `SEQUENCES`, `FUNCTIONS`, `TYPES` or `SCHEMAS`.
    pub objects: String,
    pub grants: Vec<Grant>,
}

/// An `aclitem[]` as an array of `privilege, grantable, grantor, grantee` texts separated
/// by a unit separator (grantor empty when it is `owner`, grantee empty for PUBLIC), in the
/// array's order: parsed by [`grants`].
fn exploded(acl: &str, owner: &str) -> String {
    format!(
        "ARRAY(SELECT concat_ws(chr(31), x.privilege_type, x.is_grantable::text,
                CASE WHEN x.grantor = {owner} THEN '' ELSE pg_get_userbyid(x.grantor) END,
                CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee) END)
              FROM aclexplode({acl}) x)"
    )
}

/// The access query's rows for the objects of catalog `table` in the read schemas that have
/// an owner and no privileges; `prefix` starts its columns' names (`coll`: `collname`,
/// `collowner`, `collnamespace`).
fn owned_in_schema(table: &str, kind: &str, prefix: &str) -> String {
    format!(
        "SELECT '{table}'::regclass, x.oid, '{kind}', NULL,
            quote_ident(n.nspname) || '.' || quote_ident(x.{prefix}name), x.{prefix}owner, true, NULL
         FROM {table} x JOIN pg_namespace n ON n.oid = x.{prefix}namespace WHERE n.nspname = ANY($1)"
    )
}

/// `name` always quoted, as [`quote_ident`] quotes it: objects of the database are matched
/// with their own entries by that form.
fn quoted(name: &str) -> String {
    format!("'\"' || replace({name}, '\"', '\"\"') || '\"'")
}

/// [`exploded`] items grouped into one grant per grantee, grant option and grantor.
fn grants(items: Vec<String>) -> Vec<Grant> {
    let mut out: Vec<Grant> = Vec::new();
    let role = |r: Option<&str>| r.filter(|r| !r.is_empty()).map(str::to_string);
    for item in items {
        let mut parts = item.splitn(4, '\u{1f}');
        let (privilege, grantable, grantor, grantee) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next() == Some("true"),
            role(parts.next()),
            role(parts.next()),
        );
        match out.last_mut() {
            Some(g) if g.grantee == grantee && g.grantable == grantable && g.grantor == grantor => {
                g.privileges.push(privilege)
            }
            _ => out.push(Grant {
                grantee,
                privileges: vec![privilege],
                grantable,
                grantor,
            }),
        }
    }
    out
}

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn access(&self) -> Result<Vec<ObjectAccess>> {
        let not_in_extension = not_in_extension("o.classid", "o.oid");
        let sql = format!(
            "WITH objects(classid, oid, kind, grant_kind, identity, owner, own_owner, acl) AS (
                SELECT 'pg_namespace'::regclass, n.oid, 'SCHEMA', 'SCHEMA', quote_ident(n.nspname), n.nspowner, true, n.nspacl
                FROM pg_namespace n WHERE n.nspname = ANY($1)
              UNION ALL
                SELECT 'pg_class'::regclass, c.oid,
                    CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                         WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                    CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                    quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relowner,
                    NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')),
                    c.relacl
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
              UNION ALL
                SELECT 'pg_proc'::regclass, p.oid,
                    CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
                    CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                    quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                    p.proowner, true, p.proacl
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')
              UNION ALL
                SELECT 'pg_type'::regclass, t.oid, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, 'TYPE',
                    format_type(t.oid, NULL), t.typowner, true, t.typacl
                FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE n.nspname = ANY($1) AND (t.typtype IN ('e', 'd', 'r')
                      OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')))
              UNION ALL
                {collation}
              UNION ALL
                {statistics}
              UNION ALL
                SELECT 'pg_operator'::regclass, o.oid, 'OPERATOR', NULL,
                    quote_ident(n.nspname) || '.' || o.oprname || ' (' || CASE WHEN o.oprleft = 0 THEN 'NONE'
                        ELSE format_type(o.oprleft, NULL) END || ', ' || format_type(o.oprright, NULL) || ')',
                    o.oprowner, true, NULL
                FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
                WHERE n.nspname = ANY($1) AND o.oprcode <> 0
              UNION ALL
                SELECT 'pg_opfamily'::regclass, f.oid, 'OPERATOR FAMILY', NULL,
                    quote_ident(n.nspname) || '.' || quote_ident(f.opfname) || ' USING ' || quote_ident(am.amname),
                    f.opfowner, true, NULL
                FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod
                WHERE n.nspname = ANY($1)
              UNION ALL
                SELECT 'pg_opclass'::regclass, c.oid, 'OPERATOR CLASS', NULL,
                    quote_ident(n.nspname) || '.' || quote_ident(c.opcname) || ' USING ' || quote_ident(am.amname),
                    c.opcowner, true, NULL
                FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace JOIN pg_am am ON am.oid = c.opcmethod
                WHERE n.nspname = ANY($1)
              UNION ALL
                {conversions}
              UNION ALL
                SELECT 'pg_language'::regclass, l.oid, 'LANGUAGE', 'LANGUAGE', quote_ident(l.lanname), l.lanowner, true,
                    l.lanacl
                FROM pg_language l WHERE l.lanispl AND {WHOLE_DATABASE}
              UNION ALL
                {dictionaries}
              UNION ALL
                {configurations}
              UNION ALL
                SELECT 'pg_foreign_data_wrapper'::regclass, w.oid, 'FOREIGN DATA WRAPPER', 'FOREIGN DATA WRAPPER', {},
                    w.fdwowner, true, w.fdwacl
                FROM pg_foreign_data_wrapper w
              UNION ALL
                SELECT 'pg_foreign_server'::regclass, s.oid, 'SERVER', 'FOREIGN SERVER', {}, s.srvowner, true, s.srvacl
                FROM pg_foreign_server s
              UNION ALL
                SELECT 'pg_publication'::regclass, p.oid, 'PUBLICATION', NULL, {}, p.pubowner, true, NULL
                FROM pg_publication p
              UNION ALL
                SELECT 'pg_subscription'::regclass, s.oid, 'SUBSCRIPTION', NULL, {}, s.subowner,
                    true, NULL
                FROM pg_subscription s WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              UNION ALL
                SELECT 'pg_event_trigger'::regclass, e.oid, 'EVENT TRIGGER', NULL, {}, e.evtowner,
                    true, NULL
                FROM pg_event_trigger e WHERE {WHOLE_DATABASE})
            SELECT o.kind, o.grant_kind, o.identity, NULL::text, pg_get_userbyid(o.owner),
                o.own_owner AND {not_in_extension}, o.acl IS NOT NULL, {}
            FROM objects o
            -- an extension's member, only for privileges changed since the extension made it
            WHERE {not_in_extension} OR o.acl IS DISTINCT FROM (SELECT i.initprivs FROM pg_init_privs i
                  WHERE i.classoid = o.classid AND i.objoid = o.oid AND i.objsubid = 0)
            UNION ALL
            SELECT 'TABLE', 'TABLE', quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname::text,
                pg_get_userbyid(c.relowner), false, true, {}
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) AND a.attacl IS NOT NULL AND NOT a.attisdropped
            ORDER BY 1, 3, 4 NULLS FIRST",
            quoted("w.fdwname"),
            quoted("s.srvname"),
            quoted("p.pubname"),
            quoted("s.subname"),
            quoted("e.evtname"),
            exploded("o.acl", "o.owner"),
            exploded("a.attacl", "c.relowner"),
            collation = owned_in_schema("pg_collation", "COLLATION", "coll"),
            statistics = owned_in_schema("pg_statistic_ext", "STATISTICS", "stx"),
            conversions = owned_in_schema("pg_conversion", "CONVERSION", "con"),
            dictionaries = owned_in_schema("pg_ts_dict", "TEXT SEARCH DICTIONARY", "dict"),
            configurations = owned_in_schema("pg_ts_config", "TEXT SEARCH CONFIGURATION", "cfg"),
        );
        Ok(self
            .rows("owners and privileges", &sql)
            .await?
            .into_iter()
            .map(|r| {
                let has_acl: bool = r.get(6);
                ObjectAccess {
                    kind: r.get(0),
                    grant_kind: r.get(1),
                    identity: r.get(2),
                    column: r.get(3),
                    owner: Some(r.get(4)),
                    has_own_owner: r.get(5),
                    acl: has_acl.then(|| grants(r.get(7))),
                }
            })
            .collect())
    }

    pub(super) async fn default_privileges(&self) -> Result<Vec<DefaultPrivileges>> {
        // A role's database-wide defaults belong to a dump of the whole database only
        // (pg_dump's rule): every user schema is being read.
        let sql = format!(
            "SELECT pg_get_userbyid(d.defaclrole), n.nspname::text,
                CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS'
                     WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END, {}
            FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
            WHERE n.nspname = ANY($1) OR (d.defaclnamespace = 0 AND {WHOLE_DATABASE})
            ORDER BY 1, 2 NULLS FIRST, 3",
            exploded("d.defaclacl", "d.defaclrole")
        );
        Ok(self
            .rows("default privileges", &sql)
            .await?
            .into_iter()
            .map(|r| DefaultPrivileges {
                role: r.get(0),
                schema: r.get(1),
                objects: r.get(2),
                grants: grants(r.get(3)),
            })
            .collect())
    }
}

impl Access {
    /// Every role the catalog names: owners, grantees, policies' and default privileges'.
    pub fn roles(&self) -> BTreeSet<String> {
        let mut roles = BTreeSet::new();
        for a in &self.objects {
            if a.has_own_owner || a.acl.is_some() {
                roles.extend(a.owner.clone());
            }
            for g in a.acl.iter().flatten() {
                roles.extend(g.grantee.iter().chain(&g.grantor).cloned());
            }
        }
        for d in &self.default_privileges {
            roles.insert(d.role.clone());
            for g in &d.grants {
                roles.extend(g.grantee.iter().chain(&g.grantor).cloned());
            }
        }
        for p in &self.policies {
            roles.extend(p.roles.iter().cloned());
        }
        roles.extend(self.user_mappings.iter().filter_map(|m| m.user.clone()));
        roles
    }

    /// `--no-owner`: every object belongs to whoever recreates it, who makes every grant.
    pub fn without_owners(&mut self) {
        for a in &mut self.objects {
            a.has_own_owner = false;
            for g in a.acl.iter_mut().flatten() {
                g.grantor = None;
            }
        }
        for g in self
            .default_privileges
            .iter_mut()
            .flat_map(|d| &mut d.grants)
        {
            g.grantor = None;
        }
    }

    /// `--no-privileges`: objects keep the privileges they are created with.
    pub fn without_privileges(&mut self) {
        for a in &mut self.objects {
            a.acl = None;
        }
        self.default_privileges.clear();
    }

    /// Leaves out everything that names one of `missing`: owners, grants, default
    /// privileges, user mappings, and a policy's role (the policy itself once it has no role left, rather
    /// than widening it to PUBLIC). Returns one line for each thing left out.
    pub fn without_roles(&mut self, missing: &BTreeSet<String>) -> Vec<String> {
        let gone = |role: &String| missing.contains(role);
        let mut left_out = Vec::new();
        for a in &mut self.objects {
            let what = match &a.column {
                Some(column) => format!("{}.{column}", a.identity),
                None => a.identity.clone(),
            };
            if a.owner.as_ref().is_some_and(gone) {
                if a.has_own_owner {
                    left_out.push(format!("owner of {what}"));
                }
                a.owner = None;
            }
            if let Some(acl) = &mut a.acl {
                acl.retain_mut(|g| {
                    if g.grantor.as_ref().is_some_and(gone) {
                        left_out.push(format!("grantor of a grant on {what}"));
                        g.grantor = None;
                    }
                    let keep = !g.grantee.as_ref().is_some_and(gone);
                    if !keep {
                        left_out.push(format!("grant on {what}"));
                    }
                    keep
                });
            }
        }
        self.default_privileges.retain_mut(|d| {
            d.grants.retain(|g| !g.grantee.as_ref().is_some_and(gone));
            let keep = !gone(&d.role);
            if !keep || d.grants.is_empty() {
                left_out.push(format!("default privileges of {} on {}", d.role, d.objects));
            }
            keep && !d.grants.is_empty()
        });
        self.policies.retain_mut(|p| {
            let had = p.roles.len();
            p.roles.retain(|r| !gone(r));
            let keep = had == 0 || !p.roles.is_empty();
            if p.roles.len() < had {
                let what = if keep { "a role of policy" } else { "policy" };
                left_out.push(format!("{what} {} on {}.{}", p.name, p.schema, p.table));
            }
            keep
        });
        self.user_mappings.retain(|m| {
            let keep = !m.user.as_ref().is_some_and(gone);
            if !keep {
                left_out.push(format!(
                    "user mapping of {} on server {}",
                    m.user.as_deref().unwrap_or_default(),
                    m.server
                ));
            }
            keep
        });
        left_out.sort();
        left_out.dedup();
        left_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exploded_items_group_by_grantee_grant_option_and_grantor() {
        let items = [
            "SELECT false  alice",
            "INSERT false  alice",
            "UPDATE true  alice",
            "USAGE false  ",
            "SELECT false  bob smith",
            "SELECT false alice carol",
        ];
        let items = items.iter().map(|s| s.replacen(' ', "\u{1f}", 3)).collect();
        let grants = grants(items);
        let summary: Vec<(Option<&str>, usize, bool, Option<&str>)> = grants
            .iter()
            .map(|g| {
                (
                    g.grantee.as_deref(),
                    g.privileges.len(),
                    g.grantable,
                    g.grantor.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Some("alice"), 2, false, None),
                (Some("alice"), 1, true, None),
                (None, 1, false, None),
                (Some("bob smith"), 1, false, None),
                (Some("carol"), 1, false, Some("alice")),
            ]
        );
    }
}
