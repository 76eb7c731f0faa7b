//! Backups of Postgres tables as Avro or Parquet files on an object store, and their
//! restore. A backup is a directory `<location>/<backup-id>/` holding one folder of data
//! files per table and a `manifest.json`, written last, that describes everything needed to
//! restore it (DDL, column types, row counts, file checksums), signed when a key is set
//! ([`signing`]).

pub mod create;
pub mod inspect;
pub mod manifest;
pub mod restore;
pub mod restore_file;
pub mod signing;

pub use create::{BackupJob, BackupOptions, BackupSummary};
pub use inspect::{BackupInfo, VerifyReport, list, verify};
pub use manifest::Manifest;
pub use restore::{RestoreJob, RestoreMode, RestoreOptions, RestorePlan, TableAction};
