//! Operations endpoints: `GET /healthz` (is the database reachable) and `GET /metrics`
//! (Prometheus text format).

use std::sync::Arc;
use std::time::Duration;

use poem::web::Data;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

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
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, state: Data<&Arc<State>>) -> MetricsResponse {
        MetricsResponse::Ok(PlainText(state.metrics.render()))
    }
}
