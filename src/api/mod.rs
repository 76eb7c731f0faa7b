//! `lakeshift serve`: the authenticated, OpenAPI-documented REST service for batch
//! ingestion. [`auth`] (users, tokens, throttle) and [`ingest`] (records -> checked rows ->
//! Postgres) hold the logic; [`routes`] is the HTTP surface over them, [`middleware`] and
//! [`metrics`] what surrounds every request.

pub mod auth;
pub mod config;
pub mod ingest;
pub mod metrics;
pub mod middleware;
pub mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use poem::Server;
use poem::listener::TcpAcceptor;

use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use auth::Authenticator;
use auth::jwt::TokenKeys;
use config::ServeConfig;
use ingest::Ingestor;
use metrics::Metrics;
use routes::{Limits, State};

pub use routes::openapi_json;

/// Extra time in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A bound address, ready to accept connections.
struct Listener {
    acceptor: TcpAcceptor,
    address: SocketAddr,
}

impl Listener {
    async fn bind(bind: &str) -> Result<Self> {
        let cannot_listen =
            |e: std::io::Error| Error::Invalid(format!("cannot listen on {bind}: {e}"));
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(cannot_listen)?;
        let address = listener.local_addr().map_err(cannot_listen)?;
        let acceptor = TcpAcceptor::from_tokio(listener).map_err(cannot_listen)?;
        Ok(Listener { acceptor, address })
    }
}

/// A service ready to accept connections: its state is built and its ports bound.
pub struct Service {
    state: Arc<State>,
    limits: Limits,
    api: Listener,
    /// The separate address of `/metrics`, if configured.
    metrics: Option<Listener>,
    grace: Duration,
}

impl Service {
    /// Bind `bind` (`127.0.0.1:0` picks a free port; see [`Service::address`]) and the
    /// metrics address if any, then connect to the database, create the reject log if
    /// needed and read the catalog.
    pub async fn start(
        url: &DbUrl,
        bind: &str,
        config: &ServeConfig,
        jwt_secret: &[u8],
    ) -> Result<Self> {
        config::check_secret(jwt_secret)?;
        let keys = TokenKeys::new(jwt_secret, config.token_ttl);
        let auth = Arc::new(Authenticator::new(&config.users, keys)?);
        let api = Listener::bind(bind).await?;
        let metrics = match &config.metrics.bind {
            Some(bind) => Some(Listener::bind(bind).await?),
            None => None,
        };
        // After the binds: a start that fails on an address leaves the database untouched.
        let ingestor = Ingestor::start(url, config).await?;
        let state = Arc::new(State {
            auth,
            ingestor,
            metrics: Arc::new(Metrics::default()),
            metrics_access: config.metrics.clone(),
            lock_timeout: config.lock_timeout,
        });
        Ok(Service {
            state,
            limits: Limits {
                max_body_bytes: config.max_body_bytes,
                body_timeout: config.request_timeout,
                client_address_header: config.client_address_header.clone(),
            },
            api,
            metrics,
            grace: config.request_timeout + SHUTDOWN_GRACE,
        })
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.api.address
    }

    /// The bound address of `/metrics`, when it has one of its own.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.address)
    }

    /// The service as an endpoint without a socket (in-process tests).
    pub fn endpoint(&self) -> impl poem::Endpoint + 'static {
        routes::app(Arc::clone(&self.state), self.limits.clone())
    }

    /// Serve until `shutdown` completes, then let in-flight requests finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        tracing::info!(
            "listening on http://{} (API document at {}, Swagger UI at /docs)",
            self.api.address,
            routes::OPENAPI_PATH
        );
        let shutdown = shutdown.shared();
        let metrics = self.metrics.map(|listener| {
            tracing::info!("metrics at http://{}/metrics", listener.address);
            let app = routes::ops::metrics_app(Arc::clone(&self.state));
            Server::new_with_acceptor(listener.acceptor).run_with_graceful_shutdown(
                app,
                shutdown.clone(),
                Some(SHUTDOWN_GRACE),
            )
        });
        let app = routes::app(self.state, self.limits);
        let api = Server::new_with_acceptor(self.api.acceptor).run_with_graceful_shutdown(
            app,
            shutdown,
            Some(self.grace),
        );
        let stopped = |e: std::io::Error| Error::Invalid(format!("the server stopped: {e}"));
        match metrics {
            Some(metrics) => {
                let (api, metrics) = futures::join!(api, metrics);
                api.map_err(stopped)?;
                metrics.map_err(stopped)?;
            }
            None => api.await.map_err(stopped)?,
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    crate::shutdown::requested().await;
    tracing::info!("shutting down: finishing the requests in flight");
}
