//! The service's settings: the YAML file given to `lakeshift serve --config` (users and
//! limits), checked into [`ServeConfig`] before the server binds, and the JWT secret.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Environment variable holding the HMAC secret that signs tokens.
pub const JWT_SECRET_ENV: &str = "LAKESHIFT_JWT_SECRET";
/// Shortest accepted secret: HS256 keys shorter than the hash are weak.
pub const MIN_SECRET_BYTES: usize = 32;

/// The config file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    users: Vec<UserEntry>,
    #[serde(default)]
    schemas: Option<Vec<String>>,
    #[serde(default)]
    token_ttl_seconds: Option<u64>,
    #[serde(default)]
    max_body_bytes: Option<usize>,
    #[serde(default)]
    request_timeout_seconds: Option<u64>,
    #[serde(default)]
    pool_size: Option<usize>,
    #[serde(default)]
    lock_timeout_seconds: Option<u64>,
    #[serde(default)]
    explicit_ids: Vec<String>,
    #[serde(default)]
    idempotency_ttl_seconds: Option<u64>,
    #[serde(default)]
    client_address_header: Option<String>,
    #[serde(default)]
    metrics: MetricsFile,
}

/// `metrics:` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsFile {
    #[serde(default)]
    bind: Option<String>,
    #[serde(default)]
    require_token: bool,
}

/// One user allowed to ask for tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub username: String,
    /// An argon2 hash in PHC form (`lakeshift user hash` prints one).
    pub password_hash: String,
}

/// Checked settings of the service.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub users: Vec<UserEntry>,
    /// Schemas whose tables can be ingested into; the rejects table lives in the first.
    pub schemas: Vec<String>,
    pub token_ttl: Duration,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// How long a request may wait before it is answered 503; a batch already being
    /// written is never abandoned halfway (see the ingest writer).
    pub request_timeout: Duration,
    /// Database connections shared by all requests.
    pub pool_size: usize,
    /// Longest wait for a table lock held by another session before the request is
    /// answered 503 with `Retry-After`.
    pub lock_timeout: Duration,
    /// Tables (`table` or `schema.table`) whose records may carry their own id; elsewhere
    /// the server assigns every id.
    pub explicit_ids: Vec<String>,
    /// How long the answer to a request with an `Idempotency-Key` is kept for retries.
    pub idempotency_ttl: Duration,
    /// The header a trusted reverse proxy sets to the client's address (its last entry
    /// is used), for the login throttle; `None`: the TCP peer's address.
    pub client_address_header: Option<poem::http::HeaderName>,
    /// Where `GET /metrics` is served and who may read it.
    pub metrics: MetricsAccess,
}

/// Where `GET /metrics` is served and who may read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsAccess {
    /// A separate address serving `/metrics` alone (the API's address then answers 404).
    pub bind: Option<String>,
    /// A bearer token from `/api/v1/auth/token` is needed to read them.
    pub require_token: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            users: Vec::new(),
            schemas: vec!["public".into()],
            token_ttl: Duration::from_secs(3600),
            max_body_bytes: 8 << 20,
            request_timeout: Duration::from_secs(30),
            pool_size: 16,
            lock_timeout: Duration::from_secs(5),
            explicit_ids: Vec::new(),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            client_address_header: None,
            metrics: MetricsAccess::default(),
        }
    }
}

impl ServeConfig {
    /// Read and check a config file; every problem is reported with the file's name.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|reason| Error::Invalid(format!("{}: {reason}", path.display())))
    }

    /// Parse and check the YAML text of a config file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: ConfigFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let defaults = ServeConfig::default();
        let config = ServeConfig {
            users: file.users,
            schemas: file.schemas.unwrap_or(defaults.schemas),
            token_ttl: file
                .token_ttl_seconds
                .map_or(defaults.token_ttl, Duration::from_secs),
            max_body_bytes: file.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            request_timeout: file
                .request_timeout_seconds
                .map_or(defaults.request_timeout, Duration::from_secs),
            pool_size: file.pool_size.unwrap_or(defaults.pool_size),
            lock_timeout: file
                .lock_timeout_seconds
                .map_or(defaults.lock_timeout, Duration::from_secs),
            explicit_ids: file.explicit_ids,
            idempotency_ttl: file
                .idempotency_ttl_seconds
                .map_or(defaults.idempotency_ttl, Duration::from_secs),
            client_address_header: file
                .client_address_header
                .map(|name| {
                    poem::http::HeaderName::try_from(name.as_str()).map_err(|_| {
                        format!("client_address_header: {name:?} is not a header name")
                    })
                })
                .transpose()?,
            metrics: MetricsAccess {
                bind: file.metrics.bind,
                require_token: file.metrics.require_token,
            },
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.users.is_empty() {
            problems.push("users: none configured, so nobody could obtain a token".to_string());
        }
        for (i, user) in self.users.iter().enumerate() {
            if user.username.trim().is_empty() {
                problems.push(format!("users[{i}].username: empty"));
            }
            if let Err(e) = argon2::PasswordHash::new(&user.password_hash) {
                problems.push(format!(
                    "users[{i}].password_hash: not a PHC password hash ({e}); make one with `lakeshift user hash`"
                ));
            }
            if self.users[..i].iter().any(|u| u.username == user.username) {
                problems.push(format!(
                    "users[{i}].username: {:?} appears twice",
                    user.username
                ));
            }
        }
        if self.schemas.is_empty() {
            problems.push("schemas: empty".into());
        }
        if self.token_ttl.is_zero() {
            problems.push("token_ttl_seconds: must be positive".into());
        }
        if self.max_body_bytes < 1024 {
            problems.push("max_body_bytes: must be at least 1024".into());
        }
        if self.request_timeout.is_zero() {
            problems.push("request_timeout_seconds: must be positive".into());
        }
        if self.pool_size == 0 {
            problems.push("pool_size: must be positive".into());
        }
        if self.idempotency_ttl.is_zero() {
            problems.push("idempotency_ttl_seconds: must be positive".into());
        }
        if self.lock_timeout.is_zero() || self.lock_timeout >= self.request_timeout {
            problems.push(
                "lock_timeout_seconds: must be positive and shorter than request_timeout_seconds"
                    .into(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The token signing secret from [`JWT_SECRET_ENV`]; the server does not start without a
/// long enough one.
pub fn jwt_secret_from_env() -> Result<Vec<u8>> {
    let secret = std::env::var(JWT_SECRET_ENV).map_err(|_| {
        Error::Invalid(format!(
            "{JWT_SECRET_ENV} is not set: the server needs a secret of at least {MIN_SECRET_BYTES} bytes to sign tokens (e.g. `openssl rand -hex 32`)"
        ))
    })?;
    check_secret(secret.as_bytes())?;
    Ok(secret.into_bytes())
}

/// A secret shorter than [`MIN_SECRET_BYTES`] is refused.
pub fn check_secret(secret: &[u8]) -> Result<()> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(Error::Invalid(format!(
            "{JWT_SECRET_ENV} is {} bytes long; it must be at least {MIN_SECRET_BYTES}",
            secret.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$Zb8y5gYJ7Ae0C2rDx5mF0vTRHkO2qU3FWnU0Q8b1d9k";

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let config = ServeConfig::parse(&format!(
            "users:\n  - username: ingest\n    password_hash: \"{HASH}\"\n"
        ))
        .unwrap();
        assert_eq!(config.schemas, vec!["public".to_string()]);
        assert_eq!(config.token_ttl, Duration::from_secs(3600));
        assert_eq!(config.users[0].username, "ingest");
    }

    #[test]
    fn every_problem_is_reported() {
        let err = ServeConfig::parse(
            "users:\n  - username: a\n    password_hash: plain\n  - username: a\n    password_hash: x\npool_size: 0\n",
        )
        .unwrap_err();
        assert!(err.contains("users[0].password_hash"), "{err}");
        assert!(
            err.contains("users[1].username: \"a\" appears twice"),
            "{err}"
        );
        assert!(err.contains("pool_size"), "{err}");
        assert!(
            ServeConfig::parse("users: []\n")
                .unwrap_err()
                .contains("nobody")
        );
        assert!(
            ServeConfig::parse("userz: []\n")
                .unwrap_err()
                .contains("unknown field")
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(check_secret(b"short").is_err());
        assert!(check_secret(&[b'k'; 32]).is_ok());
    }
}
