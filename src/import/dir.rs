//! `import dir`: every `<table>.csv` of a directory into the table of that name, parents
//! before children, in one transaction whatever the mode: an import that fails or is
//! killed leaves no file half-loaded and none loaded, so running it again converges (in
//! `append` mode too), and in `replace` mode the tables are emptied together (one table
//! cannot be emptied while another still references it).

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::options::Check;
use crate::postgres::catalog::{Catalog, Table};
use crate::postgres::connect::DbUrl;
use crate::postgres::load::Load;
use crate::postgres::write::LoadMode;

use super::{CsvImport, ImportOptions, ImportSummary, open};

/// Import a directory of CSV files: every `<table>.csv` into the table of that name in the
/// options' schema.
#[derive(Debug, Clone)]
pub struct DirImport {
    target: DbUrl,
    dir: PathBuf,
    options: ImportOptions,
    progress: bool,
}

impl DirImport {
    pub fn new(target: DbUrl, dir: impl Into<PathBuf>, options: ImportOptions) -> Self {
        DirImport {
            target,
            dir: dir.into(),
            options,
            progress: false,
        }
    }

    /// Draw a progress bar per file when stderr is a terminal.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// The `(table, file)` pairs of the directory, in foreign-key order.
    pub fn plan<'c>(&self, catalog: &'c Catalog) -> Result<Vec<(&'c Table, PathBuf)>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            if path.extension().is_some_and(|e| e == "csv") {
                let stem = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                files.push((stem, path));
            }
        }
        if files.is_empty() {
            let err = std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no .csv files in this directory",
            );
            return Err(Error::io(&self.dir, err));
        }
        if let Some((stem, path)) = files.iter().find(|(stem, _)| catalog.table(stem).is_none()) {
            return Err(Error::Mismatch {
                table: path.display().to_string(),
                reason: format!(
                    "no table {stem} in schema {} of {} (files are named <table>.csv)",
                    self.options.schema,
                    self.target.redacted()
                ),
            });
        }
        Ok(catalog
            .tables_in_fk_order()
            .into_iter()
            .filter_map(|t| {
                files
                    .iter()
                    .find(|(stem, _)| *stem == t.name)
                    .map(|(_, p)| (t, p.clone()))
            })
            .collect())
    }

    /// Import every file; stops at the first file that fails.
    pub async fn run(self) -> Result<Vec<ImportSummary>> {
        self.options.problems()?;
        let schemas = std::slice::from_ref(&self.options.schema);
        let catalog = Catalog::load(&self.target, schemas).await?;
        let plan = self.plan(&catalog)?;
        let mut client = self.target.connect().await?;
        let mut summaries = Vec::new();
        let load = Load::begin(&mut client, "the import").await?;
        if self.options.mode == LoadMode::Replace {
            load.truncate(&catalog, &plan.iter().map(|(t, _)| *t).collect::<Vec<_>>())
                .await?;
        }
        for (table, path) in &plan {
            let import = self.file_import(table, path);
            summaries.push(
                import
                    .load(&load, &catalog, table, open(path)?, false)
                    .await?,
            );
        }
        load.commit("the import").await?;
        for summary in &summaries {
            summary.warn_if_nothing_loaded();
        }
        Ok(summaries)
    }

    fn file_import(&self, table: &Table, path: &std::path::Path) -> CsvImport {
        CsvImport::new(
            self.target.clone(),
            table.full_name(),
            path,
            self.options.clone(),
        )
        .with_progress(self.progress)
    }
}
