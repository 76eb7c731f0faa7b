//! SQL over lakeshift's tables with DataFusion: [`source`] parses where a table is,
//! [`register`] makes it queryable, [`session`] builds the (UTC) session, [`script`] runs
//! SQL files statement by statement, [`output`] writes the last result.

pub mod output;
pub mod register;
pub mod script;
pub mod session;
pub mod source;

pub use output::{OutputFormat, write};
pub use script::{Script, run};
pub use session::session;
pub use source::{SourceFormat, TableSource};

/// Run the SQL file `file` over `tables` and write its result to `output`; the rows written.
pub async fn run_to_file(
    file: &std::path::Path,
    tables: &[TableSource],
    format: OutputFormat,
    output: &str,
) -> crate::Result<u64> {
    let script = Script::from_file(file)?;
    let ctx = session(tables).await?;
    let frame = run(&ctx, &script).await?;
    let stream = frame
        .execute_stream()
        .await
        .map_err(|e| script::planning_error(&ctx, &script, None, e))?;
    write(stream, format, Some(output)).await
}
