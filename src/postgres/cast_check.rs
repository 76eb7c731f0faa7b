//! Values lakeshift has no parser for (interval, inet, money, arrays, ...) travel as text and
//! are cast by the server from a staging table. When that cast fails, the rows at fault are
//! found here, one value at a time, so that they become rejects instead of failing the load.
//! The slow search runs only after the fast `INSERT ... SELECT` has failed.

use tokio_postgres::Transaction;

use crate::error::{Error, Result};
use crate::postgres::connect::{quote_ident, quote_literal};

/// The staging column holding each row's tag: where the loader got the row (a file's line,
/// a request's record), in the loader's own numbering.
pub const TAG_COLUMN: &str = "lakeshift_row";

/// A staged row whose value does not cast to its column's type.
#[derive(Debug, Clone, PartialEq)]
pub struct CastReject {
    /// The row's [`TAG_COLUMN`] value.
    pub tag: i64,
    pub column: String,
    pub reason: String,
}

const CAST_ERROR_FUNCTION: &str = "
CREATE OR REPLACE FUNCTION pg_temp.lakeshift_cast_error(value text, type_name text) RETURNS text
LANGUAGE plpgsql AS $lakeshift$
BEGIN
    EXECUTE format('SELECT %L::%s', value, type_name);
    RETURN NULL;
EXCEPTION WHEN others THEN
    RETURN SQLERRM;
END
$lakeshift$";

/// Find the staged rows whose `(column, type)` casts fail (the first failing column of each
/// row) and delete them from `stage`.
pub async fn remove_bad_casts(
    tx: &Transaction<'_>,
    stage: &str,
    casts: &[(String, String)],
) -> Result<Vec<CastReject>> {
    let context = |e: tokio_postgres::Error| Error::pg("checking values the server casts", e);
    tx.batch_execute(CAST_ERROR_FUNCTION)
        .await
        .map_err(context)?;
    let tag = quote_ident(TAG_COLUMN);
    let probes: Vec<String> = casts
        .iter()
        .enumerate()
        .map(|(i, (column, type_sql))| {
            let q = quote_ident(column);
            format!(
                "SELECT {tag} AS tag, {i} AS position, pg_temp.lakeshift_cast_error({q}, {}) AS reason
                 FROM {stage} WHERE {q} IS NOT NULL",
                quote_literal(type_sql)
            )
        })
        .collect();
    let sql = format!(
        "SELECT tag, position, reason FROM ({}) probes WHERE reason IS NOT NULL ORDER BY tag, position",
        probes.join(" UNION ALL ")
    );
    let mut rejects: Vec<CastReject> = Vec::new();
    for row in tx.query(&sql, &[]).await.map_err(context)? {
        let tag = row.get::<_, i64>(0);
        if rejects.last().is_some_and(|r| r.tag == tag) {
            continue; // one reason per row is enough
        }
        let position = row.get::<_, i32>(1) as usize;
        rejects.push(CastReject {
            tag,
            column: casts[position].0.clone(),
            reason: row.get(2),
        });
    }
    let tags: Vec<i64> = rejects.iter().map(|r| r.tag).collect();
    tx.execute(
        &format!("DELETE FROM {stage} WHERE {tag} = ANY($1)"),
        &[&tags],
    )
    .await
    .map_err(context)?;
    Ok(rejects)
}
