//! Everything that talks to Postgres: connections, catalog introspection, DDL, the type
//! table, and the COPY writer.

pub mod bulk;
pub mod cast_check;
pub mod catalog;
pub mod compare;
pub mod connect;
pub mod ddl;
pub mod read;
pub mod script;
pub mod transfer;
pub mod types;
pub mod write;

pub use connect::DbUrl;
