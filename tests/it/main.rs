//! Integration tests against a real Postgres (DATABASE_URL, default the local server). Each
//! test works in a fresh database created and dropped by [`common::TestDb`]; a missing
//! server fails the tests loudly.

mod api;
mod backup;
mod cdc;
mod cli;
mod common;
mod connections;
mod copy;
mod crashes;
mod hostile_input;
mod import;
mod lake;
mod pipeline;
mod query;
mod real_databases;
mod schema;
mod values;
