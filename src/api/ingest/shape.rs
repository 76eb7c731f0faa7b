//! A table's shape as one hash: its columns (names, types, nullability, defaults, enum
//! labels, domain checks), constraints, unique indexes and triggers: everything a
//! [`super::target::Target`] is built from. The writer compares it, under its table lock,
//! with the hash taken with the catalog the target came from: a difference (a renamed or
//! added column, a new constraint) means the records must be checked again against the
//! table as it is now.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

use crate::error::{Error, Result};

/// The hash of each table; `{filter}` picks the tables from `pg_class c`.
const FINGERPRINT_SQL: &str = "
SELECT c.oid, md5(concat_ws('|',
  (SELECT string_agg(concat_ws(':', a.attname, a.atttypid, a.atttypmod, a.attnotnull,
            a.attgenerated, a.attidentity, a.atthasdef,
            (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
               FROM pg_enum e WHERE e.enumtypid = a.atttypid),
            (SELECT string_agg(pg_get_constraintdef(d.oid), ',' ORDER BY d.conname)
               FROM pg_constraint d WHERE d.contypid = a.atttypid)),
          ',' ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(k.conname || ':' || pg_get_constraintdef(k.oid), ',' ORDER BY k.conname)
     FROM pg_constraint k WHERE k.conrelid = c.oid),
  (SELECT string_agg(pg_get_indexdef(i.indexrelid), ',' ORDER BY i.indexrelid)
     FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique),
  (SELECT string_agg(t.tgname || ':' || t.tgenabled::text, ',' ORDER BY t.tgname)
     FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)))
FROM pg_class c WHERE {filter}";

/// The hash of every table and partitioned table of `schemas`, by oid.
pub async fn of_schemas(
    client: &impl GenericClient,
    schemas: &[String],
) -> Result<HashMap<u32, String>> {
    let sql = FINGERPRINT_SQL.replace(
        "{filter}",
        "c.relkind IN ('r', 'p') AND c.relnamespace IN \
         (SELECT oid FROM pg_namespace WHERE nspname = ANY($1))",
    );
    let rows = client
        .query(&sql, &[&schemas])
        .await
        .map_err(|e| Error::pg("reading the shape of the ingestible tables", e))?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The hash of one table now (`None`: it no longer exists).
pub async fn of_table(client: &impl GenericClient, oid: u32) -> Result<Option<String>> {
    let sql = FINGERPRINT_SQL.replace("{filter}", "c.oid = $1");
    let row = client
        .query_opt(&sql, &[&oid])
        .await
        .map_err(|e| Error::pg("reading the shape of the table", e))?;
    Ok(row.map(|row| row.get(1)))
}
