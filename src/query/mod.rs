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
pub use source::{SourceFormat, TableSource, with_defaults};

/// Run `scripts` in order in one session over `tables` and write the last statement's
/// result as `format` to `output` (standard output when `None`); the rows written.
pub async fn run_scripts(
    scripts: &[Script],
    tables: &[TableSource],
    format: OutputFormat,
    output: Option<&str>,
) -> crate::Result<u64> {
    let ctx = session(tables).await?;
    let mut last = None;
    for script in scripts {
        last = Some((run(&ctx, script).await?, script));
    }
    let (frame, script) = last.ok_or_else(|| crate::Error::Invalid("no SQL to run".into()))?;
    let stream = frame
        .execute_stream()
        .await
        .map_err(|e| script::planning_error(&ctx, script, None, e))?;
    write(stream, format, output).await
}
