//! `lakeshift report`: SQL files run in one session, each result shown as a chart and a
//! table on one self-contained HTML page ([`html`]), charts also as PNG files ([`chart`]).
//! What to draw comes from each file's header comments ([`spec`]).

pub mod chart;
pub mod html;
pub mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use serde::Serialize;

use crate::blocking::spawn_blocking;
use crate::error::{Error, Result};
use crate::options::{Check, Problem};
use crate::query::output::execution_error;
use crate::query::{Script, TableSource, run, session};
use chart::{ChartData, MAX_BARS};
use spec::{ChartPlan, QueryDoc};

/// Rows of each result the page's table shows.
pub const TABLE_ROWS: usize = 1000;

/// The options of a report (YAML: the `report` step, beside its `tables`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportOptions {
    /// SQL files, one section of the page each.
    pub queries: Vec<PathBuf>,
    /// The HTML page to write.
    pub output: PathBuf,
    /// Also write each chart as `<png_dir>/<query>.png`.
    pub png_dir: Option<PathBuf>,
    /// The page's title [default: "lakeshift report"].
    pub title: Option<String>,
}

impl Check for ReportOptions {
    fn check(&self, problems: &mut Vec<Problem>) {
        if self.queries.is_empty() {
            problems.push(Problem::new("queries", "name at least one SQL file"));
        }
        if self.output.as_os_str().is_empty() {
            problems.push(Problem::new("output", "name the HTML file to write"));
        }
    }
}

/// Write a report over `tables`.
pub struct ReportJob {
    options: ReportOptions,
    tables: Vec<TableSource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub output: String,
    pub queries: Vec<QuerySummary>,
    pub png_files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuerySummary {
    pub file: String,
    pub rows: u64,
    pub chart: Option<String>,
}

impl ReportJob {
    pub fn new(options: ReportOptions, tables: Vec<TableSource>) -> Self {
        ReportJob { options, tables }
    }

    pub async fn run(self) -> Result<ReportSummary> {
        self.options.problems()?;
        let ctx = session(&self.tables).await?;
        let mut sections = Vec::new();
        let mut charts = Vec::new();
        let mut summaries = Vec::new();
        for path in &self.options.queries {
            let (section, chart) = section(&ctx, path).await?;
            summaries.push(QuerySummary {
                file: path.display().to_string(),
                rows: section.total_rows,
                chart: chart.as_ref().map(|c| {
                    let kind = if c.series.len() > 1 {
                        "stacked-bar"
                    } else {
                        "bar"
                    };
                    kind.to_string()
                }),
            });
            charts.push((path.clone(), chart));
            sections.push(section);
        }
        let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string();
        let options = self.options;
        let title = options.title.unwrap_or_else(|| "lakeshift report".into());
        let (output, png_dir) = (options.output.clone(), options.png_dir);
        // Drawing and writing files is CPU and disk work: off the async runtime.
        let png_files = spawn_blocking("writing the report", move || {
            for (section, (_, chart)) in sections.iter_mut().zip(&charts) {
                section.svg = chart.as_ref().map(ChartData::svg).transpose()?;
            }
            let page = html::page(&title, &generated, &sections)?;
            write_published(&output, page.as_bytes())?;
            let mut png_files = Vec::new();
            if let Some(dir) = &png_dir {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                for (path, chart) in &charts {
                    if let Some(chart) = chart {
                        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                        let file = dir.join(format!("{stem}.png"));
                        chart.png(&file)?;
                        png_files.push(file.display().to_string());
                    }
                }
            }
            Ok(png_files)
        })
        .await?;
        Ok(ReportSummary {
            output: options.output.display().to_string(),
            queries: summaries,
            png_files,
        })
    }
}

/// Run one query file: its page section and its chart.
async fn section(ctx: &SessionContext, path: &Path) -> Result<(html::Section, Option<ChartData>)> {
    let script = Script::from_file(path)?;
    let origin = script.origin.clone();
    let doc = QueryDoc::parse(&script.text, &origin)?;
    let frame = run(ctx, &script).await?;
    let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
    let plan = doc.plan(&schema, &origin)?;
    let title = doc.title_or(path);
    let mut builder = plan.as_ref().map(|p| ChartTotals::new(p, &title));
    let mut stream = frame
        .execute_stream()
        .await
        .map_err(|e| crate::query::script::planning_error(ctx, &script, None, e))?;
    let (mut rows, mut shown, mut total) = (Vec::new(), 0usize, 0u64);
    while let Some(batch) = stream.try_next().await.map_err(execution_error)? {
        total += batch.num_rows() as u64;
        if let Some(builder) = builder.as_mut() {
            builder.add(&batch)?;
        }
        let keep = batch.num_rows().min(TABLE_ROWS - shown);
        if keep > 0 {
            rows.push(batch.slice(0, keep));
            shown += keep;
        }
    }
    let mut chart = builder.map(ChartTotals::finish);
    if let (Some(chart), Some(reference)) = (chart.as_mut(), &doc.reference) {
        let value = scalar(ctx, &origin, &reference.sql).await?;
        chart.reference = Some((reference.label.clone(), value));
    }
    let chart_note = chart.as_ref().filter(|c| c.omitted > 0).map(|c| {
        format!(
            "The chart shows the first {MAX_BARS} of {} categories.",
            MAX_BARS + c.omitted
        )
    });
    let section = html::Section {
        title,
        description: doc.description.clone(),
        file: origin,
        sql: script.text.clone(),
        svg: None, // drawn with the others, off the async runtime
        chart_note,
        schema,
        rows,
        total_rows: total,
    };
    Ok((section, chart))
}

/// The one value of a reference query, as a number.
async fn scalar(ctx: &SessionContext, origin: &str, sql: &str) -> Result<f64> {
    let script = Script {
        origin: format!("{origin} (reference)"),
        text: sql.to_string(),
    };
    let batches = run(ctx, &script)
        .await?
        .collect()
        .await
        .map_err(execution_error)?;
    let value = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| numbers(b.column(0)).ok())
        .and_then(|v| v.first().copied().flatten());
    value.ok_or_else(|| Error::Sql {
        location: script.origin,
        reason: "the reference query must return one number".into(),
    })
}

fn numbers(column: &dyn Array) -> Result<Vec<Option<f64>>> {
    let values = cast(column, &DataType::Float64)?;
    Ok(values
        .as_primitive::<arrow::datatypes::Float64Type>()
        .iter()
        .collect())
}

/// Sums each value column per category, in first-seen order, up to [`MAX_BARS`].
struct ChartTotals<'p> {
    plan: &'p ChartPlan,
    title: String,
    index: HashMap<String, usize>,
    categories: Vec<String>,
    sums: Vec<Vec<f64>>,
    omitted: usize,
}

impl<'p> ChartTotals<'p> {
    fn new(plan: &'p ChartPlan, title: &str) -> Self {
        ChartTotals {
            plan,
            title: title.to_string(),
            index: HashMap::new(),
            categories: Vec::new(),
            sums: vec![Vec::new(); plan.values.len()],
            omitted: 0,
        }
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let labels = cast(
            batch
                .column_by_name(&self.plan.category)
                .expect("planned column"),
            &DataType::Utf8,
        )?;
        let labels = labels.as_string::<i32>();
        let values = self
            .plan
            .values
            .iter()
            .map(|v| numbers(batch.column_by_name(v).expect("planned column").as_ref()))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..batch.num_rows() {
            let label = if labels.is_null(row) {
                "(null)"
            } else {
                labels.value(row)
            };
            let slot = match self.index.get(label) {
                Some(&slot) => slot,
                None if self.categories.len() < MAX_BARS => {
                    self.index.insert(label.to_string(), self.categories.len());
                    self.categories.push(label.to_string());
                    self.sums.iter_mut().for_each(|s| s.push(0.0));
                    self.categories.len() - 1
                }
                None => {
                    self.index.insert(label.to_string(), usize::MAX);
                    self.omitted += 1;
                    continue;
                }
            };
            if slot == usize::MAX {
                continue;
            }
            for (sums, column) in self.sums.iter_mut().zip(&values) {
                sums[slot] += column[row].unwrap_or(0.0);
            }
        }
        Ok(())
    }

    fn finish(self) -> ChartData {
        let value_label = if self.plan.values.len() == 1 {
            self.plan.values[0].clone()
        } else {
            format!("{} (stacked)", self.plan.values.join(" + "))
        };
        ChartData {
            title: self.title,
            category_label: self.plan.category.clone(),
            value_label,
            categories: self.categories,
            series: self.plan.values.iter().cloned().zip(self.sums).collect(),
            reference: None,
            omitted: self.omitted,
        }
    }
}

/// Write `bytes` to `path` through a temporary file renamed into place.
fn write_published(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&partial, bytes).map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
}
