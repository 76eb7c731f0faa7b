//! User-defined operators, operator classes and families, casts and conversions: what a
//! schema adds to how values are compared and converted.

use tokio_postgres::GenericClient;

use super::queries::{Queries, not_in_extension};
use crate::error::Result;

/// `CREATE OPERATOR`: its identity and its whole definition.
#[derive(Debug, Clone)]
pub struct Operator {
    pub schema: String,
    pub name: String,
    /// `NONE` for a prefix operator's left argument.
    pub left: String,
    pub right: String,
    /// `FUNCTION = .., LEFTARG = .., ..`, as `CREATE OPERATOR` takes them.
    pub options: String,
}

/// `CREATE CAST` between types of which one (or the function) is the catalog's own.
#[derive(Debug, Clone)]
pub struct Cast {
    pub source: String,
    pub target: String,
    /// `WITH FUNCTION f(t)`, `WITHOUT FUNCTION` or `WITH INOUT`, then `AS ASSIGNMENT` /
    /// `AS IMPLICIT` when so.
    pub how: String,
}

/// `CREATE OPERATOR FAMILY`, with the members no class of it brings (cross-type operators
/// and support functions added by `ALTER OPERATOR FAMILY .. ADD`).
#[derive(Debug, Clone)]
pub struct OperatorFamily {
    pub schema: String,
    pub name: String,
    /// The index access method: `btree`, `hash`, `gist`, ...
    pub method: String,
    /// `OPERATOR 1 <(numeric,numeric)`, `FUNCTION 1 (numeric, numeric) f(numeric,numeric)`.
    pub loose_members: Vec<String>,
}

/// `CREATE OPERATOR CLASS`, in its family (created first, as pg_dump does).
#[derive(Debug, Clone)]
pub struct OperatorClass {
    pub schema: String,
    pub name: String,
    pub method: String,
    pub default: bool,
    /// The indexed type, as `format_type` renders it.
    pub for_type: String,
    /// The family, schema-qualified.
    pub family: String,
    /// `STORAGE t` when the index stores another type, then its operators and functions,
    /// written as [`OperatorFamily::loose_members`] are.
    pub members: Vec<String>,
}

/// `CREATE [DEFAULT] CONVERSION`.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub schema: String,
    pub name: String,
    pub default: bool,
    pub from_encoding: String,
    pub to_encoding: String,
    /// The conversion function, schema-qualified when not built in.
    pub function: String,
}

/// The members of the operator family `family` (an oid expression) that depend on
/// `owner_class` (`pg_opfamily`: loose ones; `pg_opclass`: a class's) through `owner`, as
/// `CREATE OPERATOR CLASS` and `ALTER OPERATOR FAMILY .. ADD` write them.
fn members(family: &str, owner_class: &str, owner: &str) -> String {
    format!(
        "ARRAY(SELECT m FROM (
            SELECT 1 AS k, a.amopstrategy AS n, 'OPERATOR ' || a.amopstrategy || ' ' || a.amopopr::regoperator::text
                || CASE WHEN a.amoppurpose = 'o' THEN ' FOR ORDER BY ' || quote_ident(sn.nspname) || '.' || quote_ident(sf.opfname)
                   ELSE '' END AS m
            FROM pg_amop a JOIN pg_depend d ON d.classid = 'pg_amop'::regclass AND d.objid = a.oid
            LEFT JOIN pg_opfamily sf ON sf.oid = a.amopsortfamily LEFT JOIN pg_namespace sn ON sn.oid = sf.opfnamespace
            WHERE a.amopfamily = {family} AND d.refclassid = '{owner_class}'::regclass AND d.refobjid = {owner}
          UNION ALL
            SELECT 2, p.amprocnum, 'FUNCTION ' || p.amprocnum || ' (' || format_type(p.amproclefttype, NULL) || ', '
                || format_type(p.amprocrighttype, NULL) || ') ' || p.amproc::regprocedure::text
            FROM pg_amproc p JOIN pg_depend d ON d.classid = 'pg_amproc'::regclass AND d.objid = p.oid
            WHERE p.amprocfamily = {family} AND d.refclassid = '{owner_class}'::regclass AND d.refobjid = {owner}
        ) x ORDER BY k, n, m)"
    )
}

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn operators(&self) -> Result<Vec<Operator>> {
        let sql = format!(
            "SELECT n.nspname::text, o.oprname::text,
                CASE WHEN o.oprleft = 0 THEN 'NONE' ELSE format_type(o.oprleft, NULL) END,
                format_type(o.oprright, NULL),
                concat_ws(', ', 'FUNCTION = ' || o.oprcode::regproc::text,
                    CASE WHEN o.oprleft <> 0 THEN 'LEFTARG = ' || format_type(o.oprleft, NULL) END,
                    'RIGHTARG = ' || format_type(o.oprright, NULL),
                    CASE WHEN o.oprcom <> 0 THEN 'COMMUTATOR = OPERATOR(' || quote_ident(cn.nspname) || '.' || c.oprname || ')' END,
                    CASE WHEN o.oprnegate <> 0 THEN 'NEGATOR = OPERATOR(' || quote_ident(ngn.nspname) || '.' || ng.oprname || ')' END,
                    CASE WHEN o.oprrest <> 0 THEN 'RESTRICT = ' || o.oprrest::regproc::text END,
                    CASE WHEN o.oprjoin <> 0 THEN 'JOIN = ' || o.oprjoin::regproc::text END,
                    CASE WHEN o.oprcanhash THEN 'HASHES' END, CASE WHEN o.oprcanmerge THEN 'MERGES' END)
            FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
            LEFT JOIN pg_operator c ON c.oid = o.oprcom LEFT JOIN pg_namespace cn ON cn.oid = c.oprnamespace
            LEFT JOIN pg_operator ng ON ng.oid = o.oprnegate LEFT JOIN pg_namespace ngn ON ngn.oid = ng.oprnamespace
            WHERE n.nspname = ANY($1) AND o.oprcode <> 0 AND {}
            ORDER BY o.oid",
            not_in_extension("'pg_operator'::regclass", "o.oid")
        );
        Ok(self
            .rows("operators", &sql)
            .await?
            .iter()
            .map(|r| Operator {
                schema: r.get(0),
                name: r.get(1),
                left: r.get(2),
                right: r.get(3),
                options: r.get(4),
            })
            .collect())
    }

    pub(super) async fn casts(&self) -> Result<Vec<Cast>> {
        // A cast belongs to no schema: it is the catalog's when one of its types or its
        // function is (built-in casts have oids below 16384).
        let in_scope = |oid: &str, class: &str, column: &str| {
            format!(
                "EXISTS (SELECT 1 FROM {class} x JOIN pg_namespace s ON s.oid = x.{column} WHERE x.oid = {oid} AND s.nspname = ANY($1))"
            )
        };
        let sql = format!(
            "SELECT format_type(c.castsource, NULL), format_type(c.casttarget, NULL),
                CASE c.castmethod WHEN 'f' THEN 'WITH FUNCTION ' || c.castfunc::regprocedure::text
                     WHEN 'i' THEN 'WITH INOUT' ELSE 'WITHOUT FUNCTION' END
                || CASE c.castcontext WHEN 'a' THEN ' AS ASSIGNMENT' WHEN 'i' THEN ' AS IMPLICIT' ELSE '' END
            FROM pg_cast c
            WHERE c.oid >= 16384 AND {} AND ({} OR {} OR {})
            ORDER BY c.oid",
            not_in_extension("'pg_cast'::regclass", "c.oid"),
            in_scope("c.castsource", "pg_type", "typnamespace"),
            in_scope("c.casttarget", "pg_type", "typnamespace"),
            in_scope("c.castfunc", "pg_proc", "pronamespace"),
        );
        Ok(self
            .rows("casts", &sql)
            .await?
            .iter()
            .map(|r| Cast {
                source: r.get(0),
                target: r.get(1),
                how: r.get(2),
            })
            .collect())
    }

    pub(super) async fn operator_families(&self) -> Result<Vec<OperatorFamily>> {
        let sql = format!(
            "SELECT n.nspname::text, f.opfname::text, am.amname::text, {}
            FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod
            WHERE n.nspname = ANY($1) AND {}
            ORDER BY f.oid",
            members("f.oid", "pg_opfamily", "f.oid"),
            not_in_extension("'pg_opfamily'::regclass", "f.oid")
        );
        Ok(self
            .rows("operator families", &sql)
            .await?
            .iter()
            .map(|r| OperatorFamily {
                schema: r.get(0),
                name: r.get(1),
                method: r.get(2),
                loose_members: r.get(3),
            })
            .collect())
    }

    pub(super) async fn operator_classes(&self) -> Result<Vec<OperatorClass>> {
        let sql = format!(
            "SELECT n.nspname::text, c.opcname::text, am.amname::text, c.opcdefault, format_type(c.opcintype, NULL),
                quote_ident(fn.nspname) || '.' || quote_ident(f.opfname),
                ARRAY(SELECT 'STORAGE ' || format_type(c.opckeytype, NULL) WHERE c.opckeytype <> 0) || {}
            FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace JOIN pg_am am ON am.oid = c.opcmethod
            JOIN pg_opfamily f ON f.oid = c.opcfamily JOIN pg_namespace fn ON fn.oid = f.opfnamespace
            WHERE n.nspname = ANY($1) AND {}
            ORDER BY c.oid",
            members("c.opcfamily", "pg_opclass", "c.oid"),
            not_in_extension("'pg_opclass'::regclass", "c.oid")
        );
        Ok(self
            .rows("operator classes", &sql)
            .await?
            .iter()
            .map(|r| OperatorClass {
                schema: r.get(0),
                name: r.get(1),
                method: r.get(2),
                default: r.get(3),
                for_type: r.get(4),
                family: r.get(5),
                members: r.get(6),
            })
            .collect())
    }

    pub(super) async fn conversions(&self) -> Result<Vec<Conversion>> {
        let sql = format!(
            "SELECT n.nspname::text, c.conname::text, c.condefault, pg_encoding_to_char(c.conforencoding)::text,
                pg_encoding_to_char(c.contoencoding)::text, c.conproc::regproc::text
            FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname = ANY($1) AND {}
            ORDER BY 1, 2",
            not_in_extension("'pg_conversion'::regclass", "c.oid")
        );
        Ok(self
            .rows("conversions", &sql)
            .await?
            .iter()
            .map(|r| Conversion {
                schema: r.get(0),
                name: r.get(1),
                default: r.get(2),
                from_encoding: r.get(3),
                to_encoding: r.get(4),
                function: r.get(5),
            })
            .collect())
    }
}
