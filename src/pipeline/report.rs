//! The JSON run report of a pipeline: one entry per step with its status, time and output.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub pipeline: String,
    pub file: String,
    pub started_at: String,
    pub seconds: f64,
    pub status: Status,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Succeeded,
    Failed,
    /// Not run because an earlier step failed.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: Status,
    pub seconds: f64,
    /// What the step did (counts, summaries); its shape depends on the step type.
    pub output: serde_json::Value,
    pub error: Option<String>,
}

impl RunReport {
    /// Write the report as pretty JSON (through a temporary file, then renamed).
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Invalid(e.to_string()))?;
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, json).map_err(|e| Error::io(&partial, e))?;
        std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
    }
}
