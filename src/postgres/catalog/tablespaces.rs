//! Where relations are stored: the tablespace of each table, materialized view and index
//! kept outside the database's default one. Tablespaces belong to the cluster, as roles do:
//! the target must have them, or `--no-tablespaces` leaves the placements out.

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::queries::{Queries, not_in_extension};
use crate::error::Result;

/// One relation's tablespace, set by `ALTER <kind> .. SET TABLESPACE` once it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// `TABLE`, `MATERIALIZED VIEW` or `INDEX` (a key's index too).
    pub kind: String,
    pub schema: String,
    pub name: String,
    pub tablespace: String,
}

impl Placement {
    /// A table's placement comes before its rows are loaded (moving it after would
    /// rewrite them); a materialized view's and an index's after they are built.
    pub fn before_rows(&self) -> bool {
        self.kind == "TABLE"
    }
}

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn placements(&self) -> Result<Vec<Placement>> {
        let sql = format!(
            "SELECT CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'INDEX'
                    ELSE 'TABLE' END,
                n.nspname::text, c.relname::text, t.spcname::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_tablespace t ON t.oid = c.reltablespace
            WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'm', 'i', 'I') AND {}
            ORDER BY 1 DESC, 2, 3",
            not_in_extension("'pg_class'::regclass", "c.oid")
        );
        Ok(self
            .rows("tablespaces", &sql)
            .await?
            .iter()
            .map(|r| Placement {
                kind: r.get(0),
                schema: r.get(1),
                name: r.get(2),
                tablespace: r.get(3),
            })
            .collect())
    }
}
