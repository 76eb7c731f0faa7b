//! Running SQL text: a file (or `-e` text) may hold several statements; each is planned and
//! run in order, and the last one's result is returned (lazily, as a DataFrame). Errors say
//! where: `file.sql:LINE:COLUMN: syntax error ...`, `file.sql:LINE: unknown table ...`.

use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::ast::Spanned;
use futures::TryStreamExt;

use super::session::table_names;
use crate::error::{Error, Result};

/// SQL text and where it came from (a path, or `-e`), for messages.
#[derive(Debug, Clone)]
pub struct Script {
    pub origin: String,
    pub text: String,
}

impl Script {
    pub fn from_file(path: &std::path::Path) -> Result<Script> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Ok(Script {
            origin: path.display().to_string(),
            text,
        })
    }

    pub fn inline(text: &str) -> Script {
        Script {
            origin: "-e".into(),
            text: text.to_string(),
        }
    }
}

/// Run every statement of `script` in `ctx`; the last statement's result, not yet executed.
pub async fn run(ctx: &SessionContext, script: &Script) -> Result<DataFrame> {
    let statements = DFParserBuilder::new(script.text.as_str())
        .build()
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_error(script, &e))?;
    let count = statements.len();
    if count == 0 {
        return Err(Error::Sql {
            location: script.origin.clone(),
            reason: "no SQL statement".into(),
        });
    }
    let mut last = None;
    for (index, statement) in statements.into_iter().enumerate() {
        let line = start_line(&statement);
        let at = |e: DataFusionError| planning_error(ctx, script, line, e);
        let plan = ctx.state().statement_to_plan(statement).await.map_err(at)?;
        let frame = ctx.execute_logical_plan(plan).await.map_err(at)?;
        if index + 1 < count {
            // Statements before the last run for their effect (CREATE VIEW, SET, ...).
            let mut stream = frame.execute_stream().await.map_err(at)?;
            while stream.try_next().await.map_err(at)?.is_some() {}
        } else {
            last = Some(frame);
        }
    }
    Ok(last.expect("the last statement's frame"))
}

fn start_line(statement: &Statement) -> Option<u64> {
    match statement {
        Statement::Statement(s) => Some(s.span().start.line).filter(|&l| l > 0),
        _ => None,
    }
}

/// `origin:LINE:COLUMN: syntax error: ...` from the parser's `at Line: L, Column: C`.
fn syntax_error(script: &Script, err: &DataFusionError) -> Error {
    let text = err.to_string();
    let message = ["ParserError(\"", "TokenizerError(\"", "sql parser error: "]
        .iter()
        .find_map(|prefix| text.split_once(prefix).map(|(_, rest)| rest))
        .unwrap_or(&text)
        .trim_end_matches(['"', ')']);
    let (message, location) = match message.rsplit_once(" at Line: ") {
        Some((message, position)) => {
            let mut numbers = position.split(", Column: ");
            let line = numbers.next().unwrap_or("?");
            let column = numbers.next().unwrap_or("?");
            (message, format!("{}:{line}:{column}", script.origin))
        }
        None => (message, script.origin.clone()),
    };
    Error::Sql {
        location,
        reason: format!("syntax error: {message}"),
    }
}

/// A planning error, at the statement's line; an unknown table also lists the known ones.
pub fn planning_error(
    ctx: &SessionContext,
    script: &Script,
    line: Option<u64>,
    err: DataFusionError,
) -> Error {
    let location = match line {
        Some(line) => format!("{}:{line}", script.origin),
        None => script.origin.clone(),
    };
    let err = err.find_root().to_string();
    let text = err
        .strip_prefix("Error during planning: ")
        .unwrap_or(&err)
        .to_string();
    let reason = match unknown_table(&text) {
        Some(name) => {
            let known = table_names(ctx);
            let known = if known.is_empty() {
                "no tables are registered: add --table NAME=LOCATION or --catalog".to_string()
            } else {
                format!("known tables: {}", known.join(", "))
            };
            format!("unknown table {name} ({known})")
        }
        None => text,
    };
    Error::Sql { location, reason }
}

/// The table named in DataFusion's "table 'datafusion.public.x' not found".
fn unknown_table(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("table '")?;
    let (qualified, tail) = rest.split_once('\'')?;
    tail.starts_with(" not found")
        .then(|| qualified.rsplit('.').next().unwrap_or(qualified))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fails(sql: &str) -> String {
        let ctx = SessionContext::new();
        run(&ctx, &Script::inline(sql))
            .await
            .unwrap_err()
            .to_string()
    }

    #[tokio::test]
    async fn a_syntax_error_names_its_line_and_column() {
        let err = fails("SELECT 1;\nSELECT *\nFORM t;").await;
        assert!(err.starts_with("-e:3:1: syntax error: Expected"), "{err}");
        assert!(err.contains("FORM"), "{err}");
    }

    #[tokio::test]
    async fn an_unknown_table_is_named_with_its_line() {
        let err = fails("SELECT 1;\n\nSELECT * FROM nosuch").await;
        assert_eq!(
            err,
            "-e:3: unknown table nosuch (no tables are registered: add --table NAME=LOCATION or --catalog)"
        );
    }

    #[tokio::test]
    async fn statements_run_in_order_and_the_last_one_answers() {
        let ctx = SessionContext::new();
        let sql = "CREATE VIEW v AS SELECT 2 AS x; SELECT x * 21 AS y FROM v";
        let frame = run(&ctx, &Script::inline(sql)).await.unwrap();
        let batches = frame.collect().await.unwrap();
        let y = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>();
        assert_eq!(y.unwrap().value(0), 42);
        assert!(fails("  ").await.contains("no SQL statement"));
    }
}
