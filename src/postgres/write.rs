//! Arrow batches -> Postgres: binary COPY (encoded by pgpq), streamed, inside the caller's
//! transaction. Columns whose values travel as text (see [`PgKind::needs_cast`]) and upserts
//! go through a temporary staging table and one `INSERT ... SELECT`, which gives text its
//! type by the type's input function (never by a cast from text the database defines).

use std::collections::HashMap;

use arrow::record_batch::RecordBatch;
use bytes::BytesMut;
use futures::{SinkExt, Stream, StreamExt};
use pgpq::ArrowToPostgresBinaryEncoder;
use pgpq::encoders::{EncoderBuilder, StringEncoderBuilder};
use pgpq::pg_schema::PostgresType;
use tokio_postgres::Transaction;

use crate::error::{Error, Result};
use crate::postgres::catalog::{Catalog, Table};
use crate::postgres::connect::{quote_ident, quote_literal};
use crate::postgres::server_rejects::{
    ServerReject, TAG_COLUMN, insert_by_halves, insert_range, remove_bad_casts,
};
use crate::postgres::types::PgKind;

/// Bytes buffered before they are sent to the server.
const SEND_THRESHOLD: usize = 4 << 20;

/// What a load does with the rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Add rows; a duplicate key is a reject.
    #[default]
    Append,
    /// Empty the table first (in the same transaction).
    #[serde(alias = "overwrite")]
    Replace,
    /// Insert new keys, update existing ones (needs a primary key).
    #[serde(alias = "merge")]
    Upsert,
}

impl crate::options::Choice for LoadMode {
    const NAMES: &'static [&'static str] = &["append", "replace", "upsert"];
    const ALIASES: &'static [(&'static str, &'static str)] =
        &[("overwrite", "replace"), ("merge", "upsert")];
}

/// The columns a load writes and how their values travel.
#[derive(Debug, Clone)]
pub struct LoadColumns {
    pub names: Vec<String>,
    pub kinds: Vec<PgKind>,
    /// The batches end with an Int64 column of row tags ([`TAG_COLUMN`]: a file's line, a
    /// request's record): the load goes through the staging table, and rows the server
    /// refuses (a failing cast, a CHECK or UNIQUE violation, ...: see
    /// [`crate::postgres::server_rejects`]) are returned as rejects, by tag, instead of
    /// failing it.
    pub tagged: bool,
}

/// What a load wrote, and the rows the server refused (see [`LoadColumns::tagged`]).
#[derive(Debug, Default)]
pub struct LoadOutcome {
    pub rows: u64,
    pub rejected: Vec<ServerReject>,
}

/// Empty `table` of `catalog` for a `replace` load (inside the caller's transaction); a
/// foreign partition's rows stay on their server. A table that other tables reference
/// cannot be truncated alone; it is emptied with DELETE, which succeeds as long as no row
/// of theirs points at it.
pub async fn empty(tx: &Transaction<'_>, catalog: &Catalog, table: &Table) -> Result<()> {
    let verb = if catalog.is_referenced(table) {
        "DELETE FROM"
    } else {
        "TRUNCATE"
    };
    for heap in catalog.local_heaps(table) {
        tx.batch_execute(&format!("{verb} {heap}"))
            .await
            .map_err(|e| Error::pg(format!("emptying {}", table.name), e))?;
    }
    Ok(())
}

/// Stream `batches` into `table`.
pub async fn copy_batches<S>(
    tx: &Transaction<'_>,
    table: &Table,
    columns: &LoadColumns,
    mode: LoadMode,
    batches: S,
) -> Result<LoadOutcome>
where
    S: Stream<Item = Result<RecordBatch>>,
{
    let staged =
        mode == LoadMode::Upsert || columns.tagged || columns.kinds.iter().any(PgKind::needs_cast);
    if mode == LoadMode::Upsert && table.primary_key().is_empty() {
        return Err(Error::Invalid(format!(
            "upsert into {} needs a primary key, and it has none",
            table.name
        )));
    }
    let quoted: Vec<String> = columns.names.iter().map(|c| quote_ident(c)).collect();
    let stage = quote_ident(&format!("lakeshift_stage_{}", table.oid));
    let copy_into = if staged {
        create_stage(tx, table, columns, &stage).await?;
        stage.clone()
    } else {
        table.qualified()
    };
    let mut copy_columns = quoted.clone();
    let mut copy_kinds = columns.kinds.clone();
    if columns.tagged {
        copy_columns.push(quote_ident(TAG_COLUMN));
        copy_kinds.push(PgKind::Int8);
    }
    let rows = copy_in(
        tx,
        &copy_into,
        &copy_columns,
        &copy_kinds,
        batches,
        &table.name,
    )
    .await?;
    if !staged {
        return Ok(LoadOutcome {
            rows,
            rejected: Vec::new(),
        });
    }
    insert_staged(
        tx,
        table,
        columns,
        &insert_from_stage(table, columns, &quoted, &stage, mode),
        &stage,
    )
    .await
}

/// Move the staged rows into the table. With tags, rows the server refuses are taken out
/// and returned: failing casts first (one query), then whatever else it refuses.
async fn insert_staged(
    tx: &Transaction<'_>,
    table: &Table,
    columns: &LoadColumns,
    insert: &str,
    stage: &str,
) -> Result<LoadOutcome> {
    let failed = |e: tokio_postgres::Error| Error::pg(format!("loading {}", table.name), e);
    if !columns.tagged {
        let rows = tx.execute(insert, &[]).await.map_err(failed)?;
        return Ok(LoadOutcome {
            rows,
            rejected: Vec::new(),
        });
    }
    let casts: Vec<(String, String)> = columns
        .names
        .iter()
        .zip(&columns.kinds)
        .filter(|(_, kind)| kind.needs_cast())
        .filter_map(|(name, _)| {
            table
                .column(name)
                .map(|c| (name.clone(), c.type_sql.clone()))
        })
        .collect();
    let mut rejected = Vec::new();
    if !casts.is_empty() {
        // Casts are checked all at once, before the rows are tried in halves.
        match insert_range(tx, insert, (i64::MIN, i64::MAX), table).await? {
            Ok(rows) => return Ok(LoadOutcome { rows, rejected }),
            Err(_) => rejected = remove_bad_casts(tx, stage, &casts).await?,
        }
    }
    let (rows, refused) = insert_by_halves(tx, insert, stage, table).await?;
    rejected.extend(refused);
    rejected.sort_by_key(|r| r.tag);
    Ok(LoadOutcome { rows, rejected })
}

async fn create_stage(
    tx: &Transaction<'_>,
    table: &Table,
    columns: &LoadColumns,
    stage: &str,
) -> Result<()> {
    let defs: Vec<String> = columns
        .names
        .iter()
        .zip(&columns.kinds)
        .map(|(name, kind)| {
            let column = table
                .column(name)
                .expect("load columns come from the table");
            // A domain's own checks run on the insert from the stage, row by row.
            let ty = match (kind.needs_cast(), column.type_kind, &column.element_type) {
                (true, _, _) => "text",
                (false, 'd', Some(base)) => base.as_str(),
                _ => column.type_sql.as_str(),
            };
            format!("{} {ty}", quote_ident(name))
        })
        .collect();
    let mut defs = defs;
    if columns.tagged {
        defs.push(format!("{} int8", quote_ident(TAG_COLUMN)));
    }
    let sql = format!(
        "DROP TABLE IF EXISTS pg_temp.{stage}; CREATE TEMP TABLE {stage} ({}) ON COMMIT DROP",
        defs.join(", ")
    );
    tx.batch_execute(&sql)
        .await
        .map_err(|e| Error::pg(format!("staging rows for {}", table.name), e))
}

fn insert_from_stage(
    table: &Table,
    columns: &LoadColumns,
    quoted: &[String],
    stage: &str,
    mode: LoadMode,
) -> String {
    let select: Vec<String> = columns
        .names
        .iter()
        .zip(&columns.kinds)
        .zip(quoted)
        .map(|((name, kind), q)| {
            let column = table
                .column(name)
                .expect("load columns come from the table");
            match (kind.needs_cast(), column.cast_from_text) {
                (true, false) => format!("{q}::{}", column.type_sql),
                // Not through the database's own cast from text: json_populate_record
                // gives the field its value by the type's input function, as a literal
                // would (with the column's type modifier and domain checks).
                (true, true) => format!(
                    "(json_populate_record(NULL::{}, json_build_object({}, {q}))).{q}",
                    table.qualified(),
                    quote_literal(name)
                ),
                _ => q.clone(),
            }
        })
        .collect();
    let overriding = if table.columns.iter().any(|c| c.identity == Some('a')) {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let mut sql = format!(
        "INSERT INTO {} ({}){overriding} SELECT {} FROM {stage}",
        table.qualified(),
        quoted.join(", "),
        select.join(", ")
    );
    if columns.tagged {
        // The rows to move, by tag: see [`insert_by_halves`].
        let tag = quote_ident(TAG_COLUMN);
        sql.push_str(&format!(" WHERE {tag} BETWEEN $1 AND $2"));
    }
    if mode == LoadMode::Upsert {
        let key = table.primary_key();
        let updates: Vec<String> = quoted
            .iter()
            .zip(&columns.names)
            .filter(|(_, name)| !key.contains(name))
            .map(|(q, _)| format!("{q} = EXCLUDED.{q}"))
            .collect();
        let key: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
        let action = if updates.is_empty() {
            "NOTHING".to_string()
        } else {
            format!("UPDATE SET {}", updates.join(", "))
        };
        sql.push_str(&format!(" ON CONFLICT ({}) DO {action}", key.join(", ")));
    }
    sql
}

/// `COPY target (columns) FROM STDIN BINARY`, fed batch by batch.
async fn copy_in<S>(
    tx: &Transaction<'_>,
    target: &str,
    quoted: &[String],
    kinds: &[PgKind],
    batches: S,
    table_name: &str,
) -> Result<u64>
where
    S: Stream<Item = Result<RecordBatch>>,
{
    let context = || format!("copying rows into {table_name}");
    let sql = format!(
        "COPY {target} ({}) FROM STDIN (FORMAT binary)",
        quoted.join(", ")
    );
    let sink = tx
        .copy_in::<_, bytes::Bytes>(&sql)
        .await
        .map_err(|e| Error::pg(context(), e))?;
    futures::pin_mut!(sink);
    futures::pin_mut!(batches);
    let mut encoder: Option<ArrowToPostgresBinaryEncoder> = None;
    let mut buf = BytesMut::with_capacity(SEND_THRESHOLD * 2);
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        let enc = match &mut encoder {
            Some(enc) => enc,
            None => {
                let mut enc = new_encoder(&batch, kinds, table_name)?;
                enc.write_header(&mut buf)
                    .map_err(|e| encode_error(table_name, &e))?;
                encoder.insert(enc)
            }
        };
        enc.write_batch(&batch, &mut buf)
            .map_err(|e| encode_error(table_name, &e))?;
        if buf.len() >= SEND_THRESHOLD {
            sink.send(buf.split().freeze())
                .await
                .map_err(|e| Error::pg(context(), e))?;
        }
    }
    let Some(mut enc) = encoder else {
        // No rows: finish an empty COPY (header and trailer only) so the statement completes.
        let schema = arrow::datatypes::Schema::empty();
        let mut enc = ArrowToPostgresBinaryEncoder::try_new(&schema)
            .map_err(|e| encode_error(table_name, &e))?;
        enc.write_header(&mut buf)
            .map_err(|e| encode_error(table_name, &e))?;
        enc.write_footer(&mut buf)
            .map_err(|e| encode_error(table_name, &e))?;
        sink.send(buf.split().freeze())
            .await
            .map_err(|e| Error::pg(context(), e))?;
        return sink
            .as_mut()
            .finish()
            .await
            .map_err(|e| Error::pg(context(), e));
    };
    enc.write_footer(&mut buf)
        .map_err(|e| encode_error(table_name, &e))?;
    sink.send(buf.split().freeze())
        .await
        .map_err(|e| Error::pg(context(), e))?;
    sink.as_mut()
        .finish()
        .await
        .map_err(|e| Error::pg(context(), e))
}

fn new_encoder(
    batch: &RecordBatch,
    kinds: &[PgKind],
    table: &str,
) -> Result<ArrowToPostgresBinaryEncoder> {
    let schema = batch.schema();
    let mut encoders: HashMap<String, EncoderBuilder> = HashMap::new();
    for (field, kind) in schema.fields().iter().zip(kinds) {
        let builder = if *kind == PgKind::Jsonb {
            StringEncoderBuilder::new_with_output(field.clone(), PostgresType::Jsonb)
                .map(EncoderBuilder::String)
        } else {
            EncoderBuilder::try_new(field.clone())
        };
        encoders.insert(
            field.name().clone(),
            builder.map_err(|e| encode_error(table, &e))?,
        );
    }
    ArrowToPostgresBinaryEncoder::try_new_with_encoders(&schema, &encoders)
        .map_err(|e| encode_error(table, &e))
}

fn encode_error(table: &str, err: &pgpq::error::ErrorKind) -> Error {
    Error::Internal {
        task: format!("encoding rows for {table}"),
        reason: err.to_string(),
    }
}

/// Move the sequences behind identity and serial columns past the largest id now in the
/// table, so rows inserted later do not collide with loaded ids.
pub async fn advance_sequences(tx: &Transaction<'_>, table: &Table) -> Result<()> {
    for column in &table.columns {
        let serial = column
            .default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("));
        if column.identity.is_none() && !serial {
            continue;
        }
        let col = quote_ident(&column.name);
        let sql = format!(
            "SELECT setval(s.seq, m.max_id) FROM
               (SELECT pg_get_serial_sequence($1, $2)::regclass AS seq) s,
               (SELECT max({col})::bigint AS max_id FROM {}) m
             WHERE s.seq IS NOT NULL AND m.max_id > coalesce(pg_sequence_last_value(s.seq), 0)",
            table.qualified()
        );
        tx.query(&sql, &[&table.qualified(), &column.name])
            .await
            .map_err(|e| {
                Error::pg(
                    format!("advancing the sequence of {}.{}", table.name, column.name),
                    e,
                )
            })?;
    }
    Ok(())
}
