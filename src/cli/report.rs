//! `lakeshift report`: query results as charts and tables on one HTML page.

use std::path::PathBuf;

use clap::Args;
use lakeshift::Result;
use lakeshift::report::{ReportJob, ReportOptions};

use super::sql::tables;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// SQL files, one section of the page each (repeatable).
    #[arg(long = "query", value_name = "FILE.sql", required = true)]
    queries: Vec<PathBuf>,
    /// Register the tables of a pipeline's `catalog:` section.
    #[arg(long, value_name = "PIPELINE.yaml")]
    catalog: Option<PathBuf>,
    /// A table: NAME=LOCATION[#FORMAT] (repeatable), as for `lakeshift sql`.
    #[arg(long = "table", value_name = "NAME=LOCATION")]
    tables: Vec<String>,
    /// The HTML page to write.
    #[arg(short = 'o', long, default_value = "report.html")]
    output: PathBuf,
    /// Also write each chart as DIR/<query>.png.
    #[arg(long, value_name = "DIR")]
    png: Option<PathBuf>,
    /// The page's title.
    #[arg(long)]
    title: Option<String>,
}

pub async fn run(args: ReportArgs) -> Result<()> {
    let tables = tables(args.catalog.as_deref(), &args.tables)?;
    let options = ReportOptions {
        queries: args.queries,
        output: args.output,
        png_dir: args.png,
        title: args.title,
    };
    let summary = ReportJob::new(options, tables).run().await?;
    for q in &summary.queries {
        eprintln!(
            "{}: {} rows{}",
            q.file,
            q.rows,
            q.chart
                .as_ref()
                .map_or(String::new(), |c| format!(", {c} chart"))
        );
    }
    for png in &summary.png_files {
        eprintln!("chart written to {png}");
    }
    eprintln!("report written to {}", summary.output);
    Ok(())
}
