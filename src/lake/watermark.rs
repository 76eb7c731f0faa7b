//! Incremental sync: only rows past the last synced value of a growing column are read. The
//! value is stored in the Delta commit itself, as the version of an application
//! transaction, so the rows and their watermark land together or not at all: a sync that
//! crashes and is re-run reads the same rows again, one that committed never re-reads them.

use deltalake::DeltaTable;

use crate::error::{Error, Result};
use crate::postgres::catalog::Table;
use crate::postgres::connect::quote_ident;
use crate::postgres::read::Snapshot;

/// The rows one incremental sync reads.
#[derive(Debug, Clone)]
pub struct Watermark {
    /// The Delta application id the watermark is stored under.
    pub app_id: String,
    /// The new watermark (as an integer: the value, days or microseconds since the epoch).
    pub version: i64,
    /// The new watermark as Postgres prints it.
    pub text: String,
    /// SQL condition selecting the rows past the old watermark, up to the new one.
    pub filter: String,
}

/// How a column's values map to and from the watermark integer.
enum Scale {
    Integer,
    Days,
    /// Microseconds since the epoch, in the column's own type.
    Micros(&'static str),
}

impl Scale {
    fn of(type_name: &str) -> Option<Scale> {
        match type_name {
            "int2" | "int4" | "int8" => Some(Scale::Integer),
            "date" => Some(Scale::Days),
            "timestamp" => Some(Scale::Micros("timestamp")),
            "timestamptz" => Some(Scale::Micros("timestamptz")),
            _ => None,
        }
    }

    fn max_as_integer(&self, column: &str) -> String {
        match self {
            Scale::Integer => format!("max({column})::int8"),
            Scale::Days => format!("(max({column}) - 'epoch'::date)::int8"),
            Scale::Micros(_) => format!("(extract(epoch FROM max({column})) * 1000000)::int8"),
        }
    }

    fn as_value(&self, value: i64) -> String {
        match self {
            Scale::Integer => value.to_string(),
            Scale::Days => format!("('epoch'::date + {value})"),
            Scale::Micros(ty) => format!("('epoch'::{ty} + '{value} microseconds'::interval)"),
        }
    }
}

/// Plan the next incremental read of `table` by `column`; `None` when no row is past the
/// watermark stored in `delta`.
pub async fn next(
    snapshot: &Snapshot,
    table: &Table,
    column: &str,
    delta: Option<&DeltaTable>,
) -> Result<Option<Watermark>> {
    let found = table.column(column).ok_or_else(|| {
        Error::option(
            "incremental_column",
            format!("{column}: {} has no such column", table.full_name()),
        )
    })?;
    let scale = Scale::of(&found.type_name).ok_or_else(|| {
        Error::option(
            "incremental_column",
            format!(
                "{column}: {} is {}; an incremental column must be an integer, date or timestamp",
                table.full_name(),
                found.type_sql
            ),
        )
    })?;
    let app_id = format!("lakeshift-sync:{}:{column}", table.full_name());
    let previous = match delta {
        Some(delta) => super::transaction_version(delta, &app_id, &table.name).await?,
        None => None,
    };
    let q = quote_ident(column);
    let sql = format!(
        "SELECT {}, max({q})::text FROM {}",
        scale.max_as_integer(&q),
        table.from_clause()
    );
    let row = snapshot
        .client()
        .query_one(&sql, &[])
        .await
        .map_err(|e| Error::pg(format!("reading the watermark of {}", table.name), e))?;
    let (Some(version), Some(text)) = (
        row.get::<_, Option<i64>>(0),
        row.get::<_, Option<String>>(1),
    ) else {
        return Ok(None); // an empty table
    };
    if previous.is_some_and(|p| p >= version) {
        return Ok(None);
    }
    let upper = format!("{q} <= {}", scale.as_value(version));
    let filter = match previous {
        Some(p) => format!("{q} > {} AND {upper}", scale.as_value(p)),
        None => upper,
    };
    Ok(Some(Watermark {
        app_id,
        version,
        text,
        filter,
    }))
}
