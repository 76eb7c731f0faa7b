//! Key checks inside the writing transaction: a foreign key must find its parent row
//! (which is then locked against deletion until commit), a primary or unique key must not
//! exist yet nor repeat within the batch. A record failing one is rejected, not written.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::records::{Prepared, Reject};
use super::target::{KeyCheck, Target};
use crate::error::{Error, Result};

/// A row of a batch: (request in the batch, group, row in the group).
pub type RowRef = (usize, usize, usize);

/// Check every key of `target` for the rows of `requests`; the rejected rows, each with
/// its reason (the first failing key).
pub async fn check(
    tx: &Transaction<'_>,
    target: &Target,
    requests: &[&Prepared],
) -> Result<HashMap<RowRef, Reject>> {
    let mut rejected: HashMap<RowRef, Reject> = HashMap::new();
    for (k, key) in target.keys.iter().enumerate() {
        // Distinct key values and the rows carrying each, in arrival order.
        let mut rows_of: HashMap<&[String], Vec<RowRef>> = HashMap::new();
        let mut order: Vec<&[String]> = Vec::new();
        for (r, prepared) in requests.iter().enumerate() {
            for (g, group) in prepared.groups.iter().enumerate() {
                for (row, value) in group.keys[k].iter().enumerate() {
                    let at = (r, g, row);
                    if let Some(value) = value
                        && !rejected.contains_key(&at)
                    {
                        let rows = rows_of.entry(value.as_slice()).or_default();
                        if rows.is_empty() {
                            order.push(value.as_slice());
                        }
                        rows.push(at);
                    }
                }
            }
        }
        if order.is_empty() {
            continue;
        }
        let found = existing(tx, target, key, &order).await?;
        for (i, value) in order.iter().enumerate() {
            let rows = &rows_of[value];
            let record = |&(r, g, row): &RowRef| requests[r].groups[g].records[row];
            let reject = |at: &RowRef, reason: String| {
                let field = target.fields[key.fields[0]].name.clone();
                Reject::record(record(at), Some(field), reason)
            };
            if key.must_exist && !found.contains(&i) {
                for at in rows {
                    let reason = format!(
                        "{} does not exist in {}",
                        describe(target, key, value),
                        key.table_name
                    );
                    rejected.insert(*at, reject(at, reason));
                }
            } else if !key.must_exist && found.contains(&i) {
                for at in rows {
                    let reason = format!("{} already exists", describe(target, key, value));
                    rejected.insert(*at, reject(at, reason));
                }
            } else if !key.must_exist {
                let first = rows[0];
                for at in &rows[1..] {
                    let reason = if at.0 == first.0 {
                        format!(
                            "{} repeats record {} of this request",
                            describe(target, key, value),
                            record(&first)
                        )
                    } else {
                        format!(
                            "{} was sent by a concurrent request",
                            describe(target, key, value)
                        )
                    };
                    rejected.insert(*at, reject(at, reason));
                }
            }
        }
    }
    Ok(rejected)
}

/// Positions in `values` of the key values present in the key's table.
async fn existing(
    tx: &Transaction<'_>,
    target: &Target,
    key: &KeyCheck,
    values: &[&[String]],
) -> Result<HashSet<usize>> {
    let n = key.fields.len();
    let params: Vec<Vec<&str>> = (0..n)
        .map(|part| values.iter().map(|v| v[part].as_str()).collect())
        .collect();
    let unnest: Vec<String> = (1..=n).map(|p| format!("${p}::text[]")).collect();
    let names: Vec<String> = (0..n).map(|p| format!("k{p}")).collect();
    let join: Vec<String> = key
        .table_columns
        .iter()
        .enumerate()
        .map(|(p, column)| {
            format!(
                "t.{column} = u.k{p}::{}",
                target.fields[key.fields[p]].type_sql
            )
        })
        .collect();
    let lock = if key.must_exist {
        " FOR KEY SHARE OF t"
    } else {
        ""
    };
    let sql = format!(
        "SELECT u.i FROM unnest({}) WITH ORDINALITY AS u({}, i) JOIN {} t ON {}{lock}",
        unnest.join(", "),
        names.join(", "),
        key.table,
        join.join(" AND ")
    );
    let params: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let rows = tx
        .query(&sql, &params)
        .await
        .map_err(|e| Error::pg(format!("checking keys against {}", key.table_name), e))?;
    Ok(rows
        .iter()
        .map(|row| row.get::<_, i64>(0) as usize - 1)
        .collect())
}

/// `department_id 99`, or `(a, b) = (1, 2)` for a key of several columns.
fn describe(target: &Target, key: &KeyCheck, value: &[String]) -> String {
    if let [field] = key.fields[..] {
        return format!("{} {}", target.fields[field].name, value[0]);
    }
    let names: Vec<&str> = key
        .fields
        .iter()
        .map(|&f| target.fields[f].name.as_str())
        .collect();
    format!("({}) = ({})", names.join(", "), value.join(", "))
}
