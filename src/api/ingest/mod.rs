//! Batch ingestion into Postgres tables, independent of HTTP: records (JSON values) are
//! checked against the table's catalog types ([`records`]), then queued to the table's
//! [`writer`], which assigns ids, checks keys ([`keys`]), COPYs the rows and logs the
//! rejects ([`rejects`]) in one transaction.

pub mod keys;
pub mod records;
pub mod rejects;
pub mod target;
pub mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use crate::postgres::catalog::Catalog;
use rejects::RequestContext;
use target::{Shape, Target};
use writer::{Outcome, SubmitError, Writer};

/// The catalog is re-read for an unknown table at most this often.
const CATALOG_REFRESH: Duration = Duration::from_secs(2);

/// Which records an ingestion accepts.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint<'a> {
    /// Any table of the configured schemas, typed from the catalog.
    Table(&'a str),
    /// A table with a fixed record shape (the HR endpoints).
    Shaped(&'a str, &'a Shape),
}

impl Endpoint<'_> {
    fn key(&self) -> String {
        match self {
            Endpoint::Table(name) => format!("table:{name}"),
            Endpoint::Shaped(name, _) => format!("shaped:{name}"),
        }
    }

    /// The table name as the request gave it.
    pub fn table(&self) -> &str {
        match self {
            Endpoint::Table(name) | Endpoint::Shaped(name, _) => name,
        }
    }
}

/// Why an ingestion failed as a whole (nothing of it was written).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("table {0} does not exist in the ingestible schemas")]
    UnknownTable(String),
    /// The table does not fit the endpoint (a missing column, no integer key).
    #[error("{0}")]
    Misconfigured(String),
    #[error("the request waited too long for the database; nothing was written")]
    TimedOut,
    /// The database refused the rows (a constraint lakeshift does not check itself).
    #[error("the database refused the records, nothing was written: {0}")]
    Refused(Error),
    #[error("the database is unavailable: {0}")]
    Unavailable(Error),
    #[error("{0}")]
    Internal(Error),
}

/// Tables that can be ingested into, with their writers.
pub struct Ingestor {
    url: DbUrl,
    connections: Connections,
    schemas: Vec<String>,
    rejects_table: String,
    /// The catalog and when it was read (`None`: known to be stale, re-read on demand).
    catalog: RwLock<(Arc<Catalog>, Option<Instant>)>,
    writers: Mutex<HashMap<String, Writer>>,
    timeout: Duration,
}

impl Ingestor {
    /// Connect, create the reject log if needed and read the catalog of `schemas`.
    pub async fn start(
        url: &DbUrl,
        schemas: &[String],
        pool_size: usize,
        timeout: Duration,
    ) -> Result<Arc<Self>> {
        let schema = schemas
            .first()
            .ok_or_else(|| Error::Invalid("no schema to ingest into".into()))?;
        let connections = Connections::new(url, pool_size)?;
        let rejects_table = rejects::rejects_table(schema);
        let client = url.connect().await?;
        rejects::ensure_table(&client, &rejects_table).await?;
        let catalog = Catalog::load(url, schemas).await?;
        Ok(Arc::new(Ingestor {
            url: url.clone(),
            connections,
            schemas: schemas.to_vec(),
            rejects_table,
            catalog: RwLock::new((Arc::new(catalog), Some(Instant::now()))),
            writers: Mutex::new(HashMap::new()),
            timeout,
        }))
    }

    /// The record targets of every ingestible table (all tables of the schemas but the
    /// reject log), in catalog order.
    pub fn tables(&self) -> Vec<Target> {
        let catalog = self.catalog();
        catalog
            .tables
            .iter()
            .filter(|t| t.name != rejects::REJECTS_TABLE)
            .map(|t| Target::generic(&catalog, t))
            .collect()
    }

    /// Check `records` and write the good ones; the outcome says which were rejected.
    pub async fn ingest(
        &self,
        endpoint: Endpoint<'_>,
        records: Vec<Json>,
        context: RequestContext,
    ) -> std::result::Result<Outcome, IngestError> {
        let writer = self.writer(endpoint).await?;
        let now = chrono::Utc::now().timestamp_micros();
        let prepared = records::prepare(&writer.target, &records, now);
        for reject in &prepared.rejects {
            tracing::info!(request_id = %context.request_id, user = %context.user,
                table = %writer.target.table.qualified(), index = reject.index(),
                field = reject.column.as_deref().unwrap_or(""), reason = %reject.reason, "record rejected");
        }
        match writer
            .submit(prepared, records, context, self.timeout)
            .await
        {
            Ok(outcome) => Ok(outcome),
            Err(SubmitError::TimedOut) => Err(IngestError::TimedOut),
            Err(SubmitError::Failed(error)) => Err(self.classify(endpoint, error)),
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        self.connections
            .get()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(|e| Error::pg("checking the database", e))?;
        Ok(())
    }

    fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().expect("catalog lock").0)
    }

    /// The writer of an endpoint, started on first use; an unknown table makes the catalog
    /// be re-read once (tables created since the start are found).
    async fn writer(&self, endpoint: Endpoint<'_>) -> std::result::Result<Writer, IngestError> {
        let key = endpoint.key();
        if let Some(writer) = self.writers.lock().expect("writers lock").get(&key) {
            return Ok(writer.clone());
        }
        let mut catalog = self.catalog();
        if catalog.table(endpoint.table()).is_none() {
            catalog = self
                .refresh_catalog()
                .await
                .map_err(IngestError::Unavailable)?;
        }
        let table = catalog
            .table(endpoint.table())
            .filter(|t| t.name != rejects::REJECTS_TABLE)
            .ok_or_else(|| IngestError::UnknownTable(endpoint.table().to_string()))?;
        let target = match endpoint {
            Endpoint::Table(_) => Target::generic(&catalog, table),
            Endpoint::Shaped(_, shape) => {
                Target::shaped(&catalog, table, shape).map_err(IngestError::Misconfigured)?
            }
        };
        let mut writers = self.writers.lock().expect("writers lock");
        let writer = writers.entry(key).or_insert_with(|| {
            Writer::spawn(
                self.connections.clone(),
                Arc::new(target),
                self.rejects_table.clone(),
            )
        });
        Ok(writer.clone())
    }

    async fn refresh_catalog(&self) -> Result<Arc<Catalog>> {
        let fresh_enough = {
            let guard = self.catalog.read().expect("catalog lock");
            guard
                .1
                .is_some_and(|read| read.elapsed() < CATALOG_REFRESH)
                .then(|| Arc::clone(&guard.0))
        };
        if let Some(catalog) = fresh_enough {
            return Ok(catalog);
        }
        let catalog = Arc::new(Catalog::load(&self.url, &self.schemas).await?);
        *self.catalog.write().expect("catalog lock") = (Arc::clone(&catalog), Some(Instant::now()));
        Ok(catalog)
    }

    /// Sort a writer failure into refused data, an unreachable database or a bug. When the
    /// table changed under the writer (SQLSTATE class 42), it is dropped: the next request
    /// reads the table afresh.
    fn classify(&self, endpoint: Endpoint<'_>, error: Error) -> IngestError {
        let class = match &error {
            Error::Postgres {
                sqlstate: Some(code),
                ..
            } => code.get(..2).unwrap_or("").to_string(),
            Error::Postgres { sqlstate: None, .. } | Error::Connect { .. } => {
                return IngestError::Unavailable(error);
            }
            _ => return IngestError::Internal(error),
        };
        match class.as_str() {
            "22" | "23" => IngestError::Refused(error),
            "08" | "53" | "57" => IngestError::Unavailable(error),
            "42" => {
                self.writers
                    .lock()
                    .expect("writers lock")
                    .remove(&endpoint.key());
                self.catalog.write().expect("catalog lock").1 = None;
                IngestError::Internal(error)
            }
            _ => IngestError::Internal(error),
        }
    }
}

/// The pool's connections are made by [`DbUrl::open`], as every other connection is.
struct PoolConnect(DbUrl);

impl deadpool_postgres::Connect for PoolConnect {
    fn connect(
        &self,
        _: &tokio_postgres::Config,
    ) -> futures::future::BoxFuture<
        '_,
        std::result::Result<
            (tokio_postgres::Client, tokio::task::JoinHandle<()>),
            tokio_postgres::Error,
        >,
    > {
        Box::pin(self.0.open())
    }
}

/// The shared connections, named by the database's URL (without password) in errors.
#[derive(Clone)]
pub struct Connections {
    pool: Pool,
    url: String,
}

impl Connections {
    /// A pool of at most `size` connections to `url`; they are opened when first needed.
    fn new(url: &DbUrl, size: usize) -> Result<Self> {
        let manager = Manager::from_connect(
            url.config().clone(),
            PoolConnect(url.clone()),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .build()
            .map_err(|e| Error::Connect {
                url: url.redacted(),
                reason: e.to_string(),
                source: Some(Box::new(e)),
            })?;
        Ok(Connections {
            pool,
            url: url.redacted(),
        })
    }

    /// A connection from the pool (waits while all are in use).
    pub async fn get(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| Error::Connect {
            url: self.url.clone(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })
    }
}
