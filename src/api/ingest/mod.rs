//! Batch ingestion into Postgres tables, independent of HTTP: records (JSON values) are
//! checked against the table's catalog types ([`records`]), then queued to the table's
//! [`writer`], which assigns ids, checks keys ([`keys`]), COPYs the rows and logs the
//! rejects ([`rejects`]) in one transaction.

pub mod idempotency;
pub mod keys;
pub mod records;
pub mod rejects;
pub mod shape;
pub mod target;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::Value as Json;

use crate::api::config::ServeConfig;
use crate::error::{Error, Result};
use crate::postgres::DbUrl;
use crate::postgres::catalog::Catalog;
use idempotency::Keyed;
use rejects::RequestContext;
use target::{Shape, Target};
use writer::{AnswerStore, Outcome, SubmitError, Timeouts, Writer, WriterSettings};

/// The catalog is re-read for an unknown table at most this often.
const CATALOG_REFRESH: Duration = Duration::from_secs(2);
/// Times a request is checked again after its table changed under it (a second change
/// while the first is being taken in is rare; a third means something keeps changing it).
const SHAPE_RETRIES: usize = 3;

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
    #[error("this Idempotency-Key came with another request before; nothing was written")]
    KeyReused,
    /// Another session holds a lock on the table longer than the lock timeout, or a
    /// statement ran past the request timeout.
    #[error("the table is busy (locked by another session); nothing was written")]
    Busy(Error),
    /// The database refused the rows (a constraint lakeshift does not check itself).
    #[error("the database refused the records, nothing was written: {0}")]
    Refused(Error),
    #[error("the database is unavailable: {0}")]
    Unavailable(Error),
    #[error("{0}")]
    Internal(Error),
}

/// The catalog the targets are built from, with the shape of each table when it was read.
#[derive(Clone)]
struct CatalogRead {
    catalog: Arc<Catalog>,
    shapes: Arc<HashMap<u32, String>>,
    /// When it was read (`None`: known to be stale, re-read on demand).
    at: Option<Instant>,
    generation: u64,
}

/// Tables that can be ingested into, with their writers.
pub struct Ingestor {
    url: DbUrl,
    connections: Connections,
    schemas: Vec<String>,
    /// Tables whose records may carry their own id (`schema.table`).
    explicit_ids: HashSet<String>,
    catalog: RwLock<CatalogRead>,
    /// One catalog read at a time: a burst of requests that saw a change reads it once.
    reading: tokio::sync::Mutex<()>,
    writers: Mutex<HashMap<String, Writer>>,
    settings: WriterSettings,
}

impl Ingestor {
    /// Connect, create the reject log if needed and read the catalog of the schemas.
    pub async fn start(url: &DbUrl, config: &ServeConfig) -> Result<Arc<Self>> {
        let schema = config
            .schemas
            .first()
            .ok_or_else(|| Error::Invalid("no schema to ingest into".into()))?;
        let connections = Connections::new(url, config.pool_size)?;
        let rejects_table = rejects::rejects_table(schema);
        let answers_table = idempotency::idempotency_table(schema);
        let client = url.connect().await?;
        rejects::ensure_table(&client, &rejects_table).await?;
        idempotency::ensure_table(&client, &answers_table).await?;
        let (catalog, shapes) = read_catalog(url, &config.schemas).await?;
        let explicit_ids = config
            .explicit_ids
            .iter()
            .map(|name| {
                catalog.table(name).map(|t| t.full_name()).ok_or_else(|| {
                    Error::Invalid(format!(
                        "explicit_ids: table {name} does not exist in the ingestible schemas"
                    ))
                })
            })
            .collect::<Result<_>>()?;
        Ok(Arc::new(Ingestor {
            url: url.clone(),
            connections,
            schemas: config.schemas.clone(),
            explicit_ids,
            catalog: RwLock::new(CatalogRead {
                catalog: Arc::new(catalog),
                shapes: Arc::new(shapes),
                at: Some(Instant::now()),
                generation: 0,
            }),
            reading: tokio::sync::Mutex::new(()),
            writers: Mutex::new(HashMap::new()),
            settings: WriterSettings {
                rejects_table,
                answers: AnswerStore {
                    table: answers_table,
                    ttl: config.idempotency_ttl,
                },
                timeouts: Timeouts {
                    request: config.request_timeout,
                    lock: config.lock_timeout,
                },
            },
        }))
    }

    /// The record targets of every ingestible table (all tables of the schemas but the
    /// reject log), in catalog order.
    pub fn tables(&self) -> Vec<Target> {
        let catalog = self.catalog();
        catalog
            .tables
            .iter()
            .filter(|t| !is_own_table(&t.name))
            .map(|t| Target::generic(&catalog, t, self.explicit_ids.contains(&t.full_name())))
            .collect()
    }

    /// Check `records` and write the good ones; the outcome says which were rejected.
    /// When the table's shape changed since it was read, the records are checked again
    /// against the table as it is now. With an `idempotency_key` (checked by
    /// [`idempotency::check_key`]) a request answered before is answered the same way and
    /// writes nothing.
    pub async fn ingest(
        &self,
        endpoint: Endpoint<'_>,
        records: Vec<Json>,
        context: RequestContext,
        idempotency_key: Option<String>,
    ) -> std::result::Result<Outcome, IngestError> {
        let keyed = idempotency_key.map(|key| Keyed {
            user: context.user.clone(),
            request_hash: idempotency::request_hash(&endpoint.key(), &records),
            key,
        });
        let records = Arc::new(records);
        let deadline = tokio::time::Instant::now() + self.settings.timeouts.request;
        for _ in 0..SHAPE_RETRIES {
            let writer = self.writer(endpoint).await?;
            let now = chrono::Utc::now().timestamp_micros();
            let prepared = records::prepare(&writer.target, &records, now);
            let submitted = writer
                .submit(
                    prepared,
                    Arc::clone(&records),
                    context.clone(),
                    keyed.clone(),
                    deadline,
                )
                .await;
            match submitted {
                Ok(outcome) if outcome.replayed => return Ok(outcome),
                Ok(outcome) => {
                    for reject in &outcome.rejected {
                        tracing::info!(request_id = %context.request_id, user = %context.user,
                            table = %outcome.table, index = reject.index(),
                            field = reject.column.as_deref().unwrap_or(""), reason = %reject.reason, "record rejected");
                    }
                    return Ok(outcome);
                }
                Err(SubmitError::ShapeChanged) => {
                    tracing::info!(table = %writer.target.table.full_name(),
                        "the table changed since it was read; reading it again");
                    self.forget_writer(endpoint, &writer).await?;
                }
                Err(SubmitError::Again) => {}
                Err(SubmitError::KeyReused) => return Err(IngestError::KeyReused),
                Err(SubmitError::TimedOut) => return Err(IngestError::TimedOut),
                Err(SubmitError::Failed(error)) => return Err(self.classify(endpoint, error)),
            }
        }
        Err(IngestError::Internal(Error::Invalid(format!(
            "table {} kept changing while the request was checked; nothing was written",
            endpoint.table()
        ))))
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
        Arc::clone(&self.catalog.read().expect("catalog lock").catalog)
    }

    /// The writer of an endpoint, started on first use (or again, when its task ended);
    /// an unknown table makes the catalog be re-read once (tables created since the start
    /// are found).
    async fn writer(&self, endpoint: Endpoint<'_>) -> std::result::Result<Writer, IngestError> {
        let key = endpoint.key();
        if let Some(writer) = self.writers.lock().expect("writers lock").get(&key)
            && !writer.stopped()
        {
            return Ok(writer.clone());
        }
        let mut read = self.catalog.read().expect("catalog lock").clone();
        if read.catalog.table(endpoint.table()).is_none() {
            read = self
                .refresh_catalog(None)
                .await
                .map_err(IngestError::Unavailable)?;
        }
        let CatalogRead {
            catalog,
            shapes,
            generation,
            ..
        } = read;
        let table = catalog
            .table(endpoint.table())
            .filter(|t| !is_own_table(&t.name))
            .ok_or_else(|| IngestError::UnknownTable(endpoint.table().to_string()))?;
        let target = match endpoint {
            Endpoint::Table(_) => Target::generic(
                &catalog,
                table,
                self.explicit_ids.contains(&table.full_name()),
            ),
            Endpoint::Shaped(_, shape) => {
                Target::shaped(&catalog, table, shape).map_err(IngestError::Misconfigured)?
            }
        };
        let shape = shapes.get(&table.oid).cloned().unwrap_or_default();
        let mut writers = self.writers.lock().expect("writers lock");
        let writer = match writers.get(&key) {
            Some(writer) if !writer.stopped() && writer.generation >= generation => writer.clone(),
            _ => {
                let writer = Writer::spawn(
                    self.connections.clone(),
                    Arc::new(target),
                    shape,
                    generation,
                    self.settings.clone(),
                );
                writers.insert(key, writer.clone());
                writer
            }
        };
        Ok(writer)
    }

    /// After `writer` found its table changed: read the catalog again unless someone
    /// already did since the one it was built from, and retire the writer.
    async fn forget_writer(
        &self,
        endpoint: Endpoint<'_>,
        writer: &Writer,
    ) -> std::result::Result<(), IngestError> {
        self.refresh_catalog(Some(writer.generation))
            .await
            .map_err(IngestError::Unavailable)?;
        let mut writers = self.writers.lock().expect("writers lock");
        if writers
            .get(&endpoint.key())
            .is_some_and(|w| w.generation == writer.generation)
        {
            writers.remove(&endpoint.key());
        }
        Ok(())
    }

    /// Read the catalog again: when `stale` names the generation found out of date, as
    /// soon as no newer one exists; otherwise unless the last read is recent.
    async fn refresh_catalog(&self, stale: Option<u64>) -> Result<CatalogRead> {
        let _reading = self.reading.lock().await;
        {
            let read = self.catalog.read().expect("catalog lock");
            let fresh = match stale {
                Some(generation) => read.generation > generation,
                None => read.at.is_some_and(|at| at.elapsed() < CATALOG_REFRESH),
            };
            if fresh {
                return Ok(read.clone());
            }
        }
        let (catalog, shapes) = read_catalog(&self.url, &self.schemas).await?;
        let mut read = self.catalog.write().expect("catalog lock");
        *read = CatalogRead {
            catalog: Arc::new(catalog),
            shapes: Arc::new(shapes),
            at: Some(Instant::now()),
            generation: read.generation + 1,
        };
        Ok(read.clone())
    }

    /// Sort a writer failure into refused data, a busy table, an unreachable database or a
    /// bug. When the table changed under the writer (SQLSTATE class 42), the catalog is
    /// marked stale: the next request reads the table afresh.
    fn classify(&self, endpoint: Endpoint<'_>, error: Error) -> IngestError {
        match trouble_of(&error) {
            Trouble::Busy => IngestError::Busy(error),
            Trouble::Refused => IngestError::Refused(error),
            Trouble::Unavailable => IngestError::Unavailable(error),
            Trouble::TableChanged => {
                self.writers
                    .lock()
                    .expect("writers lock")
                    .remove(&endpoint.key());
                self.catalog.write().expect("catalog lock").at = None;
                IngestError::Internal(error)
            }
            Trouble::Other => IngestError::Internal(error),
        }
    }
}

/// What a failed write met, from its SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// A lock held elsewhere past the lock timeout, or the statement timeout.
    Busy,
    /// The rows themselves (classes 22 and 23).
    Refused,
    /// The connection or the server (no SQLSTATE, classes 08, 53, 57).
    Unavailable,
    /// The table is not what the writer thought (class 42).
    TableChanged,
    Other,
}

impl Trouble {
    /// Every request of a group would meet it again (so they are not retried one by one).
    pub fn is_shared(self) -> bool {
        matches!(self, Trouble::Busy | Trouble::Unavailable)
    }
}

pub fn trouble_of(error: &Error) -> Trouble {
    let code = match error {
        Error::Postgres {
            sqlstate: Some(code),
            ..
        } => code.as_str(),
        Error::Postgres { sqlstate: None, .. } | Error::Connect { .. } => {
            return Trouble::Unavailable;
        }
        _ => return Trouble::Other,
    };
    match (code.get(..2).unwrap_or(""), code) {
        // lock_not_available, query_canceled (the statement timeout)
        (_, "55P03" | "57014") => Trouble::Busy,
        ("22" | "23", _) => Trouble::Refused,
        ("08" | "53" | "57", _) => Trouble::Unavailable,
        ("42", _) => Trouble::TableChanged,
        _ => Trouble::Other,
    }
}

/// The service's own tables (reject log, stored answers) take no records.
fn is_own_table(name: &str) -> bool {
    name == rejects::REJECTS_TABLE || name == idempotency::IDEMPOTENCY_TABLE
}

/// The catalog of `schemas` and the shape of each table, read in one snapshot so that
/// the shapes describe exactly the catalog.
async fn read_catalog(url: &DbUrl, schemas: &[String]) -> Result<(Catalog, HashMap<u32, String>)> {
    let mut client = url.connect().await?;
    let tx = Catalog::snapshot(&mut client).await?;
    let shapes = shape::of_schemas(&tx, schemas).await?;
    let catalog = Catalog::load_in(&tx, url, schemas).await?;
    Ok((catalog, shapes))
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
