//! Every location lakeshift reads or writes files at is a URL resolved here, through
//! object_store: a plain path or `file://` (the default: works with nothing else installed),
//! `s3://bucket/prefix` (any S3-compatible server; endpoint, region and credentials from
//! the usual `AWS_*` variables, which [`S3Options`] can override), and `memory://name`
//! (one in-process store per name, for tests).
//!
//! Files are written with [`Location::create`]: streamed as a multipart upload, checksummed
//! on the way, and published only by [`ObjectWriter::finish`] (a local file appears under its
//! name by an atomic rename, an S3 object when its upload completes). A writer that is
//! dropped or aborted leaves nothing under the name. A writer can seal what it writes
//! ([`encryption`]); sealed files are read back whole or by ranges with the same key.

pub mod encryption;
pub mod names;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::blocking::spawn_blocking;
use crate::error::{Error, Result};
use encryption::{Encryptor, FileCipher, SealedFile};

/// Parts of a multipart upload in flight at once.
const UPLOADS_IN_FLIGHT: usize = 4;

/// Settings for `s3://` locations that take precedence over the `AWS_*` variables (YAML:
/// `s3: {endpoint, region, allow_http}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Options {
    /// E.g. `http://127.0.0.1:9000` for a local S3-compatible server.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Allow `http://` endpoints (implied by an `http://` endpoint given here).
    pub allow_http: bool,
}

/// Check the form of location `url` (option `option`); the place itself is reached later.
pub fn check_location(
    option: &str,
    url: &str,
    s3: &S3Options,
    problems: &mut Vec<crate::options::Problem>,
) {
    if url.is_empty() {
        problems.push(crate::options::Problem::new(
            option,
            "a location is required",
        ));
    } else if let Err(e) = Location::parse(url, s3) {
        problems.push(crate::options::Problem::new(option, e.to_string()));
    }
}

/// A directory-like place in an object store.
#[derive(Debug, Clone)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    root: Path,
    /// As the user wrote it (without a trailing slash), for messages.
    url: String,
    /// The directory of a local location (object stores have no empty directories; a
    /// local file system does, and they are removed with what they held).
    local_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// A file written by [`ObjectWriter`].
#[derive(Debug, Clone)]
pub struct WrittenFile {
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

impl Location {
    /// Resolve `url`: `s3://bucket[/prefix]`, `memory://name[/prefix]`, `file:///dir` or a
    /// plain path (relative to the working directory).
    pub fn parse(url: &str, s3: &S3Options) -> Result<Location> {
        let trimmed = url.trim_end_matches('/');
        let bad = |reason: String| Error::Storage {
            url: url.to_string(),
            reason,
        };
        let (store, root): (Arc<dyn ObjectStore>, String) = match trimmed.split_once("://") {
            Some(("s3", rest)) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad("no bucket name".into()));
                }
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(s3.allow_http || endpoint.starts_with("http://"));
                } else if s3.allow_http {
                    builder = builder.with_allow_http(true);
                }
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                let store = builder.build().map_err(|e| bad(e.to_string()))?;
                (Arc::new(store), prefix.to_string())
            }
            Some(("memory", rest)) => {
                let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                (memory_store(name), prefix.to_string())
            }
            Some(("file", rest)) => local_root(rest).map_err(bad)?,
            Some((scheme, _)) => {
                return Err(bad(format!(
                    "unsupported scheme {scheme}:// (use a path, file://, s3:// or memory://)"
                )));
            }
            None => local_root(trimmed).map_err(bad)?,
        };
        let local_dir = match trimmed.split_once("://") {
            Some(("file", rest)) => Some(rest),
            Some(_) => None,
            None => Some(trimmed),
        }
        .map(|p| std::path::absolute(if p.is_empty() { "." } else { p }))
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
        Ok(Location {
            store,
            root: Path::from(root),
            url: trimmed.to_string(),
            local_dir,
        })
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The store path of `relative` (`a/b.avro`) under this location.
    pub fn path(&self, relative: &str) -> Path {
        relative
            .split('/')
            .filter(|p| !p.is_empty())
            .fold(self.root.clone(), |path, part| path.clone().join(part))
    }

    /// The location `relative` below this one.
    pub fn child(&self, relative: &str) -> Location {
        Location {
            store: self.store.clone(),
            root: self.path(relative),
            url: format!("{}/{}", self.url, relative.trim_matches('/')),
            local_dir: self.local_dir.as_ref().map(|d| {
                relative
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .fold(d.clone(), |dir, part| dir.join(part))
            }),
        }
    }

    /// `relative` as a user would write it, for messages.
    pub fn describe(&self, relative: &str) -> String {
        format!("{}/{}", self.url, relative.trim_start_matches('/'))
    }

    fn failed(&self, relative: &str, err: object_store::Error) -> Error {
        let reason = match err {
            object_store::Error::NotFound { .. } => "not found".to_string(),
            other => other.to_string(),
        };
        Error::Storage {
            url: self.describe(relative),
            reason,
        }
    }

    /// Write a small file in one request (published whole or not at all).
    pub async fn put(&self, relative: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&self.path(relative), PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.failed(relative, e))
    }

    /// Read a whole (small) file.
    pub async fn get(&self, relative: &str) -> Result<Bytes> {
        let result = self
            .store
            .get(&self.path(relative))
            .await
            .map_err(|e| self.failed(relative, e))?;
        result.bytes().await.map_err(|e| self.failed(relative, e))
    }

    /// Remove `relative` (no error if it is already gone).
    pub async fn delete(&self, relative: &str) -> Result<()> {
        match self.store.delete(&self.path(relative)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed(relative, e)),
        }
    }

    /// Remove every file under this location (best effort), and on a local file system the
    /// directories that held them.
    pub async fn delete_all(&self) {
        if let Ok(files) = self.files().await {
            for (path, _) in files {
                let _ = self.delete(&path).await;
            }
        }
        if let Some(dir) = &self.local_dir {
            remove_empty_dirs(dir);
        }
    }

    /// Whether `relative` exists.
    pub async fn exists(&self, relative: &str) -> Result<bool> {
        match self.store.head(&self.path(relative)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed(relative, e)),
        }
    }

    /// The size of `relative` in bytes.
    pub async fn size(&self, relative: &str) -> Result<u64> {
        self.store
            .head(&self.path(relative))
            .await
            .map(|m| m.size)
            .map_err(|e| self.failed(relative, e))
    }

    /// Stream the content of `relative`.
    pub async fn read(&self, relative: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let result = self
            .store
            .get(&self.path(relative))
            .await
            .map_err(|e| self.failed(relative, e))?;
        let url = self.describe(relative);
        Ok(result
            .into_stream()
            .map(move |chunk| {
                chunk.map_err(|e| Error::Storage {
                    url: url.clone(),
                    reason: e.to_string(),
                })
            })
            .boxed())
    }

    /// The names of the directories directly below this location (none if it does not
    /// exist).
    pub async fn directories(&self) -> Result<Vec<String>> {
        let listed = match self.store.list_with_delimiter(Some(&self.root)).await {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(self.failed("", e)),
        };
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every file below this location: `(relative path, bytes)`.
    pub async fn files(&self) -> Result<Vec<(String, u64)>> {
        let mut listing = self.store.list(Some(&self.root));
        let mut files = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = match meta {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(self.failed("", e)),
            };
            if let Some(parts) = meta.location.prefix_match(&self.root) {
                let relative: Vec<String> = parts.map(|p| p.as_ref().to_string()).collect();
                files.push((relative.join("/"), meta.size));
            }
        }
        files.sort();
        Ok(files)
    }

    /// Start writing `relative`; nothing appears under that name before
    /// [`ObjectWriter::finish`].
    pub async fn create(&self, relative: &str) -> Result<ObjectWriter> {
        let upload = self
            .store
            .put_multipart(&self.path(relative))
            .await
            .map_err(|e| self.failed(relative, e))?;
        Ok(ObjectWriter {
            upload: Some(WriteMultipart::new(upload)),
            hasher: Sha256::new(),
            bytes: 0,
            url: self.describe(relative),
            sealing: None,
        })
    }

    /// The content of `relative` by ranges, opened with `cipher` when it is sealed.
    pub async fn ranged(&self, relative: &str, cipher: Option<&FileCipher>) -> Result<RangedFile> {
        let stored = self.size(relative).await?;
        let (path, url) = (self.path(relative), self.describe(relative));
        let sealed = match cipher {
            None => None,
            Some(cipher) => {
                let header = self
                    .store
                    .get_range(&path, 0..stored.min(16))
                    .await
                    .map_err(|e| self.failed(relative, e))?;
                Some(SealedFile::new(cipher, &header, stored, url.clone())?)
            }
        };
        Ok(RangedFile {
            store: self.store.clone(),
            path,
            stored,
            sealed,
            url,
        })
    }

    /// Stream the content of `relative`, opened with `cipher` when it is sealed.
    pub async fn read_opened(
        &self,
        relative: &str,
        cipher: Option<&FileCipher>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        let stored = self.read(relative).await?;
        Ok(match cipher {
            Some(cipher) => encryption::open_stream(cipher, stored, self.describe(relative)),
            None => stored,
        })
    }
}

/// A file read by ranges of its (plain) content.
pub struct RangedFile {
    store: Arc<dyn ObjectStore>,
    path: Path,
    stored: u64,
    sealed: Option<SealedFile>,
    url: String,
}

impl RangedFile {
    /// The content's size.
    pub fn size(&self) -> u64 {
        self.sealed.as_ref().map_or(self.stored, SealedFile::size)
    }

    pub async fn get_range(&self, range: Range<u64>) -> Result<Bytes> {
        let mut got = self.get_ranges(std::slice::from_ref(&range)).await?;
        Ok(got.pop().unwrap_or_default())
    }

    /// Several ranges at once (the store may merge close ones into one request).
    pub async fn get_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let failed = |e: object_store::Error| Error::Storage {
            url: self.url.clone(),
            reason: e.to_string(),
        };
        let Some(sealed) = &self.sealed else {
            return self
                .store
                .get_ranges(&self.path, ranges)
                .await
                .map_err(failed);
        };
        let stored: Vec<Range<u64>> = ranges.iter().map(|r| sealed.stored_range(r)).collect();
        let fetched = self
            .store
            .get_ranges(&self.path, &stored)
            .await
            .map_err(failed)?;
        let (sealed, ranges) = (sealed.clone(), ranges.to_vec());
        spawn_blocking("decrypting a data file", move || {
            ranges
                .iter()
                .zip(fetched)
                .map(|(range, bytes)| sealed.open_range(range, &bytes))
                .collect()
        })
        .await
    }
}

/// A file being written: content is uploaded as it comes and hashed on the way (as stored:
/// sealed, when it is encrypted).
pub struct ObjectWriter {
    upload: Option<WriteMultipart>,
    hasher: Sha256,
    bytes: u64,
    url: String,
    sealing: Option<Encryptor>,
}

impl ObjectWriter {
    fn failed(&self, err: object_store::Error) -> Error {
        Error::Storage {
            url: self.url.clone(),
            reason: err.to_string(),
        }
    }

    /// Seal what is written with `cipher` (encryption at rest).
    pub fn sealed(mut self, cipher: Option<&FileCipher>) -> Self {
        self.sealing = cipher.map(FileCipher::encryptor);
        self
    }

    /// Bytes written so far (as stored).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Append `data` (waits while too many parts are in flight).
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        let data = match self.sealing.take() {
            Some(mut sealing) => {
                let (sealing, sealed) = spawn_blocking("encrypting a data file", move || {
                    let sealed = sealing.update(&data);
                    Ok((sealing, sealed))
                })
                .await?;
                self.sealing = Some(sealing);
                Bytes::from(sealed)
            }
            None => data,
        };
        self.upload(data).await
    }

    async fn upload(&mut self, data: Bytes) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.hasher.update(&data);
        self.bytes += data.len() as u64;
        let upload = self.upload.as_mut().expect("writer used after finish");
        upload.put(data);
        let waited = upload.wait_for_capacity(UPLOADS_IN_FLIGHT).await;
        waited.map_err(|e| self.failed(e))
    }

    /// Complete the upload: the file appears under its name, whole.
    pub async fn finish(mut self) -> Result<WrittenFile> {
        if let Some(sealing) = self.sealing.take() {
            let last = spawn_blocking("encrypting a data file", move || Ok(sealing.finish()));
            self.upload(Bytes::from(last.await?)).await?;
        }
        let upload = self.upload.take().expect("writer finished once");
        upload.finish().await.map_err(|e| self.failed(e))?;
        Ok(WrittenFile {
            bytes: self.bytes,
            sha256: hex(&std::mem::take(&mut self.hasher).finalize()),
        })
    }

    /// Give up: the parts uploaded so far are discarded.
    pub async fn abort(mut self) {
        if let Some(upload) = self.upload.take() {
            let _ = upload.abort().await;
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `(store, root)` of a local directory; `path` may not exist yet.
fn local_root(path: &str) -> std::result::Result<(Arc<dyn ObjectStore>, String), String> {
    let path = if path.is_empty() { "." } else { path };
    let absolute = std::path::absolute(path).map_err(|e| e.to_string())?;
    let root = Path::from_absolute_path(&absolute).map_err(|e| e.to_string())?;
    Ok((Arc::new(LocalFileSystem::new()), root.to_string()))
}

/// Remove `dir` and the directories under it that hold no file (any file keeps its
/// directories: nothing but emptiness is removed).
fn remove_empty_dirs(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The in-process store called `name` (created on first use).
fn memory_store(name: &str) -> Arc<dyn ObjectStore> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    stores
        .entry(name.to_string())
        .or_insert_with(|| Arc::new(InMemory::new()))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_appear_only_when_finished_and_carry_their_checksum() {
        let at = Location::parse("memory://storage-test/backups", &S3Options::default()).unwrap();
        let mut writer = at.create("b1/part-0.bin").await.unwrap();
        writer.write(Bytes::from_static(b"hello ")).await.unwrap();
        writer.write(Bytes::from_static(b"world")).await.unwrap();
        assert!(!at.exists("b1/part-0.bin").await.unwrap());
        let written = writer.finish().await.unwrap();
        assert_eq!(written.bytes, 11);
        // sha256("hello world")
        assert_eq!(
            written.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(at.get("b1/part-0.bin").await.unwrap(), "hello world");
        assert_eq!(at.directories().await.unwrap(), vec!["b1".to_string()]);
        assert_eq!(
            at.files().await.unwrap(),
            vec![("b1/part-0.bin".to_string(), 11)]
        );
        let aborted = at.create("b1/part-1.bin").await.unwrap();
        aborted.abort().await;
        assert!(!at.exists("b1/part-1.bin").await.unwrap());
    }

    #[test]
    fn schemes_are_checked() {
        let err = Location::parse("ftp://host/x", &S3Options::default()).unwrap_err();
        assert!(
            err.to_string().contains("unsupported scheme ftp://"),
            "{err}"
        );
        let local = Location::parse("some/dir/", &S3Options::default()).unwrap();
        assert_eq!(local.to_string(), "some/dir");
        assert!(local.path("a/b").as_ref().ends_with("some/dir/a/b"));
    }
}
