//! The HTTP surface: poem-openapi endpoints (each answers with an `ApiResponse` enum that
//! documents every status), the OpenAPI document and Swagger UI. Handlers decode, check
//! the token and call [`crate::api::ingest`].

pub mod auth;
pub mod hr;
pub mod ingest;
pub mod ops;
pub mod responses;
pub mod schemas;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use super::auth::Authenticator;
use super::config::MetricsAccess;
use super::ingest::Ingestor;
use super::metrics::Metrics;
use super::middleware::Observe;

/// What every handler shares.
pub struct State {
    pub auth: Arc<Authenticator>,
    pub ingestor: Arc<Ingestor>,
    pub metrics: Arc<Metrics>,
    pub metrics_access: MetricsAccess,
    /// What a 503 for a busy table tells the client to wait (`Retry-After`).
    pub lock_timeout: std::time::Duration,
}

#[derive(Tags)]
pub enum ApiTags {
    /// Access tokens.
    Auth,
    /// Batch ingestion of records.
    Ingest,
    /// Health and metrics.
    Operations,
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

type Apis = (auth::AuthApi, ingest::IngestApi, ops::OpsApi);

fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (auth::AuthApi, ingest::IngestApi, ops::OpsApi),
        "lakeshift ingestion API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Batch ingestion into Postgres tables. Get a token at POST /api/v1/auth/token, then \
         post 1 to 1000 records per request. Each record is checked on its own (types, \
         lengths, required fields, foreign keys): valid records are inserted in one \
         transaction with ids assigned by the server, invalid ones are reported and logged.",
    )
}

/// The OpenAPI 3 document as JSON.
pub fn openapi_json() -> String {
    service().spec()
}

/// Limits the routes apply, and where the client's address is read.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub body_timeout: std::time::Duration,
    pub client_address_header: Option<poem::http::HeaderName>,
}

/// The whole service: API, document, Swagger UI, all behind the request middleware.
pub fn app(state: Arc<State>, limits: Limits) -> impl Endpoint + 'static {
    let api = service();
    let docs = api.swagger_ui();
    let document = api.spec_endpoint();
    let metrics = Arc::clone(&state.metrics);
    Route::new()
        .at(OPENAPI_PATH, document)
        .nest("/docs", docs)
        .nest("/", api)
        .data(state)
        .with(Observe {
            metrics,
            max_body_bytes: limits.max_body_bytes,
            body_timeout: limits.body_timeout,
            client_address_header: limits.client_address_header,
        })
}
