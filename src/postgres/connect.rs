//! Connections to Postgres, all made here so that TLS and libpq's settings behave the same
//! for every one of them: control connections, COPY in and out ([`DbUrl::connect`]), the
//! REST service's pool ([`DbUrl::open`], from [`DbUrl::config`] and [`DbUrl::connector`]).
//! A connection string is resolved as libpq does it ([`resolve`]); every string that
//! reaches a log, an error or a report is printed without its password.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use postgres_openssl::MakeTlsConnector;
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_postgres::config::{Host, SslMode as WireSslMode};

use crate::error::{Error, Result, pg_reason};

pub mod conninfo;
pub mod files;
pub mod redact;
pub mod resolve;
pub mod tls;

pub use redact::redact;
use resolve::{ProcessEnvironment, Resolved};
use tls::{SslMode, TlsSettings};

/// What an empty connection string means when no `PG*` variable names a server.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@localhost:5432/postgres";

/// `application_name` when the connection string and `PGAPPNAME` set none.
static APPLICATION_NAME: OnceLock<String> = OnceLock::new();

/// Name this process's connections in `pg_stat_activity` (`lakeshift backup`); set once,
/// before the first connection string is parsed.
pub fn set_application_name(name: &str) {
    let _ = APPLICATION_NAME.set(name.to_string());
}

/// A resolved, checked connection string (a `postgres://` URL or `key=value` settings).
/// Cheap to clone: clones share the settings and the TLS connector.
#[derive(Clone)]
pub struct DbUrl(Arc<Inner>);

struct Inner {
    /// As given (printed redacted); empty when everything came from the environment.
    raw: String,
    resolved: Resolved,
    connector: MakeTlsConnector,
    /// Whether the resolution's warnings were logged (once, at the first connection).
    warned: std::sync::atomic::AtomicBool,
}

impl DbUrl {
    /// Resolve and check a connection string; the error shows it without its password.
    /// An empty string means the `PG*` variables, or [`DEFAULT_DATABASE_URL`] if none
    /// names a server.
    pub fn parse(raw: &str) -> Result<Self> {
        let env = ProcessEnvironment;
        if raw.trim().is_empty() && !resolve::environment_names_a_server(&env) {
            return Self::parse(DEFAULT_DATABASE_URL);
        }
        let bad = |reason: String| Error::BadUrl {
            url: redact(raw),
            reason,
        };
        let settings = conninfo::parse(raw).map_err(bad)?;
        let name = APPLICATION_NAME.get().map_or("lakeshift", String::as_str);
        let resolved = resolve::resolve(&settings, &env, name).map_err(bad)?;
        let connector = resolved.tls.connector().map_err(bad)?;
        Ok(DbUrl(Arc::new(Inner {
            raw: raw.trim().to_string(),
            resolved,
            connector,
            warned: Default::default(),
        })))
    }

    /// `DATABASE_URL`, else the `PG*` variables, else [`DEFAULT_DATABASE_URL`].
    pub fn from_env() -> Result<Self> {
        Self::parse(&std::env::var("DATABASE_URL").unwrap_or_default())
    }

    /// The resolved driver settings (`ssl_mode` as the wire protocol knows it).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.0.resolved.config
    }

    /// The TLS connector every connection to this server uses.
    pub fn connector(&self) -> &MakeTlsConnector {
        &self.0.connector
    }

    /// The TLS settings (`sslmode` as libpq knows it).
    pub fn tls(&self) -> &TlsSettings {
        &self.0.resolved.tls
    }

    /// The connection string as given, password included: only for handing to another
    /// process (which resolves it again, from its own environment).
    pub fn expose(&self) -> &str {
        &self.0.raw
    }

    /// The (first) server's host, or socket directory, and port.
    pub fn host_and_port(&self) -> (String, u16) {
        let config = self.config();
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(dir)) => dir.display().to_string(),
            None => "localhost".into(),
        };
        (host, config.get_ports().first().copied().unwrap_or(5432))
    }

    /// The connection string without its password.
    pub fn redacted(&self) -> String {
        if self.0.raw.is_empty() {
            let (host, port) = self.host_and_port();
            let user = self.config().get_user().unwrap_or_default();
            format!("postgres://{user}@{host}:{port}/{}", self.database())
        } else {
            redact(&self.0.raw)
        }
    }

    /// `text` with this connection's password replaced by `***` (for other libraries'
    /// messages).
    pub fn scrub(&self, text: &str) -> String {
        match self
            .config()
            .get_password()
            .and_then(|p| std::str::from_utf8(p).ok())
        {
            Some(password) if !password.is_empty() => text.replace(password, "***"),
            _ => text.to_string(),
        }
    }

    /// The database name.
    pub fn database(&self) -> &str {
        self.config().get_dbname().unwrap_or("postgres")
    }

    /// The same server with another database.
    pub fn with_database(&self, database: &str) -> Result<Self> {
        Self::parse(&with_dbname(&self.0.raw, database))
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

    /// Open a connection, retrying while the server is starting, shutting down, full or
    /// not listening yet (see [`connect_retries`]), and saying so in the log. Its driver
    /// task runs on the current runtime.
    pub async fn connect(&self) -> Result<Client> {
        if !self
            .0
            .warned
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            for warning in &self.0.resolved.warnings {
                tracing::warn!("{warning}");
            }
        }
        let retries = connect_retries();
        let mut pause = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            match self.open().await {
                Ok((client, _)) => return Ok(client),
                Err(e) if attempt < retries && is_transient(&e) => {
                    attempt += 1;
                    tracing::warn!(
                        "cannot connect to {self} ({}); retrying in {pause:?} (attempt {attempt} of {retries})",
                        self.scrub(&pg_reason(&e))
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    return Err(Error::Connect {
                        url: self.redacted(),
                        reason: self.scrub(&self.failure(&e)),
                        source: Some(Box::new(e)),
                    });
                }
            }
        }
    }

    /// Why a connection failed, in one line. A refused certificate is said plainly (the
    /// OpenSSL error stack repeats itself and names source files).
    fn failure(&self, e: &tokio_postgres::Error) -> String {
        let reason = pg_reason(e);
        let Some((_, after)) = reason.split_once("certificate verify failed") else {
            return reason;
        };
        let why = after
            .split(':')
            .map(str::trim)
            .find(|part| {
                !part.is_empty() && !part.contains(".c") && !part.starts_with(char::is_numeric)
            })
            .unwrap_or("not trusted");
        let root = match &self.tls().root_cert {
            Some(tls::RootCert::File(path)) => format!("sslrootcert={}", path.display()),
            Some(tls::RootCert::System) => "sslrootcert=system".to_string(),
            None => "no sslrootcert".to_string(),
        };
        let host = self.host_and_port().0;
        let hint = if why.contains("hostname mismatch") {
            format!("the certificate does not name the host {host}")
        } else {
            format!("it is not signed by a root of {root}")
        };
        format!(
            "the server's TLS certificate was refused ({why}): {hint}, and sslmode={} checks that",
            self.tls().mode.name()
        )
    }

    /// One connection attempt, with this string's TLS settings (`sslmode=allow`: plaintext,
    /// then TLS if the server refuses plaintext). The driver task is returned.
    pub async fn open(
        &self,
    ) -> std::result::Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        match open_with(self.config(), self.connector()).await {
            Err(e) if self.tls().mode == SslMode::Allow && e.as_db_error().is_some() => {
                let mut config = self.config().clone();
                config.ssl_mode(WireSslMode::Require);
                open_with(&config, self.connector()).await
            }
            other => other,
        }
    }
}

async fn open_with(
    config: &tokio_postgres::Config,
    connector: &MakeTlsConnector,
) -> std::result::Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = config.connect(connector.clone()).await?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection closed");
        }
    });
    Ok((client, task))
}

/// How often [`DbUrl::connect`] retries a transient failure: `LAKESHIFT_CONNECT_RETRIES`,
/// default 5 (pauses of 0.25, 0.5, 1, 2 and 4 s: a server restarting has 8 s to come up).
pub fn connect_retries() -> u32 {
    std::env::var("LAKESHIFT_CONNECT_RETRIES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(5)
}

/// Failures worth another try: nothing listens yet, or the server says it is starting,
/// shutting down or full. Not timeouts (the wait was long already), nor authentication.
fn is_transient(e: &tokio_postgres::Error) -> bool {
    if let Some(db) = e.as_db_error() {
        return matches!(db.code().code(), "57P03" | "57P01" | "57P02" | "53300");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::ConnectionRefused
                || io.kind() == std::io::ErrorKind::NotFound;
        }
        source = cause.source();
    }
    false
}

/// `raw` naming database `database` instead: the URL's path replaced, or a `dbname`
/// setting added (the last one wins).
fn with_dbname(raw: &str, database: &str) -> String {
    if let Some((scheme, rest)) = raw.split_once("://") {
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = before_query
            .split_once('/')
            .map_or(before_query, |(a, _)| a);
        let query: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
            .collect();
        let mut out = format!("{scheme}://{authority}/{}", percent_encode(database));
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query.join("&"));
        }
        out
    } else {
        let quoted = database.replace('\\', "\\\\").replace('\'', "\\'");
        format!("{raw} dbname='{quoted}'").trim_start().to_string()
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl PartialEq for DbUrl {
    fn eq(&self, other: &Self) -> bool {
        self.0.raw == other.0.raw && self.0.resolved == other.0.resolved
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
    fn another_database_is_named_in_either_form() {
        assert_eq!(
            with_dbname("postgres://u@h1,h2:5/one?dbname=x&sslmode=require", "my db"),
            "postgres://u@h1,h2:5/my%20db?sslmode=require"
        );
        assert_eq!(
            with_dbname("service=hr dbname=one", "it's"),
            "service=hr dbname=one dbname='it\\'s'"
        );
        assert_eq!(with_dbname("", "two"), "dbname='two'");
        let settings = conninfo::parse(&with_dbname("host=h dbname=one", "it's")).unwrap();
        assert!(settings.contains(&("dbname".to_string(), "it's".to_string())));
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("O'Neil"), "'O''Neil'");
    }
}
