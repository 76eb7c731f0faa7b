//! `manifest.json`: what makes a backup self-describing and complete. It is written last,
//! after every data file is published; a backup directory without one is incomplete.

use serde::{Deserialize, Serialize};

use super::signing::{self, SigningKey};
use crate::error::{Error, Result};
use crate::formats::{Compression, FileFormat};
use crate::postgres::catalog::{Access, EventTrigger, Placement};
use crate::postgres::ddl::{Sections, TableDdl};
use crate::storage::Location;
use crate::storage::encryption::{self, FileCipher};

/// The manifest's name in a backup directory.
pub const MANIFEST: &str = "manifest.json";

/// The manifest layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub backup_id: String,
    /// RFC 3339, UTC: when the snapshot was taken.
    pub created_at: String,
    /// RFC 3339, UTC: when the last file was written.
    pub completed_at: String,
    pub source: Source,
    pub snapshot: SnapshotInfo,
    pub file_format: FileFormat,
    pub compression: Compression,
    /// In foreign-key order: parents before the tables that reference them.
    pub tables: Vec<TableEntry>,
    /// The whole schema of the backed-up schemas (every object kind, owners and
    /// privileges), when the backup took every table of them: what a restore of the whole
    /// backup recreates around the rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseSchema>,
    /// How the data files are encrypted at rest (`storage::encryption::SCHEME`); `None` for
    /// plain files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
}

/// A backup's whole schema: the two sections a restore runs around the rows, then who may
/// do what, which a restore can leave out (`--no-owner`, `--no-privileges`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseSchema {
    #[serde(flatten)]
    pub sections: Sections,
    /// The roles it names (owners, grantees, policies): the target must have them.
    pub roles: Vec<String>,
    /// Policies, owners and privileges. Absent from older manifests, whose `post_data`
    /// holds them as statements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// Created after everything else, with their owners as `access` has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_triggers: Vec<EventTrigger>,
    /// The tablespaces of relations outside the default one (a restore can leave them out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placements: Vec<Placement>,
}

/// Where the data came from (never a password).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub server_version: String,
}

/// The MVCC snapshot every table was read in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub id: String,
    /// The WAL position when the snapshot was taken.
    pub wal_lsn: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    pub schema: String,
    pub name: String,
    pub ddl: TableDdl,
    /// The columns in the files, in file order (generated columns are not stored).
    pub columns: Vec<ColumnEntry>,
    /// The sequences the table's columns draw from, with their state in the snapshot.
    pub sequences: Vec<SequenceState>,
    pub rows: u64,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnEntry {
    pub name: String,
    /// As `format_type` renders it: `character varying(255)`, `numeric(12,2)`.
    pub pg_type: String,
    /// The Arrow type the column has in the files (`DataType`'s display form).
    pub arrow_type: String,
    pub nullable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceState {
    /// Schema-qualified and quoted as needed.
    pub name: String,
    pub last_value: i64,
    pub is_called: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup directory.
    pub path: String,
    pub bytes: u64,
    pub rows: u64,
    pub sha256: String,
}

impl TableEntry {
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

impl Manifest {
    /// The key the data files are opened with: `None` for plain files; an error when they
    /// are encrypted and no key (or a scheme this build does not know) is at hand.
    pub fn file_cipher(&self) -> Result<Option<FileCipher>> {
        let Some(scheme) = &self.encryption else {
            return Ok(None);
        };
        if scheme != encryption::SCHEME {
            return Err(Error::Invalid(format!(
                "backup {} is encrypted with {scheme}, which this lakeshift does not know; upgrade it",
                self.backup_id
            )));
        }
        match SigningKey::from_env()? {
            Some(key) => Ok(Some(key.file_cipher())),
            None => Err(Error::Invalid(format!(
                "backup {} is encrypted: set {} to the key it was made with",
                self.backup_id,
                signing::KEY_ENV
            ))),
        }
    }

    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(TableEntry::bytes).sum()
    }

    /// Read the manifest of the backup at `dir`; `None` when it has none (incomplete).
    pub async fn read(dir: &Location) -> Result<Option<Manifest>> {
        Self::read_checked(dir, None).await
    }

    /// Like [`Manifest::read`]; with a `key`, a manifest it did not sign is refused.
    pub async fn read_checked(
        dir: &Location,
        key: Option<&SigningKey>,
    ) -> Result<Option<Manifest>> {
        if !dir.exists(MANIFEST).await? {
            return Ok(None);
        }
        let bytes = dir.get(MANIFEST).await?;
        if let Some(key) = key {
            signing::check(dir, &bytes, key).await?;
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Storage {
            url: dir.describe(MANIFEST),
            reason: format!("not a lakeshift manifest: {e}"),
        })?;
        if manifest.format_version > FORMAT_VERSION {
            return Err(Error::Storage {
                url: dir.describe(MANIFEST),
                reason: format!(
                    "manifest format {} is newer than this lakeshift reads ({FORMAT_VERSION}); upgrade lakeshift",
                    manifest.format_version
                ),
            });
        }
        Ok(Some(manifest))
    }

    /// Publish the manifest in `dir`: the step that makes the backup complete.
    /// Publish the manifest (the backup is complete from then on), after its signature
    /// when there is a key.
    pub async fn write(&self, dir: &Location, key: Option<&SigningKey>) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Internal {
            task: "writing the manifest".into(),
            reason: e.to_string(),
        })?;
        if let Some(key) = key {
            dir.put(signing::SIGNATURE, key.sign(&json).into_bytes().into())
                .await?;
        }
        dir.put(MANIFEST, json.into()).await
    }
}
