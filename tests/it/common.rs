//! Test helpers: a fresh database per test, the CLI binary, and the shared HR data.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use lakeshift::postgres::DbUrl;
use tokio_postgres::Client;

/// The server the tests use.
pub fn admin_url() -> DbUrl {
    DbUrl::from_env().expect("DATABASE_URL must be a valid postgres:// URL")
}

/// A database that exists for one test and is dropped afterwards.
pub struct TestDb {
    pub url: DbUrl,
    name: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "lakeshift_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = admin_url();
        let client = admin
            .connect()
            .await
            .unwrap_or_else(|e| panic!("tests need a reachable Postgres (set DATABASE_URL): {e}"));
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client
                .batch_execute(&sql)
                .await
                .expect("create the test database");
        }
        TestDb {
            url: admin
                .with_database(&name)
                .expect("a URL with another database"),
            name,
        }
    }

    pub async fn client(&self) -> Client {
        self.url
            .connect()
            .await
            .expect("connect to the test database")
    }

    pub async fn execute(&self, sql: &str) {
        self.client()
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// The first column of the first row, as text.
    pub async fn value(&self, sql: &str) -> String {
        let row = self
            .client()
            .await
            .query_one(&format!("SELECT ({sql})::text"), &[])
            .await;
        row.unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get::<_, Option<String>>(0)
            .unwrap_or_default()
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.value(&format!("SELECT count(*) FROM {table}"))
            .await
            .parse()
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(client) = admin_url().connect().await {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// The `lakeshift` binary with DATABASE_URL pointed at `url`.
pub fn lakeshift(url: &DbUrl, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(args)
        .env("DATABASE_URL", url.expose())
        .env("NO_COLOR", "1")
        .output()
        .expect("run the lakeshift binary")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The real historical HR files, shipped in ../shared (not in this repository).
pub fn hr_data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/hr_challenge");
    assert!(
        dir.join("hired_employees.csv").exists(),
        "missing {}: tests need ../shared beside the checkout",
        dir.display()
    );
    dir
}

pub fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The HR schema of the project.
pub async fn hr_schema(db: &TestDb) {
    db.execute(&std::fs::read_to_string(repo_file("pipelines/hr/schema.sql")).unwrap())
        .await;
}
