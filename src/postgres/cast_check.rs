//! Values lakeshift has no parser for (interval, inet, money, arrays, ...) travel as text and
//! are cast by the server from a staging table. When that cast fails, the rows at fault are
//! found here, one value at a time, so that they become rejects instead of failing the load.
//! The slow search runs only after the fast `INSERT ... SELECT` has failed.

use tokio_postgres::Transaction;

use crate::error::{Error, Result};
use crate::postgres::connect::{quote_ident, quote_literal};

/// The staging column holding each row's line in its source file.
pub const LINE_COLUMN: &str = "lakeshift_line";

/// A staged row whose value does not cast to its column's type.
#[derive(Debug, Clone, PartialEq)]
pub struct CastReject {
    pub line: u64,
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
    let context = |e: &tokio_postgres::Error| Error::pg("checking values the server casts", e);
    tx.batch_execute(CAST_ERROR_FUNCTION)
        .await
        .map_err(|e| context(&e))?;
    let line = quote_ident(LINE_COLUMN);
    let probes: Vec<String> = casts
        .iter()
        .enumerate()
        .map(|(i, (column, type_sql))| {
            let q = quote_ident(column);
            format!(
                "SELECT {line} AS line, {i} AS position, pg_temp.lakeshift_cast_error({q}, {}) AS reason
                 FROM {stage} WHERE {q} IS NOT NULL",
                quote_literal(type_sql)
            )
        })
        .collect();
    let sql = format!(
        "SELECT line, position, reason FROM ({}) probes WHERE reason IS NOT NULL ORDER BY line, position",
        probes.join(" UNION ALL ")
    );
    let mut rejects: Vec<CastReject> = Vec::new();
    for row in tx.query(&sql, &[]).await.map_err(|e| context(&e))? {
        let line = row.get::<_, i64>(0) as u64;
        if rejects.last().is_some_and(|r| r.line == line) {
            continue; // one reason per row is enough
        }
        let position = row.get::<_, i32>(1) as usize;
        rejects.push(CastReject {
            line,
            column: casts[position].0.clone(),
            reason: row.get(2),
        });
    }
    let lines: Vec<i64> = rejects.iter().map(|r| r.line as i64).collect();
    tx.execute(
        &format!("DELETE FROM {stage} WHERE {line} = ANY($1)"),
        &[&lines],
    )
    .await
    .map_err(|e| context(&e))?;
    Ok(rejects)
}
