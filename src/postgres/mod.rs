//! Everything that talks to Postgres: connections, catalog introspection, DDL, the type
//! table, the read side every database-reading job shares ([`source`], [`selection`]), the
//! write side every loading job shares ([`load`], over the COPY writer in [`write`]), and
//! the jobs that are Postgres to Postgres ([`transfer`], [`schema_copy`], [`compare`]).

pub mod bulk;
pub mod catalog;
pub mod cluster;
pub mod compare;
pub mod connect;
mod copy_out;
pub mod ddl;
pub(crate) mod irregular;
pub mod load;
pub mod read;
pub mod schema_copy;
pub mod selection;
pub mod server_rejects;
pub mod source;
pub mod sql_file;
pub mod transfer;
pub mod types;
pub mod write;

pub use connect::DbUrl;
