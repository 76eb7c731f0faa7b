//! File formats lakeshift reads and writes.

pub mod csv;
