//! `Idempotency-Key`: a client that did not get its answer (a timeout, a lost connection)
//! retries with the same key, and the rows are not written twice. The answer of the first
//! request is stored in the transaction that writes its rows, keyed by user and key with a
//! hash of what was asked (endpoint and records); a retry with the same key and the same
//! request gets the stored answer and writes nothing, one with another request is refused.
//! Only written requests are stored: a failed one wrote nothing and may simply run again.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use tokio_postgres::Transaction;

use super::records::Reject;
use super::writer::Outcome;
use crate::error::{Error, Result};
use crate::postgres::connect::quote_ident;

/// Name of the table of stored answers (in the first configured schema).
pub const IDEMPOTENCY_TABLE: &str = "lakeshift_ingest_idempotency";
/// The longest key accepted.
pub const MAX_KEY_CHARS: usize = 255;

/// The quoted, qualified name of the answers table in `schema`.
pub fn idempotency_table(schema: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(IDEMPOTENCY_TABLE))
}

/// Create the answers table if it does not exist.
pub async fn ensure_table(client: &tokio_postgres::Client, qualified: &str) -> Result<()> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {qualified} (
            username text NOT NULL,
            key text NOT NULL,
            request_hash text NOT NULL,
            table_name text NOT NULL,
            answer jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (username, key)
        );
        CREATE INDEX IF NOT EXISTS {index} ON {qualified} (created_at)",
        index = quote_ident(&format!("{IDEMPOTENCY_TABLE}_created_at")),
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| Error::pg(format!("creating the idempotency table {qualified}"), e))
}

/// A key is 1 to 255 visible ASCII characters (as a header value can carry them).
pub fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
        ));
    }
    Ok(())
}

/// What a request asks, as a hash: the endpoint and the records (parsed, so that spacing
/// does not matter).
pub fn request_hash(endpoint: &str, records: &[Json]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(endpoint.as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(records).expect("JSON values serialize"));
    crate::storage::hex(&hasher.finalize())
}

/// A request's key, with the hash of what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    pub user: String,
    pub key: String,
    pub request_hash: String,
}

/// An answer stored earlier under a key.
#[derive(Debug, Clone)]
pub struct Stored {
    pub request_hash: String,
    pub outcome: Outcome,
}

/// The answers stored under `keys` that have not expired (`ttl`), by user and key.
pub async fn lookup(
    tx: &Transaction<'_>,
    qualified: &str,
    ttl: Duration,
    keys: &[&Keyed],
) -> Result<HashMap<(String, String), Stored>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let users: Vec<&str> = keys.iter().map(|k| k.user.as_str()).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    let sql = format!(
        "SELECT s.username, s.key, s.request_hash, s.table_name, s.answer
         FROM {qualified} s JOIN unnest($1::text[], $2::text[]) AS u(username, key)
           USING (username, key)
         WHERE s.created_at > now() - make_interval(secs => $3)"
    );
    let rows = tx
        .query(&sql, &[&users, &names, &ttl.as_secs_f64()])
        .await
        .map_err(|e| Error::pg("reading stored answers of idempotency keys", e))?;
    let mut stored = HashMap::new();
    for row in rows {
        let table: String = row.get(3);
        let answer: Json = row.get(4);
        let outcome = outcome_of(table, &answer).ok_or_else(|| Error::Internal {
            task: "reading a stored answer".into(),
            reason: format!("the answer stored in {qualified} is not one lakeshift wrote"),
        })?;
        stored.insert(
            (row.get(0), row.get(1)),
            Stored {
                request_hash: row.get(2),
                outcome,
            },
        );
    }
    Ok(stored)
}

/// Store the answers of written requests; expired answers under the same keys are
/// replaced, and a few more expired ones removed. `false` when a key was stored meanwhile
/// by a concurrent request (the transaction must then not commit).
pub async fn store(
    tx: &Transaction<'_>,
    qualified: &str,
    ttl: Duration,
    answers: &[(&Keyed, &Outcome)],
) -> Result<bool> {
    if answers.is_empty() {
        return Ok(true);
    }
    let failed = |e| Error::pg("storing the answers of idempotency keys", e);
    let secs = ttl.as_secs_f64();
    tx.execute(
        &format!(
            "DELETE FROM {qualified} WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM {qualified} WHERE created_at <= now() - make_interval(secs => $1)
               LIMIT 1000))"
        ),
        &[&secs],
    )
    .await
    .map_err(failed)?;
    let users: Vec<&str> = answers.iter().map(|(k, _)| k.user.as_str()).collect();
    let keys: Vec<&str> = answers.iter().map(|(k, _)| k.key.as_str()).collect();
    let hashes: Vec<&str> = answers
        .iter()
        .map(|(k, _)| k.request_hash.as_str())
        .collect();
    let tables: Vec<&str> = answers.iter().map(|(_, o)| o.table.as_str()).collect();
    let bodies: Vec<Json> = answers.iter().map(|(_, o)| answer_of(o)).collect();
    let stored = tx
        .execute(
            &format!(
                "INSERT INTO {qualified} AS s (username, key, request_hash, table_name, answer)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
                 ON CONFLICT (username, key) DO UPDATE
                   SET request_hash = excluded.request_hash, table_name = excluded.table_name,
                       answer = excluded.answer, created_at = now()
                   WHERE s.created_at <= now() - make_interval(secs => $6)"
            ),
            &[&users, &keys, &hashes, &tables, &bodies, &secs],
        )
        .await
        .map_err(failed)?;
    Ok(stored as usize == answers.len())
}

/// The answer as stored: what the client was told.
fn answer_of(outcome: &Outcome) -> Json {
    let rejected: Vec<Json> = outcome
        .rejected
        .iter()
        .map(|r| json!({"index": r.index(), "field": r.column, "reason": r.reason}))
        .collect();
    json!({"inserted": outcome.inserted, "ids": outcome.ids, "rejected": rejected})
}

fn outcome_of(table: String, answer: &Json) -> Option<Outcome> {
    let rejected = answer["rejected"]
        .as_array()?
        .iter()
        .map(|r| {
            Some(Reject::record(
                usize::try_from(r["index"].as_u64()?).ok()?,
                r["field"].as_str().map(str::to_string),
                r["reason"].as_str()?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Outcome {
        table,
        inserted: usize::try_from(answer["inserted"].as_u64()?).ok()?,
        ids: answer["ids"]
            .as_array()?
            .iter()
            .map(Json::as_i64)
            .collect::<Option<_>>()?,
        rejected,
        replayed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_hashes_follow_the_request_not_its_spacing() {
        assert!(check_key("order-2026-12-04/17").is_ok());
        for bad in ["", "has space", "ünïcode", &"k".repeat(256)] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        let a: Vec<Json> = serde_json::from_str(r#"[{"job": "x"}]"#).unwrap();
        let b: Vec<Json> = serde_json::from_str("[ { \"job\" :\n \"x\" } ]").unwrap();
        assert_eq!(request_hash("jobs", &a), request_hash("jobs", &b));
        assert_ne!(request_hash("jobs", &a), request_hash("departments", &a));
    }

    #[test]
    fn a_stored_answer_reads_back_as_it_was() {
        let outcome = Outcome {
            table: "public.jobs".into(),
            inserted: 2,
            ids: vec![7, 8],
            rejected: vec![Reject::record(1, Some("job".into()), "too long")],
            replayed: false,
        };
        let back = outcome_of(outcome.table.clone(), &answer_of(&outcome)).unwrap();
        assert_eq!(
            back,
            Outcome {
                replayed: true,
                ..outcome
            }
        );
    }
}
