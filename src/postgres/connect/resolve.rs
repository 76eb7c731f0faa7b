//! From a connection string to connection settings, as libpq resolves them: each setting
//! comes from the string itself, else from the service it names (`service=` or
//! `PGSERVICE`), else from its `PG*` environment variable, else from lakeshift's default;
//! a password still missing then comes from the password file.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio_postgres::config::{ChannelBinding, LoadBalanceHosts, SslMode as WireSslMode};
use tokio_postgres::config::{Host, TargetSessionAttrs};

use super::conninfo::Settings;
use super::files::{pgpass_password, service_settings};
use super::tls::{RootCert, SslMode, TlsSettings};

/// The environment variable of each setting, as libpq names them.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("dbname", "PGDATABASE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("options", "PGOPTIONS"),
    ("application_name", "PGAPPNAME"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("sslcrl", "PGSSLCRL"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
    ("load_balance_hosts", "PGLOADBALANCEHOSTS"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("gssencmode", "PGGSSENCMODE"),
];

/// What nothing else gives. The user is `postgres` (libpq takes the login name): lakeshift
/// has always defaulted to `postgres://postgres@localhost:5432/postgres`.
const DEFAULTS: &[(&str, &str)] = &[
    ("host", "localhost"),
    ("port", "5432"),
    ("user", "postgres"),
    ("connect_timeout", "10"),
];

/// Where resolution looks outside the string: the environment and the home directory.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;

    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }
}

/// The process environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// Whether any variable that names a server or a user is set: only then does an empty
/// connection string mean "as the environment says" rather than lakeshift's default URL.
pub fn environment_names_a_server(env: &dyn Environment) -> bool {
    [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGSERVICE",
    ]
    .iter()
    .any(|name| env.var(name).is_some())
}

/// Resolved settings: the driver's configuration and the TLS to use with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub config: tokio_postgres::Config,
    pub tls: TlsSettings,
    /// To say when connecting (an ignored password file), as libpq does.
    pub warnings: Vec<String>,
}

/// Resolve `explicit` (a parsed connection string). `application_name` is used when
/// neither the string nor `PGAPPNAME` sets one. Errors never quote a password.
pub fn resolve(
    explicit: &Settings,
    env: &dyn Environment,
    application_name: &str,
) -> Result<Resolved, String> {
    let mut settings = explicit.clone();
    let service = get(&settings, "service")
        .map(str::to_string)
        .or_else(|| env.var("PGSERVICE"));
    if let Some(name) = service {
        let files = service_files(env);
        let found = service_settings(&name, &files)?.ok_or_else(|| {
            format!(
                "service {name:?} is not defined in {}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        })?;
        for (key, value) in found {
            if key == "service" {
                return Err(format!("service {name:?} names another service"));
            }
            add_missing(&mut settings, &key, value);
        }
    }
    let sslmode_given = get(&settings, "sslmode").is_some() || env.var("PGSSLMODE").is_some();
    for (key, variable) in ENVIRONMENT {
        if let Some(value) = env.var(variable) {
            add_missing(&mut settings, key, value);
        }
    }
    for (key, value) in DEFAULTS {
        add_missing(&mut settings, key, value.to_string());
    }
    let user = get(&settings, "user").unwrap_or_default().to_string();
    add_missing(&mut settings, "dbname", user);
    let mut warnings = Vec::new();
    let config = driver_config(&settings, env, application_name, &mut warnings)?;
    let tls = tls_settings(&settings, &config, sslmode_given, env)?;
    tls.check()?;
    let mut config = config;
    config.ssl_mode(match tls.mode {
        SslMode::Disable | SslMode::Allow => WireSslMode::Disable,
        SslMode::Prefer => WireSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireSslMode::Require,
    });
    Ok(Resolved {
        config,
        tls,
        warnings,
    })
}

fn get<'a>(settings: &'a Settings, key: &str) -> Option<&'a str> {
    settings
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn add_missing(settings: &mut Settings, key: &str, value: String) {
    if get(settings, key).is_none() {
        settings.push((key.to_string(), value));
    }
}

/// `PGSERVICEFILE` or `~/.pg_service.conf`, then `pg_service.conf` in `PGSYSCONFDIR`
/// (default `/etc/postgresql-common`, where Debian's libpq looks).
fn service_files(env: &dyn Environment) -> Vec<PathBuf> {
    let user = env
        .var("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| env.home().map(|home| home.join(".pg_service.conf")));
    let system = PathBuf::from(
        env.var("PGSYSCONFDIR")
            .unwrap_or_else(|| "/etc/postgresql-common".into()),
    )
    .join("pg_service.conf");
    user.into_iter().chain([system]).collect()
}

fn driver_config(
    settings: &Settings,
    env: &dyn Environment,
    application_name: &str,
    warnings: &mut Vec<String>,
) -> Result<tokio_postgres::Config, String> {
    let mut config = tokio_postgres::Config::new();
    let hosts = get(settings, "host").unwrap_or("localhost");
    for host in hosts.split(',') {
        config.host(if host.is_empty() { "localhost" } else { host });
    }
    if let Some(addresses) = get(settings, "hostaddr") {
        for address in addresses.split(',') {
            let ip: IpAddr = address
                .parse()
                .map_err(|_| format!("hostaddr {address:?} is not an IP address"))?;
            config.hostaddr(ip);
        }
    }
    let ports = get(settings, "port").unwrap_or("5432");
    for port in ports.split(',') {
        let port = if port.is_empty() { "5432" } else { port };
        config.port(
            port.parse()
                .map_err(|_| format!("port {port:?} is not a port number"))?,
        );
    }
    let host_count = config.get_hosts().len();
    let port_count = config.get_ports().len();
    if port_count != 1 && port_count != host_count {
        return Err(format!(
            "{port_count} ports for {host_count} hosts (give one port, or one per host)"
        ));
    }
    let user = get(settings, "user").unwrap_or("postgres");
    config.user(user);
    config.dbname(get(settings, "dbname").unwrap_or(user));
    let password = match get(settings, "password") {
        Some(password) => Some(password.to_string()),
        None => password_from_file(settings, &config, env).unwrap_or_else(|warning| {
            warnings.push(warning);
            None
        }),
    };
    if let Some(password) = password {
        config.password(password);
    }
    if let Some(options) = get(settings, "options") {
        config.options(options);
    }
    config.application_name(
        get(settings, "application_name")
            .or(get(settings, "fallback_application_name"))
            .unwrap_or(application_name),
    );
    let seconds = |key: &str| -> Result<Option<Duration>, String> {
        get(settings, key)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| format!("{key} {v:?} is not a number of seconds"))
            })
            .transpose()
    };
    // As libpq: 0 waits forever, and less than 2 seconds is taken as 2.
    if let Some(timeout) = seconds("connect_timeout")?.filter(|t| !t.is_zero()) {
        config.connect_timeout(timeout.max(Duration::from_secs(2)));
    }
    if let Some(idle) = seconds("keepalives_idle")? {
        config.keepalives_idle(idle);
    }
    if let Some(interval) = seconds("keepalives_interval")? {
        config.keepalives_interval(interval);
    }
    if let Some(count) = get(settings, "keepalives_count") {
        config.keepalives_retries(
            count
                .parse()
                .map_err(|_| format!("keepalives_count {count:?} is not a number"))?,
        );
    }
    if let Some(timeout) = get(settings, "tcp_user_timeout") {
        let millis: u64 = timeout
            .parse()
            .map_err(|_| format!("tcp_user_timeout {timeout:?} is not milliseconds"))?;
        config.tcp_user_timeout(Duration::from_millis(millis));
    }
    if let Some(keepalives) = get(settings, "keepalives") {
        config.keepalives(keepalives != "0");
    }
    if let Some(attrs) = get(settings, "target_session_attrs") {
        config.target_session_attrs(match attrs {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            other => {
                return Err(format!(
                    "target_session_attrs {other:?} is not supported (any, read-write, read-only)"
                ));
            }
        });
    }
    if let Some(balance) = get(settings, "load_balance_hosts") {
        config.load_balance_hosts(match balance {
            "disable" => LoadBalanceHosts::Disable,
            "random" => LoadBalanceHosts::Random,
            other => {
                return Err(format!(
                    "load_balance_hosts {other:?} is not one of disable, random"
                ));
            }
        });
    }
    if let Some(binding) = get(settings, "channel_binding") {
        config.channel_binding(match binding {
            "disable" => ChannelBinding::Disable,
            "prefer" => ChannelBinding::Prefer,
            "require" => ChannelBinding::Require,
            other => {
                return Err(format!(
                    "channel_binding {other:?} is not one of disable, prefer, require"
                ));
            }
        });
    }
    if get(settings, "gssencmode") == Some("require") {
        return Err("gssencmode=require: GSSAPI encryption is not supported; use TLS".into());
    }
    Ok(config)
}

/// The password file's password for the first host it has one for.
fn password_from_file(
    settings: &Settings,
    config: &tokio_postgres::Config,
    env: &dyn Environment,
) -> Result<Option<String>, String> {
    let Some(path) = get(settings, "passfile")
        .map(PathBuf::from)
        .or_else(|| env.home().map(|home| home.join(".pgpass")))
    else {
        return Ok(None);
    };
    let ports = config.get_ports();
    let user = config.get_user().unwrap_or_default();
    let dbname = config.get_dbname().unwrap_or_default();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let host = match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(dir) => dir.display().to_string(),
        };
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        if let Some(password) = pgpass_password(&path, &host, port, dbname, user)? {
            return Ok(Some(password));
        }
    }
    Ok(None)
}

/// Whether every host is this machine (a loopback name or address, or a socket).
pub fn all_loopback(config: &tokio_postgres::Config) -> bool {
    config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Host::Unix(_) => true,
    }) && config.get_hostaddrs().iter().all(IpAddr::is_loopback)
}

fn tls_settings(
    settings: &Settings,
    config: &tokio_postgres::Config,
    sslmode_given: bool,
    env: &dyn Environment,
) -> Result<TlsSettings, String> {
    // libpq's default is `prefer`. On this machine's loopback it is `disable`: the rows
    // never leave the machine, and encrypting them costs both processes CPU (about 10% of
    // a backup's time). Saying `sslmode` (or PGSSLMODE) restores libpq's behaviour.
    let mode = match get(settings, "sslmode") {
        Some(mode) => SslMode::parse(mode)?,
        None if !sslmode_given && all_loopback(config) => SslMode::Disable,
        None => SslMode::Prefer,
    };
    let home_file = |name: &str| {
        env.home()
            .map(|home| home.join(".postgresql").join(name))
            .filter(|path| path.exists())
    };
    let root_cert = match get(settings, "sslrootcert") {
        Some("system") => Some(RootCert::System),
        Some(path) => Some(RootCert::File(path.into())),
        None => home_file("root.crt").map(RootCert::File),
    };
    let cert = get(settings, "sslcert")
        .map(PathBuf::from)
        .or_else(|| home_file("postgresql.crt"));
    let key = get(settings, "sslkey")
        .map(PathBuf::from)
        .or_else(|| home_file("postgresql.key"));
    let client_cert = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (Some(cert), None) => {
            return Err(format!(
                "sslcert {} needs its key: set sslkey",
                cert.display()
            ));
        }
        (None, _) => None,
    };
    let crl = get(settings, "sslcrl")
        .map(PathBuf::from)
        .or_else(|| home_file("root.crl"));
    Ok(TlsSettings {
        mode,
        root_cert,
        client_cert,
        crl,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::postgres::connect::conninfo::parse;

    #[derive(Default)]
    struct FakeEnvironment(HashMap<String, String>);

    impl FakeEnvironment {
        fn with(mut self, name: &str, value: &str) -> Self {
            self.0.insert(name.into(), value.into());
            self
        }
    }

    impl Environment for FakeEnvironment {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn resolved(raw: &str, env: &FakeEnvironment) -> Resolved {
        resolve(&parse(raw).unwrap(), env, "lakeshift test").unwrap()
    }

    #[test]
    fn the_string_beats_the_environment_which_beats_the_defaults() {
        let env = FakeEnvironment::default()
            .with("PGHOST", "db.example")
            .with("PGUSER", "ann")
            .with("PGPASSWORD", "from-env")
            .with("PGAPPNAME", "etl");
        let r = resolved("postgres://bob@/sales", &env);
        assert_eq!(r.config.get_hosts(), [Host::Tcp("db.example".into())]);
        assert_eq!(r.config.get_user(), Some("bob"));
        assert_eq!(r.config.get_dbname(), Some("sales"));
        assert_eq!(r.config.get_password(), Some(&b"from-env"[..]));
        assert_eq!(r.config.get_application_name(), Some("etl"));
        assert_eq!(r.tls.mode, SslMode::Prefer);

        let r = resolved("", &FakeEnvironment::default());
        assert_eq!(r.config.get_hosts(), [Host::Tcp("localhost".into())]);
        assert_eq!(r.config.get_ports(), [5432]);
        assert_eq!(r.config.get_user(), Some("postgres"));
        assert_eq!(r.config.get_dbname(), Some("postgres"));
        assert_eq!(r.config.get_application_name(), Some("lakeshift test"));
        assert_eq!(
            r.config.get_connect_timeout(),
            Some(&Duration::from_secs(10))
        );
        // Loopback without a stated sslmode: plaintext.
        assert_eq!(r.tls.mode, SslMode::Disable);
        let env = FakeEnvironment::default().with("PGSSLMODE", "prefer");
        assert_eq!(resolved("", &env).tls.mode, SslMode::Prefer);
    }

    #[test]
    fn services_come_between_the_string_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("services.conf");
        std::fs::write(&file, "[hr]\nhost=svc.example\ndbname=hr\nport=6432\n").unwrap();
        let env = FakeEnvironment::default()
            .with("PGSERVICEFILE", file.to_str().unwrap())
            .with("PGSYSCONFDIR", dir.path().to_str().unwrap())
            .with("PGDATABASE", "not-this")
            .with("PGUSER", "ann");
        let r = resolved("service=hr port=7000", &env);
        assert_eq!(r.config.get_hosts(), [Host::Tcp("svc.example".into())]);
        assert_eq!(r.config.get_ports(), [7000]);
        assert_eq!(r.config.get_dbname(), Some("hr"));
        assert_eq!(r.config.get_user(), Some("ann"));
        let r = resolved("", &env.with("PGSERVICE", "hr"));
        assert_eq!(r.config.get_ports(), [6432]);
        let err = resolve(
            &parse("service=nope").unwrap(),
            &FakeEnvironment::default().with("PGSYSCONFDIR", "/nonexistent"),
            "x",
        )
        .unwrap_err();
        assert!(err.contains("service \"nope\" is not defined"), "{err}");
    }

    #[test]
    fn a_missing_password_comes_from_the_password_file() {
        let dir = tempfile::tempdir().unwrap();
        let pgpass = dir.path().join(".pgpass");
        std::fs::write(&pgpass, "h2:5433:hr:ann:second\n*:*:*:*:any\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let env = FakeEnvironment::default().with("HOME", dir.path().to_str().unwrap());
        let r = resolved("host=h1,h2 port=5432,5433 user=ann dbname=hr", &env);
        assert_eq!(r.config.get_password(), Some(&b"any"[..]));
        std::fs::write(&pgpass, "h2:5433:hr:ann:second\n").unwrap();
        let r = resolved("host=h1,h2 port=5432,5433 user=ann dbname=hr", &env);
        assert_eq!(r.config.get_password(), Some(&b"second"[..]));
        let r = resolved("postgres://ann:given@h2:5433/hr", &env);
        assert_eq!(r.config.get_password(), Some(&b"given"[..]));
    }

    #[test]
    fn bad_values_are_refused() {
        let env = FakeEnvironment::default();
        for (raw, expected) in [
            ("port=abc", "not a port number"),
            ("host=a,b,c port=1,2", "2 ports for 3 hosts"),
            ("hostaddr=nope", "not an IP address"),
            ("target_session_attrs=primary", "not supported"),
            (
                "sslmode=verify-full host=db.example",
                "needs a root certificate",
            ),
            ("sslmode=verify_full", "is not one of"),
            ("connect_timeout=soon", "not a number of seconds"),
            ("sslcert=/c.crt host=x", "needs its key"),
        ] {
            let err = resolve(&parse(raw).unwrap(), &env, "x").unwrap_err();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn modes_map_to_the_wire() {
        let env = FakeEnvironment::default();
        let r = resolved("host=db.example sslmode=require", &env);
        assert_eq!(r.config.get_ssl_mode(), WireSslMode::Require);
        let r = resolved("host=db.example", &env);
        assert_eq!(r.config.get_ssl_mode(), WireSslMode::Prefer);
        let r = resolved("host=127.0.0.1 sslmode=allow", &env);
        assert_eq!(r.config.get_ssl_mode(), WireSslMode::Disable);
        assert_eq!(r.tls.mode, SslMode::Allow);
        let r = resolved("host=/var/run/postgresql", &env);
        assert_eq!(r.tls.mode, SslMode::Disable);
        assert_eq!(
            resolved("connect_timeout=1", &env)
                .config
                .get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
        assert_eq!(
            resolved("connect_timeout=0", &env)
                .config
                .get_connect_timeout(),
            None
        );
    }
}
