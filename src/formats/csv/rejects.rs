//! The reject log: one entry per refused row, with file, line, raw text, column and reason,
//! as CSV or JSON Lines (chosen by the path's extension). It is written beside its final
//! path and published only when the load ends, so a crashed load leaves no stale log.
//! The log only ever replaces or removes a reject log of its own: a path holding another
//! file, a link or a directory is refused before anything is read.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// One refused row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reject {
    pub file: String,
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
    pub raw: String,
}

/// Writes rejects to `<path>.partial` and publishes them to `path` on [`RejectLog::publish`].
pub struct RejectLog {
    path: PathBuf,
    partial: PathBuf,
    out: Option<BufWriter<File>>,
    jsonl: bool,
    count: u64,
}

/// The first line of a CSV reject log.
const CSV_HEADER: &str = "file,line,column,reason,raw";

impl RejectLog {
    /// A log to publish at `path`; refused when `path` holds anything but a reject log.
    pub fn new(path: PathBuf) -> Result<Self> {
        let jsonl = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("jsonl" | "json" | "ndjson")
        );
        if let Some(problem) = not_a_log(&path, jsonl) {
            return Err(Error::io(
                &path,
                std::io::Error::other(format!(
                    "{problem}, so it is not a reject log to replace: name another \
                     --rejects path or remove it"
                )),
            ));
        }
        let mut partial = path.clone().into_os_string();
        partial.push(format!(".{}.partial", std::process::id()));
        Ok(RejectLog {
            path,
            partial: partial.into(),
            out: None,
            jsonl,
            count: 0,
        })
    }

    /// The default log for an input file: `<input>.rejects.csv` beside it.
    pub fn default_path(input: &Path) -> PathBuf {
        let mut name = input.file_name().unwrap_or_default().to_os_string();
        name.push(".rejects.csv");
        input.with_file_name(name)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn write(&mut self, reject: &Reject) -> Result<()> {
        self.count += 1;
        let io_err = |e: std::io::Error, p: &Path| Error::io(p, e);
        if self.out.is_none() {
            // A leftover of a killed run of this pid is ours; anything else there (a link
            // planted at the name) makes create_new fail rather than be followed.
            if std::fs::symlink_metadata(&self.partial).is_ok_and(|m| m.is_file()) {
                let _ = std::fs::remove_file(&self.partial);
            }
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&self.partial)
                .map_err(|e| io_err(e, &self.partial))?;
            let mut out = BufWriter::new(file);
            if !self.jsonl {
                out.write_all(format!("{CSV_HEADER}\n").as_bytes())
                    .map_err(|e| io_err(e, &self.partial))?;
            }
            self.out = Some(out);
        }
        let out = self.out.as_mut().expect("opened above");
        let written = if self.jsonl {
            serde_json::to_writer(&mut *out, reject)
                .map_err(std::io::Error::other)
                .and_then(|_| out.write_all(b"\n"))
        } else {
            let column = reject.column.as_deref().unwrap_or("");
            writeln!(
                out,
                "{},{},{},{},{}",
                csv_field(&reject.file),
                reject.line,
                csv_field(column),
                csv_field(&reject.reason),
                csv_field(&reject.raw)
            )
        };
        written.map_err(|e| io_err(e, &self.partial))
    }

    /// Move the log to its final path (or, with no rejects, remove a stale log of an earlier
    /// run there). Returns the path when there were rejects.
    pub fn publish(mut self) -> Result<Option<PathBuf>> {
        match self.out.take() {
            Some(out) => {
                out.into_inner()
                    .map_err(|e| Error::io(&self.partial, e.into_error()))?
                    .sync_all()
                    .map_err(|e| Error::io(&self.partial, e))?;
                std::fs::rename(&self.partial, &self.path).map_err(|e| Error::io(&self.path, e))?;
                Ok(Some(self.path.clone()))
            }
            None => {
                // An earlier run's log would describe rejects this run did not have.
                let earlier = std::fs::symlink_metadata(&self.path).is_ok();
                if earlier && not_a_log(&self.path, self.jsonl).is_none() {
                    std::fs::remove_file(&self.path).map_err(|e| Error::io(&self.path, e))?;
                }
                Ok(None)
            }
        }
    }
}

impl Drop for RejectLog {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// Why `path` cannot be replaced by a reject log: it is a link, not a file, or a file
/// that does not start as one of ours. `None` when it is free or one of ours.
fn not_a_log(path: &Path, jsonl: bool) -> Option<&'static str> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_symlink() {
        return Some("it is a symbolic link");
    }
    if !meta.is_file() {
        return Some("it is not a regular file");
    }
    let mut first = String::new();
    let read = File::open(path).and_then(|f| {
        use std::io::{BufRead, Read};
        std::io::BufReader::new(f.take(64 * 1024)).read_line(&mut first)
    });
    let first = first.trim_end();
    let ours = read.is_ok()
        && if jsonl {
            serde_json::from_str::<serde_json::Value>(first).is_ok_and(|v| {
                ["file", "line", "reason", "raw"]
                    .iter()
                    .all(|k| v.get(k).is_some())
            })
        } else {
            first == CSV_HEADER
        };
    (!ours).then_some("it holds something else")
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(line: u64) -> Reject {
        Reject {
            file: "a.csv".into(),
            line,
            column: Some("name".into()),
            reason: "bad, very".into(),
            raw: "1,\"x\"".into(),
        }
    }

    #[test]
    fn csv_log_is_published_only_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut log = RejectLog::new(path.clone()).unwrap();
        log.write(&reject(7)).unwrap();
        assert!(!path.exists(), "not published before the end");
        assert_eq!(log.publish().unwrap(), Some(path.clone()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "file,line,column,reason,raw\na.csv,7,name,\"bad, very\",\"1,\"\"x\"\"\"\n"
        );
    }

    #[test]
    fn jsonl_log_and_stale_log_removal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut log = RejectLog::new(path.clone()).unwrap();
        log.write(&reject(2)).unwrap();
        log.publish().unwrap();
        let line: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
        assert_eq!(line["line"], 2);
        assert_eq!(
            RejectLog::new(path.clone()).unwrap().publish().unwrap(),
            None
        );
        assert!(!path.exists(), "a clean re-run removes the old log");
    }

    #[test]
    fn a_path_holding_anything_but_a_log_is_never_replaced_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.csv");
        std::fs::write(&data, "1,precious\n").unwrap();
        let err = RejectLog::new(data.clone()).err().unwrap().to_string();
        assert!(
            err.contains("holds something else") && err.contains("--rejects"),
            "{err}"
        );
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&data, &link).unwrap();
            let err = RejectLog::new(link).err().unwrap().to_string();
            assert!(err.contains("symbolic link"), "{err}");
            // A link planted at the partial name is not followed.
            let path = dir.path().join("r.csv");
            let mut log = RejectLog::new(path.clone()).unwrap();
            std::os::unix::fs::symlink(&data, &log.partial).unwrap();
            assert!(log.write(&reject(1)).is_err());
        }
        assert!(RejectLog::new(dir.path().to_path_buf()).is_err());
        assert_eq!(std::fs::read_to_string(&data).unwrap(), "1,precious\n");
    }

    #[test]
    fn an_abandoned_log_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut log = RejectLog::new(path.clone()).unwrap();
        log.write(&reject(1)).unwrap();
        drop(log);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
