//! TLS as libpq does it: the six `sslmode`s, root certificates (a file or `system`), client
//! certificates and revocation lists, turned into one OpenSSL connector that every
//! connection uses (control connections, COPY in and out, the REST pool).

use std::path::{Path, PathBuf};

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use postgres_openssl::MakeTlsConnector;

/// `sslmode`, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plaintext first; TLS if the server refuses plaintext.
    Allow,
    /// TLS if the server offers it (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate is checked only if a root certificate is set.
    Require,
    /// TLS with a certificate signed by a trusted root.
    VerifyCa,
    /// As `verify-ca`, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether a connection must not go ahead without TLS.
    pub fn requires_tls(self) -> bool {
        self >= SslMode::Require
    }
}

/// Where the root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    File(PathBuf),
    /// The system's trust store (`sslrootcert=system`).
    System,
}

/// Everything TLS of one connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub root_cert: Option<RootCert>,
    /// Client certificate and key (`sslcert`, `sslkey`).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    pub crl: Option<PathBuf>,
}

impl TlsSettings {
    /// Check the combination as libpq does: a verifying mode needs a root certificate, and
    /// `sslrootcert=system` allows nothing weaker than `verify-full`.
    pub fn check(&self) -> Result<(), String> {
        match (&self.root_cert, self.mode) {
            (None, SslMode::VerifyCa | SslMode::VerifyFull) => Err(format!(
                "sslmode={} needs a root certificate to verify the server with: set sslrootcert (a file, or system) or put one in ~/.postgresql/root.crt",
                self.mode.name()
            )),
            (Some(RootCert::System), mode) if mode < SslMode::VerifyFull => Err(format!(
                "sslrootcert=system needs sslmode=verify-full (not {})",
                mode.name()
            )),
            _ => Ok(()),
        }
    }

    /// Whether the server's certificate chain is checked (libpq: `require` with a root
    /// certificate behaves as `verify-ca`).
    fn verifies_chain(&self) -> bool {
        self.mode >= SslMode::VerifyCa
            || (self.mode == SslMode::Require && self.root_cert.is_some())
    }

    /// The connector for these settings.
    pub fn connector(&self) -> Result<MakeTlsConnector, String> {
        let failed = |what: &str, e: openssl::error::ErrorStack| format!("{what}: {e}");
        let mut builder = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| failed("starting TLS", e))?;
        if self.mode == SslMode::Disable {
            return Ok(MakeTlsConnector::new(builder.build()));
        }
        match &self.root_cert {
            // Only the named file's roots: the builder starts out trusting the system's.
            Some(RootCert::File(path)) => builder.set_cert_store(roots_from(path)?),
            Some(RootCert::System) => builder
                .set_default_verify_paths()
                .map_err(|e| failed("reading the system's root certificates", e))?,
            None => {}
        }
        if let Some((cert, key)) = &self.client_cert {
            refuse_open_key(key)?;
            builder.set_certificate_chain_file(cert).map_err(|e| {
                failed(&format!("reading client certificate {}", cert.display()), e)
            })?;
            builder
                .set_private_key_file(key, SslFiletype::PEM)
                .map_err(|e| failed(&format!("reading client key {}", key.display()), e))?;
        }
        if let Some(crl) = &self.crl {
            let store = builder.cert_store_mut();
            store
                .add_lookup(X509Lookup::file())
                .and_then(|lookup| lookup.load_crl_file(crl, SslFiletype::PEM))
                .map_err(|e| failed(&format!("reading revocation list {}", crl.display()), e))?;
            store
                .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
                .map_err(|e| failed("enabling revocation checks", e))?;
        }
        if !self.verifies_chain() {
            builder.set_verify(SslVerifyMode::NONE);
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        if self.mode != SslMode::VerifyFull {
            connector.set_callback(|config, _| {
                config.set_verify_hostname(false);
                Ok(())
            });
        }
        Ok(connector)
    }
}

/// A store holding exactly the certificates of a PEM file.
fn roots_from(path: &Path) -> Result<X509Store, String> {
    let reading =
        |e: &dyn std::fmt::Display| format!("reading the root certificate {}: {e}", path.display());
    let pem = std::fs::read(path).map_err(|e| reading(&e))?;
    let certs = X509::stack_from_pem(&pem).map_err(|e| reading(&e))?;
    if certs.is_empty() {
        return Err(reading(&"no certificate in it"));
    }
    let mut store = X509StoreBuilder::new().map_err(|e| reading(&e))?;
    for cert in certs {
        store.add_cert(cert).map_err(|e| reading(&e))?;
    }
    Ok(store.build())
}

/// As libpq: a private key others may read is refused.
fn refuse_open_key(key: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(key)
            .map_err(|e| format!("reading client key {}: {e}", key.display()))?;
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "client key {} has group or world access; permissions should be u=rw (0600) or less",
                key.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: SslMode, root_cert: Option<RootCert>) -> TlsSettings {
        TlsSettings {
            mode,
            root_cert,
            client_cert: None,
            crl: None,
        }
    }

    #[test]
    fn modes_parse_and_order() {
        for name in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert_eq!(SslMode::parse(name).unwrap().name(), name);
        }
        assert!(SslMode::parse("verify_full").is_err());
        assert!(SslMode::VerifyCa.requires_tls() && !SslMode::Prefer.requires_tls());
    }

    #[test]
    fn verifying_needs_a_root_and_system_roots_need_full_verification() {
        assert!(settings(SslMode::VerifyFull, None).check().is_err());
        assert!(
            settings(SslMode::Require, Some(RootCert::System))
                .check()
                .is_err()
        );
        assert!(
            settings(SslMode::VerifyFull, Some(RootCert::System))
                .check()
                .is_ok()
        );
        assert!(settings(SslMode::Prefer, None).check().is_ok());
        let err = settings(
            SslMode::VerifyCa,
            Some(RootCert::File("/nonexistent.crt".into())),
        )
        .connector()
        .err()
        .unwrap();
        assert!(err.contains("/nonexistent.crt"), "{err}");
    }
}
