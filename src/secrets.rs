//! The last line of defence for secrets that reach this process through its environment
//! (S3 keys, `PGPASSWORD`, the JWT secret): the binary passes every error line and every
//! log line through [`Secrets::scrub`], so a library that quotes one (an object store
//! error echoing a signed request, a driver quoting its settings) never prints it.

use std::io::Write;

/// Environment variables whose values are secrets.
const SECRET_VARIABLES: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PGPASSWORD",
    "LAKESHIFT_JWT_SECRET",
    "LAKESHIFT_BACKUP_KEY",
];

/// Secret values to hide, longest first (so a secret holding another is hidden whole).
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// The values of [`SECRET_VARIABLES`] that are set (shorter than 4 characters they
    /// would hide ordinary text, and guard nothing).
    pub fn from_env() -> Secrets {
        Secrets::new(
            SECRET_VARIABLES
                .iter()
                .filter_map(|v| std::env::var(v).ok()),
        )
    }

    pub fn new(values: impl IntoIterator<Item = String>) -> Secrets {
        let mut values: Vec<String> = values.into_iter().filter(|v| v.len() >= 4).collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Secrets(values)
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// A writer that scrubs what it is given (one log event per write, as tracing writes).
    pub fn writer<W: Write>(&self, inner: W) -> ScrubbingWriter<W> {
        ScrubbingWriter {
            secrets: self.clone(),
            inner,
        }
    }
}

pub struct ScrubbingWriter<W> {
    secrets: Secrets,
    inner: W,
}

impl<W: Write> Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.secrets.0.is_empty() {
            return self.inner.write(buf);
        }
        let text = String::from_utf8_lossy(buf);
        self.inner.write_all(self.secrets.scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_whole_wherever_they_appear() {
        let secrets = Secrets::new([
            "wJalrXUtnFEMI/K7MDENG".to_string(),
            "ab".to_string(),
            "wJalrX".to_string(),
        ]);
        assert_eq!(
            secrets.scrub("signature for wJalrXUtnFEMI/K7MDENG failed; wJalrX; ab"),
            "signature for *** failed; ***; ab"
        );
        let mut out = Vec::new();
        secrets
            .writer(&mut out)
            .write_all(b"key wJalrXUtnFEMI/K7MDENG\n")
            .unwrap();
        assert_eq!(out, b"key ***\n");
    }
}
