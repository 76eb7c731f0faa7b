//! User-defined operators and casts, and text search dictionaries and configurations: what
//! a schema adds to how values are compared, converted and searched.

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

/// `CREATE TEXT SEARCH DICTIONARY`.
#[derive(Debug, Clone)]
pub struct TextSearchDictionary {
    pub schema: String,
    pub name: String,
    /// `TEMPLATE = .., option = ..`.
    pub options: String,
}

/// `CREATE TEXT SEARCH CONFIGURATION` with its token mappings.
#[derive(Debug, Clone)]
pub struct TextSearchConfiguration {
    pub schema: String,
    pub name: String,
    /// The parser, schema-qualified.
    pub parser: String,
    /// `ADD MAPPING FOR token WITH dict, ..` each.
    pub mappings: Vec<String>,
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

    pub(super) async fn text_search_dictionaries(&self) -> Result<Vec<TextSearchDictionary>> {
        let sql = format!(
            "SELECT n.nspname::text, d.dictname::text,
                concat_ws(', ', 'TEMPLATE = ' || quote_ident(tn.nspname) || '.' || quote_ident(t.tmplname),
                          d.dictinitoption)
            FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
            JOIN pg_ts_template t ON t.oid = d.dicttemplate JOIN pg_namespace tn ON tn.oid = t.tmplnamespace
            WHERE n.nspname = ANY($1) AND {}
            ORDER BY 1, 2",
            not_in_extension("'pg_ts_dict'::regclass", "d.oid")
        );
        Ok(self
            .rows("text search dictionaries", &sql)
            .await?
            .iter()
            .map(|r| TextSearchDictionary {
                schema: r.get(0),
                name: r.get(1),
                options: r.get(2),
            })
            .collect())
    }

    pub(super) async fn text_search_configurations(&self) -> Result<Vec<TextSearchConfiguration>> {
        let sql = format!(
            "SELECT n.nspname::text, c.cfgname::text, quote_ident(pn.nspname) || '.' || quote_ident(p.prsname),
                ARRAY(SELECT 'ADD MAPPING FOR ' || t.alias || ' WITH '
                             || string_agg(quote_ident(dn.nspname) || '.' || quote_ident(d.dictname), ', '
                                           ORDER BY m.mapseqno)
                      FROM pg_ts_config_map m JOIN ts_token_type(c.cfgparser) t ON t.tokid = m.maptokentype
                      JOIN pg_ts_dict d ON d.oid = m.mapdict JOIN pg_namespace dn ON dn.oid = d.dictnamespace
                      WHERE m.mapcfg = c.oid GROUP BY t.alias ORDER BY t.alias)
            FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
            JOIN pg_ts_parser p ON p.oid = c.cfgparser JOIN pg_namespace pn ON pn.oid = p.prsnamespace
            WHERE n.nspname = ANY($1) AND {}
            ORDER BY 1, 2",
            not_in_extension("'pg_ts_config'::regclass", "c.oid")
        );
        Ok(self
            .rows("text search configurations", &sql)
            .await?
            .iter()
            .map(|r| TextSearchConfiguration {
                schema: r.get(0),
                name: r.get(1),
                parser: r.get(2),
                mappings: r.get(3),
            })
            .collect())
    }
}
