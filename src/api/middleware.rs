//! Around every request: a request id (the client's `X-Request-Id` when it is sane, else a
//! new one) in the request's data, the response headers and the log; a bounded body read
//! within the request timeout; the client's address for the login throttle; errors as
//! JSON; one log line and the metrics per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use poem::http::{HeaderName, HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::OperationId;
use tracing::Instrument;

use super::auth::throttle::ClientKey;
use super::metrics::Metrics;

/// The id of the request being answered, set by [`Observe`] for the handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request id header, read and written.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The middleware; see the module docs.
pub struct Observe {
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    /// The header a reverse proxy sets to the client's address; without one, the peer.
    pub client_address_header: Option<HeaderName>,
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: Arc::clone(&self.metrics),
            max_body_bytes: self.max_body_bytes,
            body_timeout: self.body_timeout,
            client_address_header: self.client_address_header.clone(),
            ids: RequestIds::new(),
        }
    }
}

pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    max_body_bytes: usize,
    body_timeout: Duration,
    client_address_header: Option<HeaderName>,
    ids: RequestIds,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let request_id = req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|id| is_sane_id(id))
            .map_or_else(|| self.ids.next(), str::to_string);
        req.set_data(RequestId(request_id.clone()));
        let client = self.client_address(&req);
        req.set_data(client);
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let span = tracing::info_span!("request", request_id = %request_id);
        async move {
            let mut response = match self.read_body(&mut req).await {
                Err(refused) => refused,
                Ok(()) => match self.inner.call(req).await {
                    Ok(output) => output.into_response(),
                    Err(err) => json_error(err),
                },
            };
            let seconds = started.elapsed().as_secs_f64();
            let route = response
                .data::<OperationId>()
                .map_or_else(|| fallback_route(&path).to_string(), |id| id.0.to_string());
            let status = response.status().as_u16();
            self.metrics.observe(&route, method_label(&method), status, seconds);
            tracing::info!(%method, %path, status, ms = (seconds * 1000.0).round() as u64, "answered");
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

impl<E> ObserveEndpoint<E> {
    /// The TCP peer, or the last entry of the proxy's header: the one the proxy itself
    /// appended (entries before it are whatever the client sent).
    fn client_address(&self, req: &Request) -> ClientKey {
        let address = match &self.client_address_header {
            None => req.remote_addr().as_socket_addr().map(|a| a.ip()),
            Some(header) => req
                .headers()
                .get_all(header)
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok()),
        };
        ClientKey::new(address)
    }

    /// Read the body into memory, refusing one past the limit (413) or too slow (408).
    async fn read_body(&self, req: &mut Request) -> Result<(), Response> {
        if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
            return Ok(());
        }
        let too_large = || {
            error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {} bytes", self.max_body_bytes),
            )
        };
        let declared = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Err(too_large());
        }
        let body = req.take_body();
        match tokio::time::timeout(
            self.body_timeout,
            body.into_bytes_limit(self.max_body_bytes),
        )
        .await
        {
            Err(_) => Err(error_response(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the body did not arrive in time".into(),
            )),
            Ok(Err(poem::error::ReadBodyError::PayloadTooLarge)) => Err(too_large()),
            Ok(Err(e)) => Err(error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("cannot read the body: {e}"),
            )),
            Ok(Ok(bytes)) => {
                req.set_body(bytes);
                Ok(())
            }
        }
    }
}

/// A JSON error body for errors no endpoint turned into a documented response (unknown
/// path, wrong method).
fn json_error(err: poem::Error) -> Response {
    let status = err.status();
    let code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "_");
    error_response(status, &code, err.to_string())
}

fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({ "error": code, "message": message });
    poem::web::Json(body).with_status(status).into_response()
}

/// A metrics label for requests that no API operation answered, from a small fixed set.
fn fallback_route(path: &str) -> &'static str {
    if path.starts_with("/docs") {
        "docs"
    } else if path == "/api/v1/openapi.json" {
        "openapi"
    } else {
        "unmatched"
    }
}

/// The method as a metrics label: the standard ones, anything else `other` (invented
/// methods must not each make a new series).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Up to 64 characters of `[A-Za-z0-9._-]`.
fn is_sane_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Request ids: a random per-process prefix and a counter, unique and cheap.
struct RequestIds {
    prefix: String,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let mut random = [0u8; 4];
        let _ = getrandom::fill(&mut random);
        RequestIds {
            prefix: format!("{:08x}", u32::from_le_bytes(random)),
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        format!(
            "{}-{:x}",
            self.prefix,
            self.counter.fetch_add(1, Ordering::Relaxed) + 1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_client_ids_checked() {
        let ids = RequestIds::new();
        assert_ne!(ids.next(), ids.next());
        assert!(is_sane_id("abc-123_x.y"));
        assert!(!is_sane_id("has space"));
        assert!(!is_sane_id(&"x".repeat(65)));
        assert!(!is_sane_id(""));
    }
}
