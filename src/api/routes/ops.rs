//! Operations endpoints: `GET /healthz` (is the database reachable) and `GET /metrics`
//! (Prometheus text format), on the API's address or on one of its own, open or behind the
//! bearer token as configured.

use std::sync::Arc;
use std::time::Duration;

use poem::web::Data;
use poem::{Endpoint, EndpointExt, Request, Route};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::responses::ErrorBody;
use super::{ApiTags, State};

/// How long a health check waits for the database.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Health of the service.
#[derive(Debug, Object)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// Why the service is unavailable.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The service and its database answer.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<Health>),
}

#[derive(ApiResponse)]
pub enum MetricsResponse {
    /// Prometheus text exposition format 0.0.4.
    #[oai(status = 200, content_type = "text/plain; version=0.0.4")]
    Ok(PlainText<String>),
    /// The metrics need a bearer token (`metrics.require_token`) and none valid was sent.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The metrics are served on an address of their own (`metrics.bind`).
    #[oai(status = 404)]
    NotHere(Json<ErrorBody>),
}

pub struct OpsApi;

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Whether the service can reach its database.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self, state: Data<&Arc<State>>) -> HealthResponse {
        let reason = match tokio::time::timeout(HEALTH_TIMEOUT, state.ingestor.ping()).await {
            Ok(Ok(())) => None,
            // The cause names the server: it goes to the log, not to anyone who asks.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "health check: the database does not answer");
                Some("the database does not answer".to_string())
            }
            Err(_) => Some(format!(
                "the database did not answer within {HEALTH_TIMEOUT:?}"
            )),
        };
        match reason {
            None => HealthResponse::Ok(Json(Health {
                status: "ok".into(),
                reason: None,
            })),
            Some(reason) => HealthResponse::Unavailable(Json(Health {
                status: "unavailable".into(),
                reason: Some(reason),
            })),
        }
    }

    /// Requests and latency by route and status, rows inserted and records rejected.
    ///
    /// Open unless the operator requires a bearer token or serves them on an address of
    /// their own.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, state: Data<&Arc<State>>, req: &Request) -> MetricsResponse {
        if state.metrics_access.bind.is_some() {
            return MetricsResponse::NotHere(ErrorBody::new(
                "not_found",
                "the metrics are served on an address of their own",
            ));
        }
        metrics_answer(&state, req)
    }
}

/// The metrics, if the request may read them.
fn metrics_answer(state: &State, req: &Request) -> MetricsResponse {
    if state.metrics_access.require_token {
        let token = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let refused = match token.map(|t| state.auth.check_token(t)) {
            None => Some("the metrics need `Authorization: Bearer <token>`".to_string()),
            Some(Err(e)) => Some(e.to_string()),
            Some(Ok(_)) => None,
        };
        if let Some(reason) = refused {
            return MetricsResponse::Unauthorized(
                ErrorBody::new("unauthorized", reason),
                "Bearer".into(),
            );
        }
    }
    MetricsResponse::Ok(PlainText(state.metrics.render()))
}

#[poem::handler]
fn metrics_only(state: Data<&Arc<State>>, req: &Request) -> MetricsResponse {
    metrics_answer(&state, req)
}

/// What the separate metrics address serves: `GET /metrics` alone.
pub fn metrics_app(state: Arc<State>) -> impl Endpoint + 'static {
    Route::new()
        .at("/metrics", poem::get(metrics_only))
        .data(state)
}
