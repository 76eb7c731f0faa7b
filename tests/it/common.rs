//! Test helpers: a fresh database per test, the CLI binary, and the shared HR data.

use std::path::{Path, PathBuf};
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
    /// The server's maintenance URL (where the database is dropped from).
    admin: DbUrl,
}

impl TestDb {
    pub async fn new() -> TestDb {
        TestDb::create("").await
    }

    /// A database that sorts text byte-wise, as DataFusion does (`COLLATE "C"`), with its
    /// clock in UTC.
    pub async fn bytewise_utc() -> TestDb {
        let db = TestDb::create("TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'").await;
        db.execute(&format!("ALTER DATABASE {} SET timezone = 'UTC'", db.name))
            .await;
        db
    }

    /// A database on the cluster with `wal_level = logical` (scripts/logical-postgres.sh).
    pub async fn logical() -> TestDb {
        let url = std::env::var("LAKESHIFT_TEST_LOGICAL_PG").unwrap_or_else(|_| {
            panic!(
                "LAKESHIFT_TEST_LOGICAL_PG is not set: run scripts/logical-postgres.sh (scripts/test.sh does)"
            )
        });
        let admin = DbUrl::parse(&url).expect("a postgres:// URL in LAKESHIFT_TEST_LOGICAL_PG");
        TestDb::create_on(admin, "").await
    }

    /// A database on the server `admin` reaches.
    pub async fn on(admin: DbUrl) -> TestDb {
        TestDb::create_on(admin, "").await
    }

    async fn create(options: &str) -> TestDb {
        TestDb::create_on(admin_url(), options).await
    }

    async fn create_on(admin: DbUrl, options: &str) -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "lakeshift_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let client = admin
            .connect()
            .await
            .unwrap_or_else(|e| panic!("tests need a reachable Postgres (set DATABASE_URL): {e}"));
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name} {options}"),
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
            admin,
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
        drop_database(self.admin.clone(), self.name.clone());
    }
}

/// A database holding tests/it/fixtures/partitioned_store.sql: every object kind, rows in
/// partitioned and inherited tables, some relations in [`STORE_TABLESPACE`].
pub async fn partitioned_store() -> TestDb {
    ensure_tablespace(&admin_url(), STORE_TABLESPACE).await;
    let db = TestDb::new().await;
    let sql =
        std::fs::read_to_string(repo_file("tests/it/fixtures/partitioned_store.sql")).unwrap();
    db.execute(&sql).await;
    db
}

/// The tablespace the store fixture keeps some tables and indexes in.
pub const STORE_TABLESPACE: &str = "lakeshift_space";

/// Creates tablespace `name` in `server`'s cluster unless it exists: in place, inside the
/// data directory (`allow_in_place_tablespaces`), so no directory must be prepared.
/// Tablespaces are the cluster's: every test database shares it.
pub async fn ensure_tablespace(server: &DbUrl, name: &str) {
    let client = server
        .connect()
        .await
        .expect("the test server must be reachable");
    client
        .batch_execute("SET allow_in_place_tablespaces = true")
        .await
        .unwrap();
    let created = client
        .batch_execute(&format!("CREATE TABLESPACE {name} LOCATION ''"))
        .await;
    if let Err(e) = created {
        // Another test made it first.
        assert_eq!(
            e.code(),
            Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT),
            "creating tablespace {name}: {e}"
        );
    }
}

/// Drop database `name` through `admin`'s server. For `Drop` impls, which run inside a
/// test's runtime: the work runs on a thread with a runtime of its own.
pub fn drop_database(admin: DbUrl, name: String) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            // A database with subscriptions cannot be dropped: drop them first (slotless,
            // so nothing is asked of their publishers).
            if let Ok(own) = admin.with_database(&name)
                && let Ok(client) = own.connect().await
            {
                let _ = client.batch_execute(DROP_SUBSCRIPTIONS).await;
            }
            if let Ok(client) = admin.connect().await {
                // Nor one with replication slots.
                let _ = client
                    .execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                         WHERE database = $1 AND NOT active",
                        &[&name],
                    )
                    .await;
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        });
    })
    .join();
}

const DROP_SUBSCRIPTIONS: &str = "DO $$ DECLARE s text; BEGIN
    FOR s IN SELECT subname FROM pg_subscription
             WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) LOOP
        EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', s);
        EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', s);
        EXECUTE format('DROP SUBSCRIPTION %I', s);
    END LOOP; END $$";

/// `pg_dump --schema-only` (owners and privileges included) of `schemas` (the whole database when empty), without
/// comments, blank lines and the per-run `\restrict` key.
pub fn normalised_dump(db: &TestDb, schemas: &[&str]) -> String {
    let mut args = vec![];
    for schema in schemas {
        args.extend(["-n", schema]);
    }
    normalised_dump_with(db, &args)
}

/// [`normalised_dump`] with other pg_dump flags (`--no-owner`, ...).
pub fn normalised_dump_with(db: &TestDb, flags: &[&str]) -> String {
    let mut args = vec!["--schema-only", "-d", db.url.expose()];
    args.extend(flags);
    let out = Command::new("pg_dump")
        .args(&args)
        .output()
        .expect("pg_dump must be installed");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("--") && !l.trim().is_empty())
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each table's rows in `db` (its own, not its children's or partitions'), every
/// non-system schema: `schema.table -> count:md5 of the sorted rows as text`.
pub async fn fingerprints(db: &TestDb) -> std::collections::BTreeMap<String, String> {
    let client = db.client().await;
    let tables = client
        .query(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
            &[],
        )
        .await
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for row in tables {
        let table: String = row.get(0);
        let sql = format!(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ONLY {table} t"
        );
        let print: String = client.query_one(&sql, &[]).await.unwrap().get(0);
        out.insert(table, print);
    }
    out
}

/// The `lakeshift` binary with DATABASE_URL pointed at `url`.
pub fn lakeshift(url: &DbUrl, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(args)
        .env("DATABASE_URL", url.expose())
        .env("NO_COLOR", "1")
        // Unreachable servers in the tests fail at once (connections.rs tests the retries).
        .env("LAKESHIFT_CONNECT_RETRIES", "0")
        .output()
        .expect("run the lakeshift binary")
}

/// The S3-compatible test server scripts/s3-server.sh started (scripts/test.sh does).
pub fn s3_endpoint() -> String {
    std::env::var("LAKESHIFT_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "LAKESHIFT_TEST_S3_ENDPOINT is not set: run scripts/s3-server.sh (scripts/test.sh does)"
        )
    })
}

/// A fresh prefix in the test bucket, one per test database.
pub fn s3_prefix(db: &TestDb) -> String {
    format!(
        "s3://lakeshift-test/run-{}-{}",
        std::process::id(),
        db.url.database()
    )
}

/// `lakeshift ARGS --s3-endpoint E` against the test server, with its credentials.
pub fn lakeshift_s3(url: &DbUrl, args: &[&str]) -> Output {
    let mut command = lakeshift_on_s3(url, args);
    command.args(["--s3-endpoint", &s3_endpoint()]);
    command.output().expect("run the lakeshift binary")
}

/// `lakeshift ARGS` with the test server as the `AWS_*` variables' S3 (as the lake
/// commands take it), not yet run.
pub fn lakeshift_on_s3(url: &DbUrl, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lakeshift"));
    command
        .args(args)
        .env("DATABASE_URL", url.expose())
        .env("NO_COLOR", "1")
        .env("LAKESHIFT_CONNECT_RETRIES", "0")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", s3_endpoint())
        .env("AWS_ALLOW_HTTP", "true");
    command
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

/// A table with a column of every kind in the type table (and some the server casts).
pub const EVERY_TYPE: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN pos AS int4 CHECK (VALUE > 0);
    CREATE TABLE everything (
        id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, f4 real, f8 float8, n numeric(30,4),
        nu numeric, n38 numeric(38,12), t text, vc varchar(5), c char(3), by bytea, d date, tm time,
        ts timestamp, tz timestamptz, u uuid, j json, jb jsonb, ip inet, iv interval, m mood,
        arr int4[], tarr text[], p pos, money_col money,
        g int8 GENERATED ALWAYS AS (id * 2) STORED
    );";

/// Edge values of every column: NULLs, empty strings, NaN and infinities, 30-digit and
/// unconstrained numerics, timestamps before 1970, across DST and in 9999, several offsets,
/// unicode, bytea with zero bytes, empty arrays and arrays with NULLs, nested json.
pub const EVERY_TYPE_ROWS: &str = "
    INSERT INTO everything (id, b, i2, i4, f4, f8, n, nu, n38, t, vc, c, by, d, tm, ts, tz, u, j, jb, ip, iv, m, arr, tarr, p, money_col) VALUES
    (1, true, -32768, 2147483647, 'NaN', '-Infinity', 12345678901234567890123456.1235,
     '3.14159265358979323846264338327950288419716939937510', 12345678901234567890.123456789012, 'a,b\"c', 'abcde', 'ab',
     '\\x00ff00', '1969-07-20', '23:59:59.999999', '1900-01-01 00:00:00', '2021-06-01 12:00:00+02',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"b\": 1,  \"a\": [1, {\"c\": null}]}', '{\"k\": \"v\"}',
     '192.168.0.1/24', '1 year 2 mons 3 days 04:05:06.789', 'happy', '{1,NULL,3}', '{\"x y\",NULL,\"\"}', 7, 12.34),
    (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (3, false, 0, 0, 'Infinity', 5e-324, -0.0001, 'NaN', -0.000000000001, '', '', '', '', '9999-12-31', '00:00:00',
     '9999-12-31 23:59:59.999999', '1960-01-01 00:00:00-05', '00000000-0000-0000-0000-000000000000', '[]', 'null',
     '::1', '-1 mons', 'sad', '{}', '{}', 1, -1),
    (4, true, 1, 1, 1.5, 0.1, 1, 1e-20, 1, 'üñî ✓ 😀', 'ü', 'x', '\\x', '2000-02-29', '12:00:00', '1970-01-01 00:00:00',
     '2016-03-27 01:30:00+01', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\"s\"', '[1, {\"a\": {\"b\": [true]}}]',
     '10.0.0.0/8', '0', 'happy', '{-1}', '{NULL}', 2147483647, 0)";

/// A digest of a table's whole content (its `id` orders the rows).
pub fn digest(table: &str) -> String {
    format!("SELECT md5(string_agg(x::text, '|' ORDER BY id)) FROM {table} x")
}

/// The HR schema loaded with `rows` generated employees (all 12 departments hire).
pub async fn hr_demo(db: &TestDb, rows: u64) {
    hr_schema(db).await;
    let dir = tempfile::tempdir().unwrap();
    lakeshift::demo::generate(dir.path(), rows, 7).unwrap();
    lakeshift::import::DirImport::new(db.url.clone(), dir.path(), Default::default())
        .run()
        .await
        .unwrap();
}

/// The output of a `lakeshift` run that must succeed.
pub fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "lakeshift failed: {}",
        stderr(output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The one-line error of a `lakeshift` run that must fail.
pub fn error_of(output: &Output) -> String {
    assert!(!output.status.success(), "lakeshift should have failed");
    let text = stderr(output);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "one error line expected: {text}");
    lines[0].to_string()
}

/// Every file under `dir`, at any depth (none when it does not exist).
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(all_files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Every record of a CSV file written by lakeshift (a reject log), header included, as
/// fields, read with lakeshift's own splitter.
pub fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    use lakeshift::formats::csv::split::{Framing, RecordReader, split_fields};
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut reader = RecordReader::new(text.as_bytes(), Framing::default());
    let (mut scratch, mut spans, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(record) = reader.next_record().unwrap() {
        split_fields(record.raw, b',', b'"', &mut scratch, &mut spans).unwrap();
        rows.push(
            spans
                .iter()
                .map(|s| String::from_utf8_lossy(&scratch[s.range.clone()]).into_owned())
                .collect(),
        );
    }
    rows
}
