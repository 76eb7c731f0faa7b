//! Typed values from text, shared by every input that is not already Arrow: CSV fields and
//! REST request bodies are both parsed here, by the target column's kind ([`parse`]), and
//! collected into Arrow arrays ([`columns`]). A value that does not parse becomes a
//! [`reject`], whatever the input.

pub mod columns;
pub mod parse;
pub mod reject;

pub use columns::ColumnBuilder;
pub use parse::{Value, parse, parse_timestamp};
pub use reject::{Position, Reject};
