//! Text search objects: parsers and templates (made of C functions, often built-in ones),
//! dictionaries and configurations.

use tokio_postgres::GenericClient;

use super::queries::{Queries, not_in_extension};
use crate::error::Result;

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

/// `CREATE TEXT SEARCH PARSER`.
#[derive(Debug, Clone)]
pub struct TextSearchParser {
    pub schema: String,
    pub name: String,
    /// `START = .., GETTOKEN = .., END = .., LEXTYPES = ..[, HEADLINE = ..]`.
    pub functions: String,
}

/// `CREATE TEXT SEARCH TEMPLATE`.
#[derive(Debug, Clone)]
pub struct TextSearchTemplate {
    pub schema: String,
    pub name: String,
    /// `[INIT = .., ]LEXIZE = ..`.
    pub functions: String,
}

impl<C: GenericClient + Sync> Queries<'_, C> {
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

    pub(super) async fn text_search_parsers(&self) -> Result<Vec<TextSearchParser>> {
        let sql = format!(
            "SELECT n.nspname::text, p.prsname::text,
                concat_ws(', ', 'START = ' || p.prsstart::regproc::text, 'GETTOKEN = ' || p.prstoken::regproc::text,
                          'END = ' || p.prsend::regproc::text, 'LEXTYPES = ' || p.prslextype::regproc::text,
                          CASE WHEN p.prsheadline <> 0 THEN 'HEADLINE = ' || p.prsheadline::regproc::text END)
            FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace
            WHERE n.nspname = ANY($1) AND {}
            ORDER BY 1, 2",
            not_in_extension("'pg_ts_parser'::regclass", "p.oid")
        );
        Ok(self
            .rows("text search parsers", &sql)
            .await?
            .iter()
            .map(|r| TextSearchParser {
                schema: r.get(0),
                name: r.get(1),
                functions: r.get(2),
            })
            .collect())
    }

    pub(super) async fn text_search_templates(&self) -> Result<Vec<TextSearchTemplate>> {
        let sql = format!(
            "SELECT n.nspname::text, t.tmplname::text,
                concat_ws(', ', CASE WHEN t.tmplinit <> 0 THEN 'INIT = ' || t.tmplinit::regproc::text END,
                          'LEXIZE = ' || t.tmpllexize::regproc::text)
            FROM pg_ts_template t JOIN pg_namespace n ON n.oid = t.tmplnamespace
            WHERE n.nspname = ANY($1) AND {}
            ORDER BY 1, 2",
            not_in_extension("'pg_ts_template'::regclass", "t.oid")
        );
        Ok(self
            .rows("text search templates", &sql)
            .await?
            .iter()
            .map(|r| TextSearchTemplate {
                schema: r.get(0),
                name: r.get(1),
                functions: r.get(2),
            })
            .collect())
    }
}
