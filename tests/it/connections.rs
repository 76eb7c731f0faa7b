//! Connections as libpq makes them, against a second cluster that requires TLS and SCRAM
//! passwords (`scripts/tls-postgres.sh`; its folder in `LAKESHIFT_TEST_TLS_PG`): every
//! command over `sslmode=verify-full`, clear failures without TLS or with a wrong CA or
//! host name, and credentials from `PGPASSWORD`, `.pgpass` and service files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use lakeshift::postgres::DbUrl;
use serde_json::json;

use crate::api::{JsonBody, json_response};
use crate::common::{drop_database, stderr};

/// The TLS cluster: its folder, port and credentials.
struct TlsServer {
    dir: PathBuf,
    port: String,
    user: String,
    password: String,
}

impl TlsServer {
    fn get() -> TlsServer {
        let dir = std::env::var("LAKESHIFT_TEST_TLS_PG").unwrap_or_else(|_| {
            panic!(
                "LAKESHIFT_TEST_TLS_PG is not set: run scripts/tls-postgres.sh (scripts/test.sh does)"
            )
        });
        let dir = PathBuf::from(dir);
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
                .trim()
                .to_string()
        };
        TlsServer {
            port: read("port"),
            user: read("user"),
            password: read("password"),
            dir,
        }
    }

    fn ca(&self) -> String {
        self.dir.join("ca.crt").display().to_string()
    }

    /// `key=value` settings for `database`, verifying the server, without the password.
    fn conninfo(&self, database: &str) -> String {
        format!(
            "host=localhost port={} user={} dbname={database} sslmode=verify-full sslrootcert={}",
            self.port,
            self.user,
            self.ca()
        )
    }

    /// The same as a URL.
    fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}@localhost:{}/{database}?sslmode=verify-full&sslrootcert={}",
            self.user,
            self.port,
            self.ca()
        )
    }

    /// A connection for this test process (the password in the string: tests run in
    /// parallel and must not change the process environment).
    fn in_process(&self, database: &str) -> DbUrl {
        DbUrl::parse(&format!(
            "{} password={}",
            self.conninfo(database),
            self.password
        ))
        .expect("a valid connection string")
    }

    /// A fresh database on this server, dropped afterwards.
    async fn database(&self) -> TlsDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "lakeshift_tls_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = self
            .in_process("postgres")
            .connect()
            .await
            .unwrap_or_else(|e| {
                panic!("the TLS test cluster must answer (scripts/tls-postgres.sh): {e}")
            });
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        TlsDb {
            url: self.in_process(&name),
            name,
        }
    }

    /// `lakeshift` with the password in `PGPASSWORD` and nothing else set.
    fn lakeshift(&self, args: &[&str]) -> Output {
        self.command(args)
            .env("PGPASSWORD", &self.password)
            .output()
            .unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lakeshift"));
        command.args(args).env("NO_COLOR", "1");
        for variable in [
            "DATABASE_URL",
            "PGPASSWORD",
            "PGSERVICE",
            "PGHOST",
            "PGUSER",
        ] {
            command.env_remove(variable);
        }
        command.env("LAKESHIFT_CONNECT_RETRIES", "0");
        command
    }
}

struct TlsDb {
    url: DbUrl,
    name: String,
}

impl TlsDb {
    async fn execute(&self, sql: &str) {
        self.url
            .connect()
            .await
            .unwrap()
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn value(&self, sql: &str) -> String {
        let client = self.url.connect().await.unwrap();
        let row = client
            .query_one(&format!("SELECT ({sql})::text"), &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.get::<_, Option<String>>(0).unwrap_or_default()
    }
}

impl Drop for TlsDb {
    fn drop(&mut self) {
        let admin = self.url.with_database("postgres").unwrap();
        drop_database(admin, self.name.clone());
    }
}

fn assert_ok(output: &Output, what: &str) {
    assert!(output.status.success(), "{what}: {}", stderr(output));
}

/// A failure in one line (no password, no OpenSSL stack) that says `expected`.
fn assert_fails_with(output: &Output, expected: &str) {
    let text = stderr(output);
    assert!(!output.status.success(), "should fail: {text}");
    assert!(text.contains(expected), "expected {expected:?} in {text}");
    let error_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(error_lines.len(), 1, "{text}");
    assert!(!text.contains("statem_clnt.c"), "{text}");
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_works_over_verify_full_tls() {
    let server = TlsServer::get();
    let source = server.database().await;
    let target = server.database().await;
    let restored = server.database().await;
    source
        .execute(
            "CREATE TABLE jobs (id int PRIMARY KEY, job text NOT NULL);
             INSERT INTO jobs SELECT g, 'Job ' || g FROM generate_series(1, 500) g;",
        )
        .await;
    // Every connection this server accepts is encrypted (pg_hba.conf: hostssl only).
    assert_eq!(
        source
            .value("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .await,
        "true"
    );
    let (src, tgt) = (server.conninfo(&source.name), server.conninfo(&target.name));
    let dir = tempfile::tempdir().unwrap();

    let out = server.lakeshift(&["schema", "copy", "--source", &src, "--target", &tgt]);
    assert_ok(&out, "schema copy");
    let out = server.lakeshift(&["copy", "--source", &src, "--target", &tgt]);
    assert_ok(&out, "copy");
    assert_eq!(target.value("SELECT count(*) FROM jobs").await, "500");

    let csv = dir.path().join("jobs.csv");
    std::fs::write(&csv, "501,Imported\n502,Also imported\n").unwrap();
    let out = server
        .command(&["import", "csv", "--table", "jobs", path_str(&csv)])
        .env("DATABASE_URL", &tgt)
        .env("PGPASSWORD", &server.password)
        .output()
        .unwrap();
    assert_ok(&out, "import csv");
    assert_eq!(target.value("SELECT count(*) FROM jobs").await, "502");

    let backups = dir.path().join("backups");
    let out = server.lakeshift(&["backup", "--source", &tgt, "--to", path_str(&backups)]);
    assert_ok(&out, "backup");
    let into = server.url(&restored.name);
    let out = server.lakeshift(&["restore", "--from", path_str(&backups), "--target", &into]);
    assert_ok(&out, "restore");
    assert_eq!(restored.value("SELECT sum(id) FROM jobs").await, "126253");

    let lake = dir.path().join("lake");
    let out = server.lakeshift(&["lake", "sync", "--source", &into, "--to", path_str(&lake)]);
    assert_ok(&out, "lake sync");
    assert!(lake.join("jobs/_delta_log").exists());

    let table = format!("jobs={}#postgres:public.jobs", server.url(&restored.name));
    let out = server.lakeshift(&[
        "sql",
        "-e",
        "SELECT count(*) AS n FROM jobs",
        "--table",
        &table,
        "--format",
        "csv",
    ]);
    assert_ok(&out, "sql");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n502\n");

    // The REST service's pool connects the same way.
    hr_schema_on(&restored).await;
    let service = lakeshift::api::Service::start(
        &restored.url,
        "127.0.0.1:0",
        &crate::api::config(),
        crate::api::SECRET,
    )
    .await
    .expect("the service starts over TLS");
    let base = format!("http://{}", service.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service.run(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let login = json!({"username": crate::api::USER, "password": crate::api::PASSWORD});
    let (status, token) = json_response(
        http.post(format!("{base}/api/v1/auth/token"))
            .json_body(&login)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().expect("a token").to_string();
    let (status, body) = json_response(
        http.post(format!("{base}/api/v1/departments"))
            .bearer_auth(&token)
            .json_body(&json!({"records": [{"department": "Over TLS"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    assert_eq!(
        restored
            .value("SELECT department FROM departments WHERE id = 1")
            .await,
        "Over TLS"
    );
}

async fn hr_schema_on(db: &TlsDb) {
    let sql = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/hr/schema.sql"),
    )
    .unwrap();
    db.execute(&sql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plaintext_a_wrong_ca_and_a_wrong_host_name_fail_clearly() {
    let server = TlsServer::get();
    let db = server.database().await;
    let base = format!(
        "host=localhost port={} user={} dbname={}",
        server.port, server.user, db.name
    );
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("b");
    let backup = |settings: &str| {
        server.lakeshift(&[
            "backup",
            "--source",
            &format!("{base} {settings}"),
            "--to",
            path_str(&to),
        ])
    };
    assert_fails_with(&backup("sslmode=disable"), "no encryption");
    let wrong_ca = server.dir.join("wrong-ca.crt");
    assert_fails_with(
        &backup(&format!(
            "sslmode=verify-full sslrootcert={}",
            wrong_ca.display()
        )),
        "the server's TLS certificate was refused (unable to get local issuer certificate)",
    );
    // The certificate names localhost and 127.0.0.1, not db.example.
    assert_fails_with(
        &backup(&format!(
            "sslmode=verify-full sslrootcert={} host=db.example hostaddr=127.0.0.1",
            server.ca()
        )),
        "does not name the host db.example",
    );
    // verify-ca checks the chain only, so the same name passes.
    let out = backup(&format!(
        "sslmode=verify-ca sslrootcert={} host=db.example hostaddr=127.0.0.1",
        server.ca()
    ));
    assert_ok(&out, "verify-ca with another name");
    // require encrypts without checking; allow falls back to TLS when plaintext is refused.
    assert_ok(&backup("sslmode=require"), "require");
    assert_ok(&backup("sslmode=allow"), "allow");
    assert_fails_with(&backup("sslmode=verify-full"), "needs a root certificate");
    assert!(!to.join("unfinished").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_come_from_pgpassword_the_password_file_and_service_files() {
    let server = TlsServer::get();
    let db = server.database().await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let home = tempfile::tempdir().unwrap();
    let conninfo = server.conninfo(&db.name);
    let dump = |command: &mut Command| command.output().unwrap();
    let schema_dump = ["schema", "dump", "--source", conninfo.as_str()];

    // No password anywhere: the server asks and nothing answers.
    let out = dump(server.command(&schema_dump).env("HOME", home.path()));
    assert_fails_with(&out, "password");

    let out = dump(
        server
            .command(&schema_dump)
            .env("HOME", home.path())
            .env("PGPASSWORD", &server.password),
    );
    assert_ok(&out, "PGPASSWORD");
    assert!(String::from_utf8_lossy(&out.stdout).contains("CREATE TABLE"));

    // ~/.pgpass: used when only its owner may read it, ignored (with a warning) otherwise.
    let pgpass = home.path().join(".pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "other.example:*:*:*:wrong\nlocalhost:{}:{}:{}:{}\n",
            server.port, db.name, server.user, server.password
        ),
    )
    .unwrap();
    set_mode(&pgpass, 0o600);
    let out = dump(server.command(&schema_dump).env("HOME", home.path()));
    assert_ok(&out, ".pgpass");
    set_mode(&pgpass, 0o644);
    let out = dump(server.command(&schema_dump).env("HOME", home.path()));
    assert_fails_with(&out, "password");
    assert!(
        stderr(&out).contains("has group or world access; ignored"),
        "{}",
        stderr(&out)
    );

    // PGPASSFILE names another file; a service file gives the server and the password.
    let passfile = home.path().join("passwords");
    std::fs::write(&passfile, format!("*:*:*:*:{}\n", server.password)).unwrap();
    set_mode(&passfile, 0o600);
    let out = dump(
        server
            .command(&schema_dump)
            .env("HOME", home.path())
            .env("PGPASSFILE", &passfile),
    );
    assert_ok(&out, "PGPASSFILE");
    let services = home.path().join("services.conf");
    std::fs::write(
        &services,
        format!(
            "[tls-test]\nhost=localhost\nport={}\nuser={}\ndbname={}\npassword={}\nsslmode=verify-full\nsslrootcert={}\n",
            server.port,
            server.user,
            db.name,
            server.password,
            server.ca()
        ),
    )
    .unwrap();
    let by_service = |command: &mut Command| {
        command
            .env("HOME", home.path())
            .env("PGSERVICEFILE", &services)
            .output()
            .unwrap()
    };
    let out = by_service(&mut server.command(&["schema", "dump", "--source", "service=tls-test"]));
    assert_ok(&out, "service=");
    let out = by_service(
        server
            .command(&["schema", "dump"])
            .env("PGSERVICE", "tls-test"),
    );
    assert_ok(&out, "PGSERVICE");
    assert!(String::from_utf8_lossy(&out.stdout).contains("CREATE TABLE"));
    // The password never shows, even in a failure.
    let out = by_service(&mut server.command(&[
        "schema",
        "dump",
        "--source",
        "service=tls-test sslmode=disable",
    ]));
    assert_fails_with(&out, "no encryption");
    assert!(!stderr(&out).contains(&server.password));
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_are_named_and_libpq_settings_apply() {
    let server = TlsServer::get();
    let db = server.database().await;
    let client = db.url.connect().await.unwrap();
    let name: String = client
        .query_one("SHOW application_name", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "lakeshift");
    // options= reaches the server; a second host that does not answer is skipped.
    let url = DbUrl::parse(&format!(
        "host=127.0.0.1,localhost port=1,{} user={} password={} dbname={} sslmode=verify-full sslrootcert={} options='-c search_path=elsewhere' application_name=etl-nightly",
        server.port, server.user, server.password, db.name, server.ca()
    ))
    .unwrap();
    let client = url.connect().await.expect("the second host answers");
    let row = client
        .query_one(
            "SELECT current_setting('search_path'), current_setting('application_name')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "elsewhere");
    assert_eq!(row.get::<_, String>(1), "etl-nightly");
}

#[test]
fn a_server_that_is_not_up_yet_is_retried_and_the_log_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args([
            "schema",
            "dump",
            "--source",
            "host=127.0.0.1 port=1 password=hunter2",
        ])
        .env("LAKESHIFT_CONNECT_RETRIES", "2")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = stderr(&out);
    assert!(!out.status.success());
    assert_eq!(text.matches("retrying in").count(), 2, "{text}");
    assert!(text.contains("attempt 2 of 2"), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// Roles and tablespaces belong to a cluster: a copy or restore into one that lacks the
/// source's roles (this one has no `postgres` either) or tablespaces names them before
/// applying anything; `--no-owner` and `--no-tablespaces` leave out what names them.
#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_without_the_sources_roles_or_tablespaces_names_them_or_leaves_them_out() {
    let server = TlsServer::get();
    let source = crate::common::partitioned_store().await;
    let target = server.database().await;
    let target_url = server.url(&target.name);
    let copy = |extra: &[&str]| {
        let mut args = vec![
            "schema",
            "copy",
            "--source",
            source.url.expose(),
            "--target",
            &target_url,
        ];
        args.extend(extra);
        server.lakeshift(&args)
    };
    let refused = copy(&[]);
    assert_fails_with(
        &refused,
        "roles lakeshift_clerk, lakeshift_reader, postgres do not exist",
    );
    assert_fails_with(&refused, "--no-owner");
    let schemas =
        "SELECT count(*) FROM pg_namespace WHERE nspname IN ('sales', 'catalog', 'audit')";
    assert_eq!(target.value(schemas).await, "0", "nothing was applied");

    // Tablespaces are the cluster's too: named, or left out with --no-tablespaces.
    let refused = copy(&["--no-owner"]);
    assert_fails_with(&refused, "tablespaces lakeshift_space do not exist");
    assert_fails_with(&refused, "--no-tablespaces");
    assert_eq!(target.value(schemas).await, "0", "nothing was applied");
    let copied = copy(&["--no-owner", "--no-tablespaces"]);
    assert_ok(&copied, "schema copy --no-owner --no-tablespaces");
    let in_tablespaces = "SELECT count(*) FROM pg_class WHERE reltablespace <> 0
        AND relnamespace::regnamespace::text IN ('sales', 'catalog', 'audit')";
    assert_eq!(target.value(in_tablespaces).await, "0");
    let warnings = stderr(&copied);
    for left_out in [
        "left out grant on sales.orders",
        "left out policy orders_by_region on sales.orders",
        "left out default privileges of lakeshift_clerk on TABLES",
    ] {
        assert!(warnings.contains(left_out), "{left_out}: {warnings}");
    }
    assert_eq!(target.value(schemas).await, "3");
    // Owned by whoever applied it; the policy for PUBLIC kept, those of missing roles not.
    assert_eq!(
        target
            .value("SELECT tableowner FROM pg_tables WHERE tablename = 'login_events'")
            .await,
        server.user
    );
    assert_eq!(
        target
            .value("SELECT string_agg(policyname, ',' ORDER BY policyname) FROM pg_policies")
            .await,
        "products_visible"
    );
    assert_eq!(
        target
            .value(
                "SELECT relforcerowsecurity FROM pg_class WHERE oid = 'catalog.products'::regclass"
            )
            .await,
        "true"
    );

    // A whole backup names its roles too, before its restore writes anything.
    let dir = tempfile::tempdir().unwrap();
    let backup = server.lakeshift(&[
        "backup",
        "--source",
        source.url.expose(),
        "--to",
        path_str(dir.path()),
    ]);
    assert_ok(&backup, "backup");
    let restored = server.database().await;
    let restore = |extra: &[&str]| {
        let target = server.url(&restored.name);
        let mut args = vec![
            "restore",
            "--target",
            &target,
            "--from",
            path_str(dir.path()),
        ];
        args.extend(extra);
        server.lakeshift(&args)
    };
    assert_fails_with(
        &restore(&[]),
        "roles lakeshift_clerk, lakeshift_reader, postgres do not exist",
    );
    assert_eq!(restored.value(schemas).await, "0");
    // As pg_restore -O: the whole schema and every row, what names a missing role left out.
    assert_fails_with(
        &restore(&["--no-owner"]),
        "tablespaces lakeshift_space do not exist",
    );
    assert_eq!(restored.value(schemas).await, "0");
    let restore = restore(&["--no-owner", "--no-tablespaces"]);
    assert_ok(&restore, "restore --no-owner --no-tablespaces");
    assert_eq!(restored.value(in_tablespaces).await, "0");
    let warnings = stderr(&restore);
    assert!(
        warnings.contains("left out policy orders_by_region on sales.orders"),
        "{warnings}"
    );
    assert_eq!(restored.value(schemas).await, "3");
    assert_eq!(
        restored.value("SELECT count(*) FROM sales.orders").await,
        "6000"
    );
    assert_eq!(
        restored
            .value("SELECT string_agg(policyname, ',' ORDER BY policyname) FROM pg_policies")
            .await,
        "products_visible"
    );
}
