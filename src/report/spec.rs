//! What a query file says about its report, in comment lines at its top:
//!
//! ```sql
//! -- title: Departments that hired above the 2021 mean
//! -- Any other comment line is the description.
//! -- chart: bar                       (bar | stacked-bar | none; guessed when absent)
//! -- category: department             (the column naming each bar)
//! -- values: hired                    (the numeric column(s) measured)
//! -- reference: 2021 mean = SELECT …  (a line drawn at the value of a one-value query)
//! ```

use std::path::Path;

use arrow::datatypes::{DataType, Schema};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryDoc {
    pub title: Option<String>,
    pub description: Vec<String>,
    pub chart: Option<ChartKind>,
    pub category: Option<String>,
    pub values: Vec<String>,
    pub reference: Option<Reference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// One horizontal bar per category.
    Bar,
    /// One horizontal bar per category, split into one segment per value column.
    StackedBar,
    /// A table only.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub label: String,
    pub sql: String,
}

/// The chart a result gets once [`QueryDoc`] is checked against its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPlan {
    pub kind: ChartKind,
    pub category: String,
    pub values: Vec<String>,
}

impl QueryDoc {
    /// Read the leading comment block of `sql`; `origin` names the file in errors.
    pub fn parse(sql: &str, origin: &str) -> Result<QueryDoc> {
        let mut doc = QueryDoc::default();
        for (number, line) in sql.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some(comment) = line.strip_prefix("--") else {
                break;
            };
            let comment = comment.trim();
            let bad = |reason: String| Error::Sql {
                location: format!("{origin}:{}", number + 1),
                reason,
            };
            let Some((key, value)) = comment.split_once(':') else {
                doc.description.push(comment.to_string());
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "title" => doc.title = Some(value.to_string()),
                "chart" => {
                    doc.chart = Some(match value {
                        "bar" => ChartKind::Bar,
                        "stacked-bar" => ChartKind::StackedBar,
                        "none" => ChartKind::None,
                        other => {
                            return Err(bad(format!(
                                "chart: unknown kind {other:?} (bar, stacked-bar, none)"
                            )));
                        }
                    })
                }
                "category" => doc.category = Some(value.to_string()),
                "values" => doc.values = value.split(',').map(|v| v.trim().to_string()).collect(),
                "reference" => {
                    let (label, sql) = value
                        .split_once('=')
                        .ok_or_else(|| bad("reference: expected LABEL = SELECT ...".into()))?;
                    doc.reference = Some(Reference {
                        label: label.trim().to_string(),
                        sql: sql.trim().to_string(),
                    });
                }
                _ => doc.description.push(comment.to_string()),
            }
        }
        Ok(doc)
    }

    /// The title, or the file's name.
    pub fn title_or(&self, path: &Path) -> String {
        self.title.clone().unwrap_or_else(|| {
            path.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .replace('_', " ")
        })
    }

    /// The chart for a result with `schema`: as declared (checked), or guessed: the first
    /// text column against the numeric ones (`id` columns excepted).
    pub fn plan(&self, schema: &Schema, origin: &str) -> Result<Option<ChartPlan>> {
        if self.chart == Some(ChartKind::None) {
            return Ok(None);
        }
        let bad = |reason: String| Error::Sql {
            location: origin.to_string(),
            reason: format!("chart: {reason}"),
        };
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let find = |name: &str| {
            schema.field_with_name(name).map_err(|_| {
                bad(format!(
                    "the result has no column {name} (it has {})",
                    columns.join(", ")
                ))
            })
        };
        let category = match &self.category {
            Some(name) => find(name)?.name().clone(),
            None => match schema.fields().iter().find(|f| is_text(f.data_type())) {
                Some(field) => field.name().clone(),
                None if self.chart.is_some() => {
                    return Err(bad(
                        "no text column to label the bars; add -- category:".into()
                    ));
                }
                None => return Ok(None),
            },
        };
        let values: Vec<String> = if self.values.is_empty() {
            schema
                .fields()
                .iter()
                .filter(|f| is_number(f.data_type()) && !f.name().eq_ignore_ascii_case("id"))
                .map(|f| f.name().clone())
                .collect()
        } else {
            let mut values = Vec::new();
            for name in &self.values {
                let field = find(name)?;
                if !is_number(field.data_type()) {
                    return Err(bad(format!("column {name} is not numeric")));
                }
                values.push(field.name().clone());
            }
            values
        };
        if values.is_empty() {
            if self.chart.is_some() {
                return Err(bad("no numeric column to draw; add -- values:".into()));
            }
            return Ok(None);
        }
        let kind = match self.chart {
            Some(kind) => kind,
            None if values.len() > 1 => ChartKind::StackedBar,
            None => ChartKind::Bar,
        };
        if kind == ChartKind::Bar && values.len() > 1 {
            return Err(bad(format!(
                "a bar chart draws one column, {} were given (use stacked-bar)",
                values.len()
            )));
        }
        Ok(Some(ChartPlan {
            kind,
            category,
            values,
        }))
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("department", DataType::Utf8, true),
            Field::new("Q1", DataType::Int64, true),
            Field::new("Q2", DataType::Int64, true),
        ])
    }

    #[test]
    fn the_header_comments_describe_the_report() {
        let sql = "-- title: Hires\n-- Counted per department.\n-- chart: bar\n-- category: department\n-- values: Q1\n-- reference: mean = SELECT 1\nSELECT 1\n-- title: ignored";
        let doc = QueryDoc::parse(sql, "q.sql").unwrap();
        assert_eq!(doc.title.as_deref(), Some("Hires"));
        assert_eq!(doc.description, vec!["Counted per department."]);
        assert_eq!(doc.reference.as_ref().unwrap().sql, "SELECT 1");
        let plan = doc.plan(&schema(), "q.sql").unwrap().unwrap();
        assert_eq!(
            (plan.kind, plan.values),
            (ChartKind::Bar, vec!["Q1".to_string()])
        );
    }

    #[test]
    fn without_a_chart_line_the_chart_is_guessed() {
        let plan = QueryDoc::default()
            .plan(&schema(), "q.sql")
            .unwrap()
            .unwrap();
        assert_eq!(plan.kind, ChartKind::StackedBar);
        assert_eq!(plan.category, "department");
        assert_eq!(plan.values, vec!["Q1", "Q2"]);
    }

    #[test]
    fn a_chart_naming_a_missing_column_is_an_error() {
        let doc = QueryDoc::parse("-- chart: bar\n-- values: hired\nSELECT 1", "q.sql").unwrap();
        let err = doc.plan(&schema(), "q.sql").unwrap_err().to_string();
        assert!(
            err.contains("q.sql: chart: the result has no column hired"),
            "{err}"
        );
        let err = QueryDoc::parse("-- chart: pie\n", "q.sql")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "q.sql:1: chart: unknown kind \"pie\" (bar, stacked-bar, none)"
        );
    }
}
