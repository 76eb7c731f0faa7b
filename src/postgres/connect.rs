//! Connection URLs and control connections. Every URL that reaches a log, an error or a
//! report goes through [`DbUrl::redacted`], so a password is never printed.

use std::fmt;
use std::time::Duration;

use tokio_postgres::config::Host;
use tokio_postgres::{Client, NoTls};

use crate::error::{Error, Result, pg_reason};

pub mod conninfo;
pub mod files;
pub mod redact;
pub mod tls;

pub use redact::redact;

/// The URL used when neither a flag nor a pipeline names one and `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A Postgres connection URL (`postgres://user:pass@host:port/db?...`), checked on creation.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    raw: String,
    /// Boxed: a `Config` is large, and URLs are moved around a lot.
    config: Box<tokio_postgres::Config>,
}

impl DbUrl {
    /// Parse and check a URL; the error shows the URL without its password.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadUrl {
            url: redact(raw),
            reason: reason.to_string(),
        };
        if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://")) {
            return Err(bad(
                "expected postgres://user[:password]@host[:port]/database",
            ));
        }
        let mut config: tokio_postgres::Config = raw
            .parse()
            .map_err(|e: tokio_postgres::Error| bad(&e.to_string()))?;
        if config.get_hosts().is_empty() {
            return Err(bad("no host"));
        }
        if config.get_user().is_none() {
            config.user(std::env::var("USER").unwrap_or_else(|_| "postgres".into()));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("lakeshift");
        Ok(DbUrl {
            raw: raw.to_string(),
            config: Box::new(config),
        })
    }

    /// `DATABASE_URL`, or the default local URL.
    pub fn from_env() -> Result<Self> {
        let raw = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into());
        Self::parse(&raw)
    }

    /// The parsed connection settings (for a connection pool).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The URL as given, password included: only for handing to a driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL for connectorx, password included. On a loopback host, unless the URL says
    /// otherwise, without TLS: lakeshift's own connections never use it, and encrypting a
    /// table's worth of rows between two local processes costs both of them CPU (about 10%
    /// of a backup's time).
    pub fn connectorx_url(&self) -> String {
        let loopback = self.config.get_hosts().iter().all(|h| match h {
            Host::Tcp(name) => matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1" | "[::1]"),
            Host::Unix(_) => true,
        });
        if !loopback || self.raw.contains("sslmode=") {
            return self.raw.clone();
        }
        let separator = if self.raw.contains('?') { '&' } else { '?' };
        format!("{}{separator}sslmode=disable", self.raw)
    }

    /// The (first) server's host, or socket directory, and port.
    pub fn host_and_port(&self) -> (String, u16) {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(dir)) => dir.display().to_string(),
            None => "localhost".into(),
        };
        (
            host,
            self.config.get_ports().first().copied().unwrap_or(5432),
        )
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }

    /// `text` with this URL's password replaced by `***` (for messages of other libraries).
    pub fn scrub(&self, text: &str) -> String {
        match self
            .config
            .get_password()
            .and_then(|p| std::str::from_utf8(p).ok())
        {
            Some(password) if !password.is_empty() => text.replace(password, "***"),
            _ => text.to_string(),
        }
    }

    /// The database name (the user name when the URL names none, as libpq does).
    pub fn database(&self) -> &str {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres")
    }

    /// The same server with another database.
    pub fn with_database(&self, database: &str) -> Result<Self> {
        let mut url = url::Url::parse(&self.raw).map_err(|e| Error::BadUrl {
            url: self.redacted(),
            reason: e.to_string(),
        })?;
        url.set_path(&format!("/{database}"));
        Self::parse(url.as_str())
    }

    /// Whether this URL's database exists (asked through the server's `postgres` database).
    pub async fn database_exists(&self) -> Result<bool> {
        let admin = self.with_database("postgres")?.connect().await?;
        let name = self.database();
        let found = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .map_err(|e| Error::pg(format!("looking for database {name}"), e))?;
        Ok(found.is_some())
    }

    /// Create this URL's database (through the server's `postgres` database).
    pub async fn create_database(&self) -> Result<()> {
        let admin = self.with_database("postgres")?.connect().await?;
        let name = self.database();
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(name)))
            .await
            .map_err(|e| Error::pg(format!("creating database {name}"), e))
    }

    /// Open a control connection; its driver task runs on the current runtime.
    pub async fn connect(&self) -> Result<Client> {
        let (client, connection) =
            self.config
                .connect(NoTls)
                .await
                .map_err(|e| Error::Connect {
                    url: self.redacted(),
                    reason: pg_reason(&e),
                    source: Some(Box::new(e)),
                })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres connection closed");
            }
        });
        Ok(client)
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Quote an identifier for SQL (`my "table"` -> `"my ""table"""`).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quote a string literal for SQL.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        // In a query string a raw `&` may belong to the password: the rest is hidden too.
        assert_eq!(
            redact("postgres://u@h/db?password=secret&x=1"),
            "postgres://u@h/db?password=***"
        );
        let url = DbUrl::parse("postgres://u:secret@h/db").unwrap();
        assert!(!format!("{url} {url:?}").contains("secret"));
        assert_eq!(
            url.scrub("failed for postgres://u:secret@h/db"),
            "failed for postgres://u:***@h/db"
        );
    }

    #[test]
    fn bad_urls_are_refused_without_leaking_the_password() {
        let err = DbUrl::parse("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected postgres://"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(DbUrl::parse("postgres://u@h:notaport/db").is_err());
    }

    #[test]
    fn database_can_be_swapped() {
        let url = DbUrl::parse("postgres://u:p@h:5433/one?sslmode=disable").unwrap();
        let other = url.with_database("two").unwrap();
        assert_eq!(other.database(), "two");
        assert_eq!(
            other.redacted(),
            "postgres://u:***@h:5433/two?sslmode=disable"
        );
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("O'Neil"), "'O''Neil'");
    }
}
