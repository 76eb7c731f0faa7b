//! `backup list` and `backup verify`: what is at a backup location, and whether a backup
//! is whole (every file present, with its checksum, row count and decodable content).

use futures::TryStreamExt;
use serde::Serialize;

use super::manifest::{FileEntry, Manifest};
use crate::error::{Error, Result};
use crate::formats::{FileFormat, READ_BATCH_ROWS};
use crate::storage::Location;
use crate::storage::encryption::FileCipher;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::signing::SigningKey;

/// One backup found at a location.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    pub backup_id: String,
    /// From the manifest; `None` for an incomplete backup.
    pub created_at: Option<String>,
    pub tables: Option<usize>,
    pub rows: Option<u64>,
    /// Bytes of the data files present.
    pub bytes: u64,
    /// Whether the manifest exists (the backup finished).
    pub complete: bool,
}

/// Every backup directory at `at`, oldest first, complete or not.
pub async fn list(at: &Location) -> Result<Vec<BackupInfo>> {
    let mut found = Vec::new();
    for id in at.directories().await? {
        let dir = at.child(&id);
        let info = match Manifest::read(&dir).await? {
            Some(m) => BackupInfo {
                backup_id: id,
                created_at: Some(m.created_at.clone()),
                tables: Some(m.tables.len()),
                rows: Some(m.rows()),
                bytes: m.bytes(),
                complete: true,
            },
            None => BackupInfo {
                backup_id: id,
                created_at: None,
                tables: None,
                rows: None,
                bytes: dir.files().await?.iter().map(|(_, b)| b).sum(),
                complete: false,
            },
        };
        found.push(info);
    }
    Ok(found)
}

/// The manifest of backup `id` at `at` (`None` or `latest`: the newest complete one).
/// An incomplete backup is refused.
pub async fn open(at: &Location, id: Option<&str>) -> Result<Manifest> {
    let id = match id {
        Some(id) if id != "latest" => id.to_string(),
        _ => {
            let backups = list(at).await?;
            let latest = backups.iter().rev().find(|b| b.complete);
            let Some(latest) = latest else {
                return Err(Error::Storage {
                    url: at.to_string(),
                    reason: "no complete backup here".into(),
                });
            };
            latest.backup_id.clone()
        }
    };
    let dir = at.child(&id);
    let key = SigningKey::from_env()?;
    match Manifest::read_checked(&dir, key.as_ref()).await? {
        Some(manifest) => Ok(manifest),
        None if dir.files().await?.is_empty() => Err(Error::Storage {
            url: dir.to_string(),
            reason: "no such backup".into(),
        }),
        None => Err(Error::Storage {
            url: dir.to_string(),
            reason: format!(
                "backup {id} is incomplete (no {}): it was interrupted or is still running",
                super::manifest::MANIFEST
            ),
        }),
    }
}

/// What `verify` checked.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub backup_id: String,
    pub tables: usize,
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
}

/// Re-read every file of the backup: size and sha256 as recorded, rows decoded as recorded,
/// the columns the manifest lists. The first problem is the error.
pub async fn verify(at: &Location, id: Option<&str>) -> Result<VerifyReport> {
    let manifest = open(at, id).await?;
    let dir = at.child(&manifest.backup_id);
    let cipher = manifest.file_cipher()?;
    let mut report = VerifyReport {
        backup_id: manifest.backup_id.clone(),
        tables: manifest.tables.len(),
        files: 0,
        rows: 0,
        bytes: 0,
    };
    for table in &manifest.tables {
        let mut table_rows = 0;
        for file in &table.files {
            let ((), decoded) = tokio::try_join!(
                check_file(&dir, file),
                count_rows(
                    &dir,
                    file,
                    manifest.file_format,
                    table.columns.len(),
                    cipher.as_ref()
                )
            )?;
            if decoded != file.rows {
                return Err(corrupt(
                    &dir,
                    &file.path,
                    format!("{decoded} rows decoded, the manifest records {}", file.rows),
                ));
            }
            table_rows += decoded;
            report.files += 1;
            report.bytes += file.bytes;
        }
        if table_rows != table.rows {
            return Err(Error::Storage {
                url: dir.to_string(),
                reason: format!(
                    "{}: {table_rows} rows in its files, the manifest records {}",
                    table.qualified(),
                    table.rows
                ),
            });
        }
        report.rows += table_rows;
    }
    Ok(report)
}

fn corrupt(dir: &Location, path: &str, reason: String) -> Error {
    Error::Storage {
        url: dir.describe(path),
        reason: format!("corrupt: {reason}"),
    }
}

/// Read `file` whole and compare its size and sha256 with the manifest's.
pub async fn check_file(dir: &Location, file: &FileEntry) -> Result<()> {
    let mut content = dir.read(&file.path).await?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = content.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        hasher.update(&chunk);
    }
    if bytes != file.bytes {
        return Err(corrupt(
            dir,
            &file.path,
            format!("{bytes} bytes, the manifest records {}", file.bytes),
        ));
    }
    let sha256 = crate::storage::hex(&hasher.finalize());
    if sha256 != file.sha256 {
        return Err(corrupt(
            dir,
            &file.path,
            format!("sha256 {sha256}, the manifest records {}", file.sha256),
        ));
    }
    Ok(())
}

/// Decode `file` and count its rows, checking it has the expected number of columns.
async fn count_rows(
    dir: &Location,
    file: &FileEntry,
    format: FileFormat,
    columns: usize,
    cipher: Option<&FileCipher>,
) -> Result<u64> {
    let stream = format
        .read(dir, &file.path, READ_BATCH_ROWS, cipher)
        .await?;
    if stream.schema().fields().len() != columns {
        return Err(corrupt(
            dir,
            &file.path,
            format!(
                "{} columns, the manifest records {columns}",
                stream.schema().fields().len()
            ),
        ));
    }
    let rows = stream
        .map_err(Error::from)
        .try_fold(0u64, |n, b| async move { Ok(n + b.num_rows() as u64) })
        .await;
    rows.map_err(|e| match e {
        Error::Storage { reason, .. } => corrupt(dir, &file.path, reason),
        other => other,
    })
}
