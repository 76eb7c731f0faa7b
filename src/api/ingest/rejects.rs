//! The persistent reject log: every record the API refused, with the request it came in,
//! the user, the table, the record itself and the reason, in `lakeshift_ingest_rejects`.

use serde_json::Value as Json;
use tokio_postgres::{Client, Transaction};

use super::records::Reject;
use crate::error::{Error, Result};
use crate::postgres::connect::quote_ident;

/// Name of the reject log table (in the first configured schema).
pub const REJECTS_TABLE: &str = "lakeshift_ingest_rejects";

/// Who sent a request, for the log.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub user: String,
}

/// The quoted, qualified name of the reject log in `schema`.
pub fn rejects_table(schema: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(REJECTS_TABLE))
}

/// Create the reject log if it does not exist.
pub async fn ensure_table(client: &Client, qualified: &str) -> Result<()> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {qualified} (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            rejected_at  timestamptz NOT NULL DEFAULT now(),
            request_id   text NOT NULL,
            username     text NOT NULL,
            table_name   text NOT NULL,
            record_index integer NOT NULL,
            field        text,
            reason       text NOT NULL,
            record       jsonb
        )"
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| Error::pg(format!("creating the reject log {qualified}"), e))
}

/// Append the rejects of one request (inside the transaction that writes its rows).
pub async fn log(
    tx: &Transaction<'_>,
    qualified: &str,
    table: &str,
    context: &RequestContext,
    rejects: &[Reject],
    records: &[Json],
) -> Result<()> {
    if rejects.is_empty() {
        return Ok(());
    }
    let indexes: Vec<i32> = rejects.iter().map(|r| r.index() as i32).collect();
    let fields: Vec<Option<&str>> = rejects.iter().map(|r| r.column.as_deref()).collect();
    let reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
    let bodies: Vec<Json> = rejects
        .iter()
        .map(|r| without_nul(&records[r.index()]))
        .collect();
    let sql = format!(
        "INSERT INTO {qualified} (request_id, username, table_name, record_index, field, reason, record)
         SELECT $1, $2, $3, u.i, u.f, u.r, u.b
         FROM unnest($4::int4[], $5::text[], $6::text[], $7::jsonb[]) AS u(i, f, r, b)"
    );
    tx.execute(
        &sql,
        &[
            &context.request_id,
            &context.user,
            &table,
            &indexes,
            &fields,
            &reasons,
            &bodies,
        ],
    )
    .await
    .map_err(|e| Error::pg("logging rejected records", e))?;
    Ok(())
}

/// `json` with NUL characters replaced by U+FFFD: jsonb cannot hold them, and a record
/// refused for carrying one must still be logged.
fn without_nul(json: &Json) -> Json {
    let clean = |s: &str| s.replace('\0', "\u{fffd}");
    match json {
        Json::String(s) if s.contains('\0') => Json::String(clean(s)),
        Json::Array(items) => Json::Array(items.iter().map(without_nul).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (clean(k), without_nul(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_replaced_for_the_log() {
        let record = serde_json::json!({"na\u{0}me": ["a\u{0}b", 1], "ok": "x"});
        assert_eq!(
            without_nul(&record),
            serde_json::json!({"na\u{fffd}me": ["a\u{fffd}b", 1], "ok": "x"})
        );
    }
}
