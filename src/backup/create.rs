//! `lakeshift backup`: every table of a backup read in one exported snapshot, streamed into
//! Avro or Parquet files of bounded size, and the manifest written last.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::inspect::VerifyReport;
use super::manifest::{
    self, ColumnEntry, DatabaseSchema, FORMAT_VERSION, FileEntry, Manifest, SequenceState,
    SnapshotInfo, TableEntry,
};
use super::signing::{KEY_ENV, SigningKey};
use crate::blocking::spawn_blocking;
use crate::error::{Error, Result};
use crate::formats::{BatchEncoder, Compression, FileFormat};
use crate::options::{Check, Problem};
use crate::postgres::DbUrl;
use crate::postgres::catalog::Table;
use crate::postgres::ddl::{sections, table_ddl};
use crate::postgres::read::{ReadOptions, Snapshot};
use crate::postgres::selection::TableSelection;
use crate::postgres::source::{Source, SourceOptions, ValueCheck};
use crate::storage::encryption::{self, FileCipher};
use crate::storage::{Location, ObjectWriter, S3Options, check_location};

/// Default bound on one data file: a large table is split into files of about this size.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 << 20;

/// The options of a backup (YAML: the `backup` step beside `connection`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupOptions {
    /// Where backups go: a directory, `file://`, `s3://bucket/prefix` or `memory://name`.
    pub to: String,
    #[serde(flatten)]
    pub selection: TableSelection,
    pub format: FileFormat,
    /// The codec; the format's default when `None`.
    pub compression: Option<Compression>,
    /// Start a new file once the current one holds this many bytes.
    pub max_file_size: u64,
    /// Re-read the backup after writing it (as `backup verify` does).
    pub verify: bool,
    /// Encrypt the data files at rest with a key derived from `LAKESHIFT_BACKUP_KEY`, which
    /// also signs the manifest (see `storage::encryption`).
    pub encrypt: bool,
    #[serde(flatten)]
    pub read: ReadOptions,
    pub s3: S3Options,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            to: String::new(),
            selection: TableSelection::default(),
            format: FileFormat::Avro,
            compression: None,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            verify: false,
            encrypt: false,
            read: ReadOptions::default(),
            s3: S3Options::default(),
        }
    }
}

impl BackupOptions {
    /// Back up to `to`, with every other option at its default.
    pub fn to(to: impl Into<String>) -> Self {
        BackupOptions {
            to: to.into(),
            ..BackupOptions::default()
        }
    }
}

impl SourceOptions for BackupOptions {
    fn scope(&self) -> (&TableSelection, ReadOptions) {
        (&self.selection, self.read)
    }
}

impl Check for BackupOptions {
    fn check(&self, problems: &mut Vec<Problem>) {
        check_location("to", &self.to, &self.s3, problems);
        if self.max_file_size == 0 {
            problems.push(Problem::new("max_file_size", "must be at least 1 byte"));
        }
        self.selection.check(problems);
        self.read.check(problems);
    }
}

/// Back tables up to a location.
#[derive(Debug, Clone)]
pub struct BackupJob {
    source: DbUrl,
    options: BackupOptions,
    progress: bool,
}

/// What a backup wrote (and, with `verify`, what re-reading it found).
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    pub backup_id: String,
    pub location: String,
    pub tables: usize,
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<VerifyReport>,
}

impl BackupJob {
    pub fn new(source: DbUrl, options: BackupOptions) -> Self {
        BackupJob {
            source,
            options,
            progress: false,
        }
    }

    /// Draw a progress bar per table when stderr is a terminal.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// The schemas' whole schema when every table of them is backed up (a backup of some
    /// tables carries theirs only, as `pg_dump -t`).
    fn whole_schema(&self, source: &Source) -> Option<DatabaseSchema> {
        let selection = &self.options.selection;
        (selection.tables.is_empty() && selection.exclude_tables.is_empty()).then(|| {
            DatabaseSchema {
                sections: sections(source.catalog()),
                roles: source.catalog().access.roles().into_iter().collect(),
                access: Some(source.catalog().access.clone()),
                event_triggers: source.catalog().event_triggers.clone(),
                placements: source.catalog().placements.clone(),
            }
        })
    }

    pub async fn run(self) -> Result<BackupSummary> {
        let started = Instant::now();
        let options = &self.options;
        let key = SigningKey::from_env()?;
        let cipher = match (&key, options.encrypt) {
            (_, false) => None,
            (Some(key), true) => Some(key.file_cipher()),
            (None, true) => {
                return Err(Error::option(
                    "encrypt",
                    format!(
                        "needs a key: set {KEY_ENV} (32 bytes or more, e.g. `openssl rand -hex 32`)"
                    ),
                ));
            }
        };
        let source = Source::open(&self.source, options, ValueCheck::OnRead, self.progress).await?;
        let to = Location::parse(&options.to, &options.s3)?;
        let created_at = chrono::Utc::now();
        let backup_id = new_backup_id(created_at);
        let dir = to.child(&backup_id);
        let mut manifest = Manifest {
            format_version: FORMAT_VERSION,
            backup_id: backup_id.clone(),
            created_at: created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            completed_at: String::new(),
            source: describe_source(&self.source, source.snapshot()).await?,
            snapshot: SnapshotInfo {
                id: source.snapshot().id().to_string(),
                wal_lsn: wal_lsn(source.snapshot()).await?,
            },
            file_format: options.format,
            compression: options
                .compression
                .unwrap_or(options.format.default_compression()),
            tables: Vec::new(),
            database: self.whole_schema(&source),
            encryption: cipher.as_ref().map(|_| encryption::SCHEME.to_string()),
        };
        tracing::info!(backup = %backup_id, at = %to, tables = source.tables().len(), "backup started");
        for table in source.tables() {
            // A value a column's Arrow type cannot carry, met on the way, sends the table again
            // with that column as text, its files so far deleted: no scan of every table for
            // such values beforehand. The table's other such columns are found at once then,
            // so the second read is the last.
            let mut table = table.clone();
            let backed_up = loop {
                let cipher = cipher.as_ref();
                match (self.back_up_table(&dir, &source, &table, &manifest, cipher)).await {
                    Err(Error::IrregularValue { column, .. }) if table.mark_irregular(&column) => {
                        dir.child(&table_folder(&table)).delete_all().await;
                        if let Err(e) = source.check_values(&mut table).await {
                            break Err(e);
                        }
                        tracing::info!(table = %table.full_name(), "reading the table again");
                    }
                    done => break done,
                }
            };
            match backed_up {
                Ok(entry) => manifest.tables.push(entry),
                Err(e) => {
                    // No manifest is written: the backup stays incomplete. Its files go too.
                    // Without a manifest it is incomplete anyway: best effort.
                    dir.delete_all().await;
                    return Err(e);
                }
            }
        }
        source.release().await?;
        manifest.completed_at =
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        manifest.write(&dir, key.as_ref()).await?;
        let verified = if options.verify {
            Some(super::verify(&to, Some(&backup_id)).await?)
        } else {
            None
        };
        Ok(BackupSummary {
            backup_id,
            location: dir.to_string(),
            tables: manifest.tables.len(),
            files: manifest.tables.iter().map(|t| t.files.len()).sum(),
            rows: manifest.rows(),
            bytes: manifest.bytes(),
            seconds: started.elapsed().as_secs_f64(),
            verified,
        })
    }

    async fn back_up_table(
        &self,
        dir: &Location,
        source: &Source,
        table: &Table,
        manifest: &Manifest,
        cipher: Option<&FileCipher>,
    ) -> Result<TableEntry> {
        let started = Instant::now();
        let columns = source.columns(table);
        let schema = source.schema(table);
        let (stream, finish) = source.read(table, None).await?.into_parts();
        let folder = table_folder(table);
        let numbered = AtomicUsize::new(0);
        let start_file = || {
            let index = numbered.fetch_add(1, Ordering::Relaxed);
            let path = format!(
                "{folder}/part-{index:05}.{}",
                manifest.file_format.extension()
            );
            let encoder = manifest
                .file_format
                .encoder(&schema, &table.name, manifest.compression);
            async move { OpenFile::start(dir, path, encoder?, cipher).await }
        };
        // As many lanes as reading connections, each encoding its own files: encoding
        // (deflate, above all) would otherwise hold the backup to one core.
        let batches = tokio::sync::Mutex::new(stream.map_err(Error::from));
        let lane = |first: bool| {
            let (batches, start_file) = (&batches, &start_file);
            async move {
                let mut files = Vec::new();
                // Even an empty table gets a file: it records the schema for any reader.
                let mut current = if first {
                    Some(start_file().await?)
                } else {
                    None
                };
                loop {
                    let next = batches.lock().await.try_next().await?;
                    let Some(batch) = next else { break };
                    let mut file = match current.take() {
                        Some(file) => file,
                        None => start_file().await?,
                    };
                    file.write(batch).await?;
                    if file.writer.bytes() >= self.options.max_file_size {
                        files.push(file.finish().await?);
                    } else {
                        current = Some(file);
                    }
                }
                if let Some(file) = current {
                    files.push(file.finish().await?);
                }
                Ok::<_, Error>(files)
            }
        };
        let lanes = (0..self.options.read.partitions.max(1)).map(|i| lane(i == 0));
        let mut files: Vec<FileEntry> = futures::future::try_join_all(lanes)
            .await?
            .into_iter()
            .flatten()
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        finish();
        let rows = files.iter().map(|f| f.rows).sum();
        tracing::info!(table = %table.name, rows, files = files.len(), seconds = started.elapsed().as_secs_f64(), "backed up");
        Ok(TableEntry {
            schema: table.schema.clone(),
            name: table.name.clone(),
            ddl: table_ddl(source.catalog(), table),
            columns: columns
                .iter()
                .zip(schema.fields())
                .map(|((c, _), f)| ColumnEntry {
                    name: c.name.clone(),
                    pg_type: c.type_sql.clone(),
                    arrow_type: f.data_type().to_string(),
                    nullable: f.is_nullable(),
                })
                .collect(),
            sequences: sequence_states(source.snapshot(), table).await?,
            rows,
            files,
        })
    }
}

/// Where `table`'s files go in a backup.
fn table_folder(table: &Table) -> String {
    crate::storage::names::table_folder(&table.schema, &table.name, false)
}

/// A data file being written.
struct OpenFile {
    path: String,
    writer: ObjectWriter,
    encoder: Option<Box<dyn BatchEncoder>>,
    rows: u64,
}

impl OpenFile {
    async fn start(
        dir: &Location,
        path: String,
        encoder: Box<dyn BatchEncoder>,
        cipher: Option<&FileCipher>,
    ) -> Result<Self> {
        Ok(OpenFile {
            writer: dir.create(&path).await?.sealed(cipher),
            path,
            encoder: Some(encoder),
            rows: 0,
        })
    }

    /// Encode `batch` on the blocking pool and upload what is final.
    async fn write(&mut self, batch: arrow::record_batch::RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        let mut encoder = self.encoder.take().expect("encoder present until finish");
        let encoded = spawn_blocking("encoding a data file", move || {
            let bytes = encoder.write(&batch)?;
            Ok((encoder, bytes))
        })
        .await;
        let (encoder, bytes) = encoded?;
        self.encoder = Some(encoder);
        self.writer.write(bytes).await
    }

    async fn finish(mut self) -> Result<FileEntry> {
        let encoder = self.encoder.take().expect("encoder present until finish");
        let tail = spawn_blocking("finishing a data file", move || encoder.finish()).await?;
        self.writer.write(tail).await?;
        let written = self.writer.finish().await?;
        Ok(FileEntry {
            path: self.path,
            bytes: written.bytes,
            rows: self.rows,
            sha256: written.sha256,
        })
    }
}

/// A backup id: its UTC start time (so ids sort by age) and a few random-ish hex digits.
fn new_backup_id(at: chrono::DateTime<chrono::Utc>) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xff_ffff;
    format!("{}-{salt:06x}", at.format("%Y%m%dT%H%M%SZ"))
}

async fn describe_source(url: &DbUrl, snapshot: &Snapshot) -> Result<manifest::Source> {
    let (host, port) = url.host_and_port();
    let row = snapshot
        .client()
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(|e| Error::pg("reading the server version", e))?;
    Ok(manifest::Source {
        host,
        port,
        database: url.database().to_string(),
        server_version: row.get(0),
    })
}

async fn wal_lsn(snapshot: &Snapshot) -> Result<String> {
    let sql = "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text";
    let row = snapshot
        .client()
        .query_one(sql, &[])
        .await
        .map_err(|e| Error::pg("reading the WAL position", e))?;
    Ok(row.get::<_, Option<String>>(0).unwrap_or_default())
}

/// The state of the sequences behind `table`'s identity and serial columns, in the snapshot.
async fn sequence_states(snapshot: &Snapshot, table: &Table) -> Result<Vec<SequenceState>> {
    let mut states = Vec::new();
    for column in &table.columns {
        let row = snapshot
            .client()
            .query_one(
                "SELECT pg_get_serial_sequence($1, $2)",
                &[&table.qualified(), &column.name],
            )
            .await
            .map_err(|e| Error::pg(format!("finding the sequence of {}", table.name), e))?;
        let Some(sequence) = row.get::<_, Option<String>>(0) else {
            continue;
        };
        let state = snapshot
            .client()
            .query_one(
                // The server quotes the name as needed.
                &format!("SELECT last_value, is_called FROM {sequence}"),
                &[],
            )
            .await
            .map_err(|e| Error::pg(format!("reading sequence {sequence}"), e))?;
        states.push(SequenceState {
            name: sequence,
            last_value: state.get(0),
            is_called: state.get(1),
        });
    }
    Ok(states)
}
