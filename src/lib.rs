//! lakeshift moves and serves Postgres data through Apache Arrow.
//!
//! Sources (Postgres, CSV, Avro/Parquet, Delta, REST bodies) produce Arrow record batch
//! streams; sinks (Postgres COPY, files, Delta, query output) consume them. The CLI, the
//! pipeline runner and the REST service all call the functions of this library.
//!
//! Dependencies point one way: [`error`] <- [`postgres`], [`formats`], [`storage`],
//! [`stream_table`] <- [`import`], [`backup`], [`lake`], [`query`] <- [`report`] <-
//! [`pipeline`] <- `cli` (in the binary); [`api`] (the REST service) sits beside `pipeline`.

pub mod api;
pub mod backup;
pub mod blocking;
pub mod cdc;
pub mod demo;
pub mod error;
pub mod formats;
pub mod import;
pub mod lake;
pub mod options;
pub mod pipeline;
pub mod postgres;
pub mod progress;
pub mod prometheus;
pub mod query;
pub mod report;
pub mod secrets;
pub mod shutdown;
pub mod storage;
pub mod stream_table;
pub mod values;

pub use error::{Error, Result};
