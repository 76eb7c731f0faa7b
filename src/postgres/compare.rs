//! Whether tables hold the same rows in two databases: a row count and a digest of every
//! row's text form, ordered byte-wise, compared side by side. Used to check a restore or a
//! copy (the `compare` pipeline step).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use crate::postgres::catalog::split_name;
use crate::postgres::connect::quote_ident;

/// One table on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct TableComparison {
    pub table: String,
    pub left_rows: i64,
    pub right_rows: i64,
    pub same: bool,
}

/// Compare `tables` (`table` or `schema.table`) between `left` and `right`; an error names
/// the first table that differs.
pub async fn compare_tables(
    left: &DbUrl,
    right: &DbUrl,
    tables: &[String],
) -> Result<Vec<TableComparison>> {
    let (left_client, right_client) = (left.connect().await?, right.connect().await?);
    let mut out = Vec::new();
    for table in tables {
        let (schema, name) = split_name(table);
        let relation = format!(
            "{}.{}",
            quote_ident(schema.as_deref().unwrap_or("public")),
            quote_ident(&name)
        );
        let sql = format!(
            "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\")) FROM {relation} t"
        );
        let (l, r) = tokio::try_join!(
            digest(&left_client, &sql, table, left),
            digest(&right_client, &sql, table, right)
        )?;
        let same = l == r;
        out.push(TableComparison {
            table: table.clone(),
            left_rows: l.0,
            right_rows: r.0,
            same,
        });
        if !same {
            return Err(Error::Invalid(format!(
                "{table} differs: {} rows in {left}, {} rows in {right}{}",
                l.0,
                r.0,
                if l.0 == r.0 {
                    " (same count, other content)"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(out)
}

/// `(rows, md5)` of one side.
async fn digest(
    client: &tokio_postgres::Client,
    sql: &str,
    table: &str,
    url: &DbUrl,
) -> Result<(i64, Option<String>)> {
    client
        .query_one(sql, &[])
        .await
        .map(|row| (row.get(0), row.get(1)))
        .map_err(|e| Error::pg(format!("reading {table} in {url}"), e))
}
