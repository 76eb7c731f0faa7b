//! The ingestion endpoints: one per HR table with its documented record schema, one for
//! any table of the configured schemas, and the list of ingestible tables.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::hr::{self, DepartmentRecord, HiredEmployeeRecord, JobRecord};
use super::responses::{EarlyError, ErrorBody, early_error};
use super::schemas::{IngestBody, TableRecord};
use super::{ApiTags, State};
use crate::api::ingest::idempotency::check_key;
use crate::api::ingest::rejects::RequestContext;
use crate::api::ingest::target::Target;
use crate::api::ingest::writer::Outcome;
use crate::api::ingest::{Endpoint, IngestError};
use crate::api::middleware::RequestId;
use crate::postgres::types::PgKind;

use super::auth::BearerAuth;

/// What happened to the records of a request.
#[derive(Debug, Object)]
pub struct IngestResult {
    /// Records inserted.
    pub inserted: u64,
    /// The id of each inserted record, in record order (empty for tables without a single
    /// integer primary key).
    pub ids: Vec<i64>,
    /// The records not inserted, each with the reason.
    pub rejected: Vec<RejectedRecord>,
}

/// A record that was not inserted.
#[derive(Debug, Object)]
pub struct RejectedRecord {
    /// Position of the record in `records` (from 0).
    pub index: u64,
    /// The field at fault; absent when the record as a whole is.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
    pub reason: String,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "ingest_bad_request")]
pub enum IngestResponse {
    /// The records were checked: the valid ones are inserted (in one transaction), the
    /// others reported in `rejected` (and logged). `Idempotent-Replayed: true` when this
    /// is the stored answer to an earlier request with the same `Idempotency-Key`.
    #[oai(status = 200)]
    Ok(
        Json<IngestResult>,
        #[oai(header = "Idempotent-Replayed")] Option<bool>,
    ),
    /// Missing, malformed, expired or wrongly signed token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// No such table in the ingestible schemas.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The body is larger than the server accepts.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// The body is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The request itself is invalid (not JSON, not `{"records": [...]}`, 0 or more than
    /// 1000 records, a malformed `Idempotency-Key`), its `Idempotency-Key` came before with
    /// another request, or the database refused the rows; nothing was written.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// The table does not fit the endpoint, or an unexpected failure; nothing was written.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The database is unreachable, the table is locked by another session past the lock
    /// timeout, or the request waited too long; nothing was written: retry after
    /// `Retry-After` seconds.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
}

fn ingest_bad_request(err: poem::Error) -> IngestResponse {
    match early_error(err) {
        EarlyError::Unauthorized(body) => IngestResponse::Unauthorized(body, "Bearer".into()),
        EarlyError::TooLarge(body) => IngestResponse::TooLarge(body),
        EarlyError::UnsupportedMediaType(body) => IngestResponse::UnsupportedMediaType(body),
        EarlyError::Invalid(body) => IngestResponse::Invalid(body),
    }
}

/// One field of an ingestible table.
#[derive(Debug, Object)]
pub struct FieldInfo {
    pub name: String,
    /// The Postgres type.
    pub pg_type: String,
    /// How the value is written in JSON: `integer`, `number`, `boolean`, `string` or `any`.
    pub json_type: String,
    /// `date-time`, `date`, `time`, `uuid`, `decimal`, ... when a string has a format.
    #[oai(skip_serializing_if_is_none)]
    pub format: Option<String>,
    /// A record must carry it.
    pub required: bool,
    /// null is accepted.
    pub nullable: bool,
    /// Longest accepted text, in characters.
    #[oai(skip_serializing_if_is_none)]
    pub max_length: Option<u64>,
}

/// A table records can be posted to.
#[derive(Debug, Object)]
pub struct TableInfo {
    /// `schema.table`.
    pub name: String,
    /// Where to post its records.
    pub endpoint: String,
    /// The column the server assigns ids to when a record leaves it out.
    #[oai(skip_serializing_if_is_none)]
    pub generated_id: Option<String>,
    pub fields: Vec<FieldInfo>,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "tables_bad_request")]
pub enum TablesResponse {
    /// The ingestible tables.
    #[oai(status = 200)]
    Ok(Json<Vec<TableInfo>>),
    /// Missing, malformed, expired or wrongly signed token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
}

fn tables_bad_request(err: poem::Error) -> TablesResponse {
    let body = match early_error(err) {
        EarlyError::Unauthorized(body)
        | EarlyError::TooLarge(body)
        | EarlyError::UnsupportedMediaType(body)
        | EarlyError::Invalid(body) => body,
    };
    TablesResponse::Unauthorized(body, "Bearer".into())
}

pub struct IngestApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Ingest")]
impl IngestApi {
    /// Add departments (ids assigned by the server).
    #[oai(
        path = "/departments",
        method = "post",
        operation_id = "ingest_departments"
    )]
    async fn departments(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<State>>,
        request_id: Data<&RequestId>,
        /// Makes a retry safe: a request repeated with the same key (within the key's
        /// lifetime, 24 h by default) gets the first answer and writes nothing.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<IngestBody<DepartmentRecord>>,
    ) -> IngestResponse {
        let endpoint = Endpoint::Shaped("departments", &hr::DEPARTMENTS);
        ingest(
            &state,
            endpoint,
            auth,
            &request_id,
            idempotency_key.0,
            body.0.records,
        )
        .await
    }

    /// Add jobs (ids assigned by the server).
    #[oai(path = "/jobs", method = "post", operation_id = "ingest_jobs")]
    async fn jobs(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<State>>,
        request_id: Data<&RequestId>,
        /// Makes a retry safe: a request repeated with the same key (within the key's
        /// lifetime, 24 h by default) gets the first answer and writes nothing.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<IngestBody<JobRecord>>,
    ) -> IngestResponse {
        let endpoint = Endpoint::Shaped("jobs", &hr::JOBS);
        ingest(
            &state,
            endpoint,
            auth,
            &request_id,
            idempotency_key.0,
            body.0.records,
        )
        .await
    }

    /// Add hired employees (ids assigned by the server; `department_id` and `job_id` must
    /// exist; a missing `datetime` is the current UTC time).
    #[oai(
        path = "/hired_employees",
        method = "post",
        operation_id = "ingest_hired_employees"
    )]
    async fn hired_employees(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<State>>,
        request_id: Data<&RequestId>,
        /// Makes a retry safe: a request repeated with the same key (within the key's
        /// lifetime, 24 h by default) gets the first answer and writes nothing.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<IngestBody<HiredEmployeeRecord>>,
    ) -> IngestResponse {
        let endpoint = Endpoint::Shaped("hired_employees", &hr::HIRED_EMPLOYEES);
        ingest(
            &state,
            endpoint,
            auth,
            &request_id,
            idempotency_key.0,
            body.0.records,
        )
        .await
    }

    /// Add records to any table of the configured schemas (`table` or `schema.table`),
    /// typed by the table's columns.
    #[oai(
        path = "/tables/:table/records",
        method = "post",
        operation_id = "ingest_table"
    )]
    async fn table_records(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<State>>,
        request_id: Data<&RequestId>,
        table: Path<String>,
        /// Makes a retry safe: a request repeated with the same key (within the key's
        /// lifetime, 24 h by default) gets the first answer and writes nothing.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<IngestBody<TableRecord>>,
    ) -> IngestResponse {
        let endpoint = Endpoint::Table(&table.0);
        ingest(
            &state,
            endpoint,
            auth,
            &request_id,
            idempotency_key.0,
            body.0.records,
        )
        .await
    }

    /// The tables records can be posted to, with the fields of their records.
    #[oai(path = "/tables", method = "get", operation_id = "list_tables")]
    async fn tables(&self, _auth: BearerAuth, state: Data<&Arc<State>>) -> TablesResponse {
        TablesResponse::Ok(Json(
            state.ingestor.tables().iter().map(table_info).collect(),
        ))
    }
}

async fn ingest(
    state: &State,
    endpoint: Endpoint<'_>,
    auth: BearerAuth,
    request_id: &RequestId,
    idempotency_key: Option<String>,
    records: Vec<serde_json::Value>,
) -> IngestResponse {
    if let Some(Err(reason)) = idempotency_key.as_deref().map(check_key) {
        return IngestResponse::Invalid(ErrorBody::new("invalid_request", reason));
    }
    let context = RequestContext {
        request_id: request_id.0.clone(),
        user: auth.0,
    };
    match state
        .ingestor
        .ingest(endpoint, records, context, idempotency_key)
        .await
    {
        Ok(outcome) if outcome.replayed => IngestResponse::Ok(Json(result(outcome)), Some(true)),
        Ok(outcome) => {
            state
                .metrics
                .ingested(&outcome.table, outcome.inserted, outcome.rejected.len());
            IngestResponse::Ok(Json(result(outcome)), None)
        }
        Err(err) => {
            if !matches!(err, IngestError::UnknownTable(_)) {
                tracing::warn!(request_id = %request_id.0, error = %err, "ingestion failed");
            }
            let retry_after = state.lock_timeout.as_secs().max(1);
            failure(&err, &request_id.0, retry_after)
        }
    }
}

/// The documented response for a failed ingestion (nothing of it was written). The body
/// says what the client can act on; server addresses, SQL and the database's details stay
/// in the log, under the request id.
fn failure(err: &IngestError, request_id: &str, retry_after: u64) -> IngestResponse {
    let logged = |code: &str, message: String| ErrorBody::logged(code, message, request_id);
    let nothing = "nothing was written";
    match err {
        IngestError::UnknownTable(_) => {
            IngestResponse::NotFound(ErrorBody::new("unknown_table", err.to_string()))
        }
        IngestError::Misconfigured(_) => IngestResponse::Internal(logged(
            "misconfigured",
            format!("the table does not fit this endpoint (the server log says why); {nothing}"),
        )),
        IngestError::KeyReused => {
            IngestResponse::Invalid(ErrorBody::new("idempotency_key_reused", err.to_string()))
        }
        IngestError::TimedOut => {
            IngestResponse::Unavailable(logged("timed_out", err.to_string()), retry_after)
        }
        IngestError::Busy(_) => IngestResponse::Unavailable(
            logged(
                "table_busy",
                format!(
                    "the table is locked by another session; {nothing}; retry in {retry_after} s"
                ),
            ),
            retry_after,
        ),
        IngestError::Refused(e) => IngestResponse::Invalid(logged(
            "refused_by_database",
            format!(
                "the database refused the records ({}); {nothing}",
                server_message(e)
            ),
        )),
        IngestError::Unavailable(_) => IngestResponse::Unavailable(
            logged(
                "database_unavailable",
                format!("the database is unavailable; {nothing}"),
            ),
            retry_after,
        ),
        IngestError::Internal(_) => IngestResponse::Internal(logged(
            "internal",
            format!("an internal error (logged under the request id); {nothing}"),
        )),
    }
}

/// The database's own message, without its detail and hint (they quote other rows and the
/// schema's internals).
fn server_message(error: &crate::error::Error) -> String {
    match error {
        crate::error::Error::Postgres { source, reason, .. } => {
            source.as_ref().and_then(|e| e.as_db_error()).map_or_else(
                || reason.split("; ").next().unwrap_or_default().to_string(),
                |db| db.message().to_string(),
            )
        }
        other => other.to_string(),
    }
}

fn result(outcome: Outcome) -> IngestResult {
    IngestResult {
        inserted: outcome.inserted as u64,
        ids: outcome.ids,
        rejected: outcome
            .rejected
            .into_iter()
            .map(|r| RejectedRecord {
                index: r.index() as u64,
                field: r.column,
                reason: r.reason,
            })
            .collect(),
    }
}

fn table_info(target: &Target) -> TableInfo {
    let name = target.table.full_name();
    TableInfo {
        endpoint: format!("/api/v1/tables/{name}/records"),
        name,
        generated_id: target.id.as_ref().map(|id| id.name.clone()),
        fields: target
            .fields
            .iter()
            .map(|f| {
                let (json_type, format) = json_form(&f.kind);
                FieldInfo {
                    name: f.name.clone(),
                    pg_type: f.type_sql.clone(),
                    json_type: json_type.into(),
                    format: format.map(str::to_string),
                    required: f.required,
                    nullable: !f.not_null,
                    max_length: match f.kind {
                        PgKind::Text { max_chars: Some(n) } => Some(n as u64),
                        _ => None,
                    },
                }
            })
            .collect(),
    }
}

/// How a value of `kind` is written in JSON, and the string's format if any.
fn json_form(kind: &PgKind) -> (&'static str, Option<&'static str>) {
    match kind {
        PgKind::Bool => ("boolean", None),
        PgKind::Int2 | PgKind::Int4 | PgKind::Int8 => ("integer", None),
        PgKind::Float4 | PgKind::Float8 => ("number", None),
        PgKind::Decimal { .. } => ("number", Some("decimal")),
        PgKind::Json | PgKind::Jsonb => ("any", None),
        PgKind::Date => ("string", Some("date")),
        PgKind::Time => ("string", Some("time")),
        PgKind::Timestamp | PgKind::Timestamptz => ("string", Some("date-time")),
        PgKind::Uuid => ("string", Some("uuid")),
        PgKind::Bytea => ("string", Some("bytea-hex")),
        _ => ("string", None),
    }
}
