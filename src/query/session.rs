//! The DataFusion session every query runs in: UTC, with lakeshift's tables registered.

use datafusion::prelude::{SessionConfig, SessionContext};

use super::register::register;
use super::source::TableSource;
use crate::error::{Error, Result};

/// A session whose clock is UTC (so `date_part` and casts of zoned timestamps read UTC, as
/// they would in a Postgres session with `TimeZone = 'UTC'`) holding `tables`.
pub async fn session(tables: &[TableSource]) -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .set_str("datafusion.execution.time_zone", "UTC");
    let ctx = SessionContext::new_with_config(config);
    let mut seen: Vec<&str> = Vec::new();
    for table in tables {
        if seen.contains(&table.name.as_str()) {
            return Err(Error::Invalid(format!(
                "table {} is registered twice",
                table.name
            )));
        }
        seen.push(&table.name);
        register(&ctx, table).await?;
    }
    Ok(ctx)
}

/// The names of the tables `ctx` knows (for messages).
pub fn table_names(ctx: &SessionContext) -> Vec<String> {
    let mut names: Vec<String> = ctx
        .catalog("datafusion")
        .and_then(|c| c.schema("public"))
        .map(|s| s.table_names())
        .unwrap_or_default();
    names.sort();
    names
}
