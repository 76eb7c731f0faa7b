//! `import dir`: every `<table>.csv` of a directory into the table of that name, parents
//! before children. Each file commits on its own; in `replace` mode the tables are emptied
//! together and all files commit together (one table cannot be emptied while another still
//! references it).

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::postgres::catalog::{Catalog, Table};
use crate::postgres::connect::DbUrl;
use crate::postgres::write::LoadMode;

use super::{CsvImport, ImportSummary, open};

/// Import a directory of CSV files. The per-file settings come from a template [`CsvImport`].
#[derive(Debug, Clone)]
pub struct DirImport {
    dir: PathBuf,
    schema: String,
    template: CsvImport,
}

impl DirImport {
    /// `template` carries the target, CSV options, mode and limits; its table and path are
    /// replaced per file.
    pub fn new(target: DbUrl, dir: impl Into<PathBuf>) -> Self {
        DirImport {
            dir: dir.into(),
            schema: "public".into(),
            template: CsvImport::new(target, "", ""),
        }
    }

    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    pub fn with_template(mut self, configure: impl FnOnce(CsvImport) -> CsvImport) -> Self {
        self.template = configure(self.template);
        self
    }

    /// The `(table, file)` pairs of the directory, in foreign-key order.
    pub fn plan<'c>(&self, catalog: &'c Catalog) -> Result<Vec<(&'c Table, PathBuf)>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, &e))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&self.dir, &e))?.path();
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
            return Err(Error::Io {
                path: self.dir.clone(),
                reason: "no .csv files in this directory".into(),
            });
        }
        if let Some((stem, path)) = files.iter().find(|(stem, _)| catalog.table(stem).is_none()) {
            return Err(Error::Invalid(format!(
                "{}: no table {stem} in schema {} of {} (files are named <table>.csv)",
                path.display(),
                self.schema,
                self.template.target.redacted()
            )));
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
        let target = &self.template.target;
        let catalog = Catalog::load(target, std::slice::from_ref(&self.schema)).await?;
        let plan = self.plan(&catalog)?;
        let mut client = target.connect().await?;
        let mut summaries = Vec::new();
        if self.template.mode == LoadMode::Replace {
            let tx = client
                .transaction()
                .await
                .map_err(|e| Error::pg("starting the import", &e))?;
            let names: Vec<String> = plan.iter().map(|(t, _)| t.qualified()).collect();
            tx.batch_execute(&format!("TRUNCATE {}", names.join(", ")))
                .await
                .map_err(|e| Error::pg("emptying the tables", &e))?;
            for (table, path) in &plan {
                summaries.push(
                    self.file_import(table, path)
                        .load(&tx, &catalog, table, open(path)?, false)
                        .await?,
                );
            }
            tx.commit()
                .await
                .map_err(|e| Error::pg("committing the import", &e))?;
            return Ok(summaries);
        }
        for (table, path) in &plan {
            let import = self.file_import(table, path);
            let summary = import
                .load_committed(&mut client, &catalog, table, open(path)?, false)
                .await?;
            summaries.push(summary);
        }
        Ok(summaries)
    }

    fn file_import(&self, table: &Table, path: &std::path::Path) -> CsvImport {
        let mut import = self.template.clone();
        import.table = table.full_name();
        import.path = path.to_path_buf();
        import
    }
}
