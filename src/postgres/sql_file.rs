//! Running a `.sql` file against a database (the `sql_script` step).

use std::path::Path;

use crate::error::{Error, Result};
use crate::postgres::DbUrl;

/// Execute every statement of `file` as one simple-query batch: without explicit transaction
/// control in the file, the statements commit together or not at all.
pub async fn run_file(url: &DbUrl, file: &Path) -> Result<()> {
    let sql = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let client = url.connect().await?;
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| Error::pg(format!("running {} on {url}", file.display()), e))
}
