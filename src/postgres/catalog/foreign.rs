//! Foreign data: wrappers, servers, user mappings and foreign tables. A wrapper or server
//! belongs to a catalog of the whole database, or to one whose foreign tables use it. A
//! foreign table's rows live on its server: only its definition is read, as pg_dump does
//! (a partitioned table's rows are read from its other partitions).

use tokio_postgres::GenericClient;

use super::queries::{Queries, WHOLE_DATABASE, not_in_extension};
use crate::error::Result;

/// `CREATE FOREIGN DATA WRAPPER` (one an extension brings comes with the extension).
#[derive(Debug, Clone)]
pub struct ForeignDataWrapper {
    pub name: String,
    /// Schema-qualified functions.
    pub handler: Option<String>,
    pub validator: Option<String>,
    /// `name 'value'` each.
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ForeignServer {
    pub name: String,
    pub wrapper: String,
    pub server_type: Option<String>,
    pub version: Option<String>,
    pub options: Vec<String>,
}

/// A user mapping; its options are read only where the reader may see them (a superuser,
/// or the mapping's own user), as pg_dump reads them. Part of [`super::Access`]: it names
/// a role.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UserMapping {
    pub server: String,
    /// `None` for `PUBLIC`.
    pub user: Option<String>,
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ForeignTable {
    pub schema: String,
    pub name: String,
    pub server: String,
    /// `name type [OPTIONS (..)] [COLLATE ..] [NOT NULL] [DEFAULT ..]` each, in order.
    pub columns: Vec<String>,
    /// `CONSTRAINT name CHECK (..)` each.
    pub checks: Vec<String>,
    pub options: Vec<String>,
    /// For a partition: its parent and bound; its columns are the parent's.
    pub partition_of: Option<super::PartitionOf>,
}

/// `options` (a `text[]` of `name=value`) as an array of `name 'value'`.
fn options(column: &str) -> String {
    format!(
        "ARRAY(SELECT quote_ident(option_name) || ' ' || quote_literal(option_value)
               FROM pg_options_to_table({column}))"
    )
}

/// The servers the catalog takes: all in a whole database, else those its foreign tables use.
const SERVER_TAKEN: &str = "EXISTS (SELECT 1 FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ft.ftserver = s.oid AND n.nspname = ANY($1))";

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn foreign_data_wrappers(&self) -> Result<Vec<ForeignDataWrapper>> {
        let sql = format!(
            "SELECT w.fdwname::text, nullif(w.fdwhandler, 0)::regproc::text,
                nullif(w.fdwvalidator, 0)::regproc::text, {}
            FROM pg_foreign_data_wrapper w
            WHERE {} AND ({WHOLE_DATABASE} OR EXISTS (SELECT 1 FROM pg_foreign_server s
                  WHERE s.srvfdw = w.oid AND {SERVER_TAKEN}))
            ORDER BY 1",
            options("w.fdwoptions"),
            not_in_extension("'pg_foreign_data_wrapper'::regclass", "w.oid")
        );
        Ok(self
            .rows("foreign data wrappers", &sql)
            .await?
            .iter()
            .map(|r| ForeignDataWrapper {
                name: r.get(0),
                handler: r.get(1),
                validator: r.get(2),
                options: r.get(3),
            })
            .collect())
    }

    pub(super) async fn foreign_servers(&self) -> Result<Vec<ForeignServer>> {
        let sql = format!(
            "SELECT s.srvname::text, w.fdwname::text, s.srvtype, s.srvversion, {}
            FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
            WHERE {} AND ({WHOLE_DATABASE} OR {SERVER_TAKEN})
            ORDER BY 1",
            options("s.srvoptions"),
            not_in_extension("'pg_foreign_server'::regclass", "s.oid")
        );
        Ok(self
            .rows("foreign servers", &sql)
            .await?
            .iter()
            .map(|r| ForeignServer {
                name: r.get(0),
                wrapper: r.get(1),
                server_type: r.get(2),
                version: r.get(3),
                options: r.get(4),
            })
            .collect())
    }

    /// The user mappings of `servers`.
    pub(super) async fn user_mappings(
        &self,
        servers: &[ForeignServer],
    ) -> Result<Vec<UserMapping>> {
        let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
        let sql = format!(
            "SELECT m.srvname::text, CASE WHEN m.umuser <> 0 THEN m.usename::text END, {}
            FROM pg_user_mappings m WHERE m.srvname = ANY($1) ORDER BY 1, 2 NULLS FIRST",
            options("m.umoptions")
        );
        let rows =
            self.client.query(&sql, &[&names]).await.map_err(|e| {
                crate::error::Error::pg("reading user mappings from the catalog", e)
            })?;
        Ok(rows
            .iter()
            .map(|r| UserMapping {
                server: r.get(0),
                user: r.get(1),
                options: r.get(2),
            })
            .collect())
    }

    pub(super) async fn foreign_tables(&self) -> Result<Vec<ForeignTable>> {
        let sql = format!(
            "SELECT n.nspname::text, c.relname::text, s.srvname::text,
                ARRAY(SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                        || CASE WHEN a.attfdwoptions IS NOT NULL THEN ' OPTIONS (' || array_to_string({}, ', ') || ')' ELSE '' END
                        || CASE WHEN a.attcollation <> t.typcollation THEN ' COLLATE ' ||
                               (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co
                                JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) ELSE '' END
                        || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                        || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
                ARRAY(SELECT 'CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid)
                      FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c' ORDER BY k.conname),
                {},
                (SELECT pn.nspname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                 JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition),
                (SELECT p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                 WHERE i.inhrelid = c.oid AND c.relispartition),
                CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END
            FROM pg_foreign_table f JOIN pg_class c ON c.oid = f.ftrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_foreign_server s ON s.oid = f.ftserver
            WHERE n.nspname = ANY($1) AND {}
            ORDER BY 1, 2",
            options("a.attfdwoptions"),
            options("f.ftoptions"),
            not_in_extension("'pg_class'::regclass", "c.oid")
        );
        Ok(self
            .rows("foreign tables", &sql)
            .await?
            .iter()
            .map(|r| ForeignTable {
                schema: r.get(0),
                name: r.get(1),
                server: r.get(2),
                columns: r.get(3),
                checks: r.get(4),
                options: r.get(5),
                partition_of: match (r.get(6), r.get(7), r.get(8)) {
                    (Some(schema), Some(name), Some(bound)) => Some(super::PartitionOf {
                        parent: (schema, name),
                        bound,
                    }),
                    _ => None,
                },
            })
            .collect())
    }
}
