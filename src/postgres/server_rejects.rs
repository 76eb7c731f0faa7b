//! Rows the server refuses become rejects instead of failing the load. A loader checks types,
//! NOT NULL, primary and foreign keys itself before COPY; everything else the server checks
//! ([`server_checks_rows`]: CHECK, UNIQUE and exclusion constraints, domains, triggers,
//! partition routing, and values lakeshift has no parser for, cast from text) is found
//! here after the fast `INSERT ... SELECT` from the staging table has failed: failing casts
//! one value at a time ([`remove_bad_casts`]), the rest by inserting the staged rows in
//! halves until each row at fault stands alone ([`insert_by_halves`]).

use tokio_postgres::Transaction;

use crate::error::{Error, Result};
use crate::postgres::catalog::{Catalog, ConstraintKind, Table};
use crate::postgres::connect::{quote_ident, quote_literal};

/// The staging column holding each row's tag: where the loader got the row (a file's line,
/// a request's record), in the loader's own numbering.
pub const TAG_COLUMN: &str = "lakeshift_row";

/// A staged row the server refuses: a value that does not cast, a constraint it violates.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerReject {
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
) -> Result<Vec<ServerReject>> {
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
    let mut rejects: Vec<ServerReject> = Vec::new();
    for row in tx.query(&sql, &[]).await.map_err(context)? {
        let tag = row.get::<_, i64>(0);
        if rejects.last().is_some_and(|r| r.tag == tag) {
            continue; // one reason per row is enough
        }
        let position = row.get::<_, i32>(1) as usize;
        rejects.push(ServerReject {
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

/// Whether the server refuses rows of `table` for reasons a loader does not check before
/// COPY. Such loads go through the staging table, so that those rows become rejects.
pub fn server_checks_rows(catalog: &Catalog, table: &Table) -> bool {
    let constrained = table.constraints.iter().any(|c| {
        matches!(
            c.kind,
            ConstraintKind::Check | ConstraintKind::Unique | ConstraintKind::Exclusion
        )
    });
    let on_table = |schema: &str, name: &str| schema == table.schema && name == table.name;
    let unique_index = catalog
        .indexes
        .iter()
        .any(|i| on_table(&i.schema, &i.table) && i.definition.starts_with("CREATE UNIQUE INDEX"));
    let triggered = catalog
        .triggers
        .iter()
        .any(|t| on_table(&t.schema, &t.table));
    // A domain outside the catalog's schemas is taken to check its values.
    let domain_checked = table.columns.iter().any(|c| {
        c.type_kind == 'd'
            && c.generated.is_none()
            && catalog
                .domains
                .iter()
                .find(|d| d.name == c.type_name)
                .is_none_or(|d| d.not_null || !d.checks.is_empty())
    });
    // A row of a partitioned table may fit no partition.
    constrained || unique_index || triggered || domain_checked || table.is_partitioned()
}

/// Whether `error` is the server refusing a row (a data exception, an integrity violation,
/// an exception raised by a trigger) rather than the statement failing as a whole.
fn refuses_a_row(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|c| {
        ["22", "23", "P0"]
            .iter()
            .any(|class| c.code().starts_with(class))
    })
}

/// Run `insert` (whose `$1` and `$2` bound the [`TAG_COLUMN`] of the staged rows it moves
/// from `stage`) over every staged row, range by range: a range the server refuses is
/// halved until the rows at fault stand alone, and those become rejects with the server's
/// reason. Ranges go in tag order, so of two rows that clash (a duplicate unique value) the
/// first one is kept, as for primary keys. Returns the rows inserted and the rejects.
pub async fn insert_by_halves(
    tx: &Transaction<'_>,
    insert: &str,
    stage: &str,
    table: &Table,
) -> Result<(u64, Vec<ServerReject>)> {
    let failed = |e: tokio_postgres::Error| Error::pg(format!("loading {}", table.name), e);
    let tag = quote_ident(TAG_COLUMN);
    let bounds = tx
        .query_one(&format!("SELECT min({tag}), max({tag}) FROM {stage}"), &[])
        .await
        .map_err(failed)?;
    let (Some(first), Some(last)) = (bounds.get::<_, Option<i64>>(0), bounds.get(1)) else {
        return Ok((0, Vec::new()));
    };
    let statement = tx.prepare(insert).await.map_err(failed)?;
    let (mut rows, mut rejects) = (0, Vec::new());
    let mut pending = vec![(first, last)];
    while let Some((low, high)) = pending.pop() {
        match insert_range(tx, &statement, (low, high), table).await? {
            Ok(inserted) => rows += inserted,
            Err(e) if low == high => rejects.push(refused(low, &e, table)),
            Err(_) => {
                let middle = ((low as i128 + high as i128).div_euclid(2)) as i64;
                pending.push((middle + 1, high)); // after the lower half
                pending.push((low, middle));
            }
        }
    }
    Ok((rows, rejects))
}

/// Run `insert` over the staged rows tagged `low..=high` in a savepoint: the rows inserted,
/// or the server's refusal of one of them (then nothing is inserted and the transaction
/// goes on). Any other failure is the load's error.
pub(crate) async fn insert_range<T>(
    tx: &Transaction<'_>,
    insert: &T,
    (low, high): (i64, i64),
    table: &Table,
) -> Result<std::result::Result<u64, tokio_postgres::Error>>
where
    T: ?Sized + tokio_postgres::ToStatement + Sync,
{
    let failed = |e: tokio_postgres::Error| Error::pg(format!("loading {}", table.name), e);
    tx.batch_execute("SAVEPOINT lakeshift_rows")
        .await
        .map_err(failed)?;
    let outcome = tx.execute(insert, &[&low, &high]).await;
    let end = match &outcome {
        Ok(_) => "RELEASE SAVEPOINT lakeshift_rows",
        Err(e) if refuses_a_row(e) => "ROLLBACK TO SAVEPOINT lakeshift_rows",
        Err(_) => return Err(failed(outcome.unwrap_err())),
    };
    tx.batch_execute(end).await.map_err(failed)?;
    Ok(outcome)
}

/// The reject for the row tagged `tag`, which the server refused with `error`: the column
/// when the server names it (or a one-column constraint or domain does), its message, and
/// its detail unless that only repeats the row (the reject log holds the raw row already).
fn refused(tag: i64, error: &tokio_postgres::Error, table: &Table) -> ServerReject {
    let Some(db) = error.as_db_error() else {
        return ServerReject {
            tag,
            column: String::new(),
            reason: error.to_string(),
        };
    };
    let single = |columns: Vec<&str>| match columns.as_slice() {
        [one] => Some(one.to_string()),
        _ => None,
    };
    let column = db
        .column()
        .map(str::to_string)
        .or_else(|| {
            let constraint = db.constraint()?;
            let found = table.constraints.iter().find(|c| c.name == constraint)?;
            single(found.columns.iter().map(String::as_str).collect())
        })
        .or_else(|| {
            let domain = db.datatype()?;
            single(
                table
                    .columns
                    .iter()
                    .filter(|c| c.type_kind == 'd' && c.type_name == domain)
                    .map(|c| c.name.as_str())
                    .collect(),
            )
        })
        .unwrap_or_default();
    let reason = match db.detail() {
        Some(detail) if !detail.starts_with("Failing row contains") => {
            format!("{} ({detail})", db.message())
        }
        _ => db.message().to_string(),
    };
    ServerReject {
        tag,
        column,
        reason,
    }
}
