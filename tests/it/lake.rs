//! The Delta mirror: every type survives a sync, the modes do what they say, incremental
//! syncs are exactly-once, schemas evolve or refuse clearly, and the upkeep commands work.

use std::path::Path;

use serde_json::Value;

use crate::common::{EVERY_TYPE, EVERY_TYPE_ROWS, TestDb, error_of, hr_demo, lakeshift, stdout_of};

fn sync(db: &TestDb, lake: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["-q", "lake", "sync", "--to", lake.to_str().unwrap()];
    args.extend_from_slice(extra);
    lakeshift(&db.url, &args)
}

/// The rows of `sql` over the Delta table `table` under `lake`, as JSON.
fn query(db: &TestDb, lake: &Path, table: &str, sql: &str) -> Vec<Value> {
    let location = format!("{table}={}#delta", lake.join(table).display());
    let out = lakeshift(
        &db.url,
        &["sql", "-e", sql, "--table", &location, "--format", "json"],
    );
    serde_json::from_str::<Value>(&stdout_of(&out))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn count(db: &TestDb, lake: &Path, table: &str) -> i64 {
    let rows = query(
        db,
        lake,
        table,
        &format!("SELECT count(*) AS n FROM {table}"),
    );
    rows[0]["n"].as_i64().unwrap()
}

fn history(db: &TestDb, table: &Path) -> Vec<Value> {
    let out = lakeshift(
        &db.url,
        &["lake", "history", table.to_str().unwrap(), "--json"],
    );
    serde_json::from_str::<Value>(&stdout_of(&out))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_syncs_and_reads_back_with_its_meaning() {
    let db = TestDb::bytewise_utc().await;
    db.execute(&format!("{EVERY_TYPE} {EVERY_TYPE_ROWS}")).await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&sync(&db, lake.path(), &[]));
    assert_eq!(count(&db, lake.path(), "everything"), 4);
    let sql = "SELECT id, tm, u, CAST(tz AS VARCHAR) AS tz, CAST(ts AS VARCHAR) AS ts, CAST(n AS VARCHAR) AS n, t, arr, m, iv FROM everything ORDER BY id";
    let rows = query(&db, lake.path(), "everything", sql);
    assert_eq!(rows[0]["tm"], "23:59:59.999999");
    assert_eq!(rows[0]["u"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(
        rows[0]["tz"], "2021-06-01T10:00:00Z",
        "zoned times read in UTC"
    );
    assert_eq!(rows[0]["ts"], "1900-01-01T00:00:00");
    assert_eq!(rows[0]["n"], "12345678901234567890123456.1235");
    assert_eq!(rows[0]["arr"], serde_json::json!([1, null, 3]));
    assert_eq!(rows[0]["m"], "happy");
    assert_eq!(rows[0]["iv"], "1 year 2 mons 3 days 04:05:06.789");
    assert!(rows[1]["tm"].is_null() && rows[1]["u"].is_null());
    assert_eq!(rows[3]["t"], "üñî ✓ 😀");
    // Naive timestamps need Delta's timestampNtz feature, declared in the first commit.
    let log = std::fs::read_to_string(
        lake.path()
            .join("everything/_delta_log/00000000000000000000.json"),
    )
    .unwrap();
    assert!(
        log.contains("\"writerFeatures\":[\"timestampNtz\"]"),
        "{log}"
    );
    assert!(log.contains("lakeshift.pg_type") && log.contains("time without time zone"));
}

#[tokio::test(flavor = "multi_thread")]
async fn overwrite_append_and_merge_do_what_they_say() {
    let db = TestDb::new().await;
    hr_demo(&db, 2000).await;
    let lake = tempfile::tempdir().unwrap();
    let table = lake.path().join("hired_employees");
    stdout_of(&sync(&db, lake.path(), &[]));
    stdout_of(&sync(&db, lake.path(), &["--tables", "hired_employees"]));
    assert_eq!(
        count(&db, lake.path(), "hired_employees"),
        2000,
        "overwrite replaces"
    );
    stdout_of(&sync(
        &db,
        lake.path(),
        &["--tables", "hired_employees", "--mode", "append"],
    ));
    assert_eq!(
        count(&db, lake.path(), "hired_employees"),
        4000,
        "append adds"
    );
    // Back to one copy, then merge changes on the primary key.
    stdout_of(&sync(&db, lake.path(), &["--tables", "hired_employees"]));
    db.execute("UPDATE hired_employees SET name = 'Renamed' WHERE id <= 10; INSERT INTO hired_employees (id, name) VALUES (5000, 'New')").await;
    stdout_of(&sync(
        &db,
        lake.path(),
        &["--tables", "hired_employees", "--mode", "merge"],
    ));
    assert_eq!(count(&db, lake.path(), "hired_employees"), 2001);
    let renamed = query(
        &db,
        lake.path(),
        "hired_employees",
        "SELECT count(*) AS n FROM hired_employees WHERE name = 'Renamed' OR name = 'New'",
    );
    assert_eq!(renamed[0]["n"], 11);
    let versions = history(&db, &table);
    let operations: Vec<&str> = versions
        .iter()
        .map(|v| v["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["MERGE", "WRITE", "WRITE", "WRITE", "WRITE"]);
    assert_eq!(versions[0]["version"], 4);
    assert_eq!(versions[2]["rows"], 2000);
    // An older version stays readable.
    let at_two = format!("h={}#delta@2", table.display());
    let out = lakeshift(
        &db.url,
        &[
            "sql",
            "-e",
            "SELECT count(*) AS n FROM h",
            "--table",
            &at_two,
            "--format",
            "csv",
        ],
    );
    assert_eq!(stdout_of(&out), "n\n4000\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_sync_writes_each_row_once() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE events (id int8 PRIMARY KEY, at timestamptz NOT NULL, what text);
                INSERT INTO events SELECT g, '2021-01-01 00:00:00+00'::timestamptz + g * interval '1 second', 'e' || g FROM generate_series(1, 500) g;").await;
    let lake = tempfile::tempdir().unwrap();
    let by_time = ["--mode", "append", "--incremental-column", "at"];
    stdout_of(&sync(&db, lake.path(), &by_time));
    assert_eq!(count(&db, lake.path(), "events"), 500);
    // Nothing new: nothing written, no new version.
    stdout_of(&sync(&db, lake.path(), &by_time));
    assert_eq!(history(&db, &lake.path().join("events")).len(), 1);
    db.execute("INSERT INTO events SELECT g, '2021-01-01 00:00:00+00'::timestamptz + g * interval '1 second', 'e' || g FROM generate_series(501, 800) g").await;
    stdout_of(&sync(&db, lake.path(), &by_time));
    stdout_of(&sync(&db, lake.path(), &by_time));
    let rows = query(
        &db,
        lake.path(),
        "events",
        "SELECT count(*) AS n, count(DISTINCT id) AS ids, max(id) AS top FROM events",
    );
    assert_eq!(
        (
            rows[0]["n"].as_i64(),
            rows[0]["ids"].as_i64(),
            rows[0]["top"].as_i64()
        ),
        (Some(800), Some(800), Some(800))
    );
    // The watermark travels in the commit that wrote the rows (a Delta transaction).
    let log = std::fs::read_to_string(
        lake.path()
            .join("events/_delta_log/00000000000000000001.json"),
    )
    .unwrap();
    let micros = 1_609_459_200_000_000i64 + 800 * 1_000_000;
    assert!(
        log.contains(&format!(
            "\"appId\":\"lakeshift-sync:public.events:at\",\"version\":{micros}"
        )),
        "{log}"
    );
    // Merge mode re-reads only what changed since the watermark, by integer key.
    let out = sync(
        &db,
        lake.path(),
        &["--mode", "overwrite", "--incremental-column", "id"],
    );
    assert!(error_of(&out).contains("--incremental-column: needs mode append or upsert"));
    let out = sync(
        &db,
        lake.path(),
        &["--mode", "append", "--incremental-column", "what"],
    );
    assert!(error_of(&out).contains(
        "public.events is text; an incremental column must be an integer, date or timestamp"
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn columns_added_and_dropped_at_the_source_follow_and_a_changed_type_is_refused() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE t (id int4 PRIMARY KEY, a text); INSERT INTO t VALUES (1, 'x')")
        .await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&sync(&db, lake.path(), &[]));
    db.execute("ALTER TABLE t ADD COLUMN b int8; INSERT INTO t VALUES (2, 'y', 42)")
        .await;
    let out = sync(&db, lake.path(), &["--mode", "append"]);
    assert!(
        crate::common::stderr(&out).contains("added columns b"),
        "{}",
        crate::common::stderr(&out)
    );
    let rows = query(&db, lake.path(), "t", "SELECT id, b FROM t ORDER BY id, b");
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["b"].is_null());
    assert_eq!(rows[2]["b"], 42);
    // A column gone from the source: null in appended rows, dropped by an overwrite.
    db.execute("ALTER TABLE t DROP COLUMN b; INSERT INTO t VALUES (3, 'z')")
        .await;
    let out = sync(&db, lake.path(), &["--mode", "append"]);
    assert!(crate::common::stderr(&out).contains("columns gone from the source: b"));
    let rows = query(
        &db,
        lake.path(),
        "t",
        "SELECT count(*) AS n, count(b) AS b FROM t",
    );
    assert_eq!(
        (rows[0]["n"].as_i64(), rows[0]["b"].as_i64()),
        (Some(6), Some(1))
    );
    stdout_of(&sync(&db, lake.path(), &[]));
    let rows = query(&db, lake.path(), "t", "SELECT * FROM t ORDER BY id");
    let expected: Vec<Value> = (1..=3)
        .zip(["x", "y", "z"])
        .map(|(id, a)| serde_json::json!({"id": id, "a": a}))
        .collect();
    assert_eq!(rows, expected);
    db.execute("ALTER TABLE t ALTER COLUMN a TYPE int4 USING length(a)")
        .await;
    let err = error_of(&sync(&db, lake.path(), &["--mode", "append"]));
    assert!(
        err.contains(
            "Delta table public.t: column a arrives as Int32, the Delta table holds Utf8 \
             (its source type changed)"
        ),
        "{err}"
    );
    // Same type, but a value its Delta type cannot carry: the column now travels as text.
    db.execute(
        "DROP TABLE t; CREATE TABLE m (id int PRIMARY KEY, n numeric(6,2));
         INSERT INTO m VALUES (1, 1.5);",
    )
    .await;
    stdout_of(&sync(&db, lake.path(), &[]));
    db.execute("INSERT INTO m VALUES (2, 'NaN')").await;
    let err = error_of(&sync(&db, lake.path(), &["--mode", "append"]));
    assert!(
        err.contains("column n arrives as Utf8, the Delta table holds Decimal128(6, 2)")
            && err.contains("values (NaN, infinities)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_syncs_fail_clearly_and_write_nothing() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE keyless (a int4); INSERT INTO keyless VALUES (1)")
        .await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&sync(&db, lake.path(), &[]));
    let err = error_of(&sync(&db, lake.path(), &["--mode", "merge"]));
    assert!(
        err.contains("--key: public.keyless has no primary key; name the columns to match on"),
        "{err}"
    );
    stdout_of(&sync(&db, lake.path(), &["--mode", "merge", "--key", "a"]));
    db.execute("DROP TABLE keyless").await;
    let err = error_of(&sync(&db, lake.path(), &["--tables", "keyless"]));
    assert!(err.contains("table keyless does not exist in"), "{err}");
    assert_eq!(
        history(&db, &lake.path().join("keyless")).len(),
        2,
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn optimize_compacts_vacuum_deletes_and_history_lists() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE t (id int4); INSERT INTO t SELECT generate_series(1, 100)")
        .await;
    let lake = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        stdout_of(&sync(&db, lake.path(), &["--mode", "append"]));
    }
    let table = lake.path().join("t");
    let parquet = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "parquet")
            })
            .count()
    };
    assert_eq!(parquet(&table), 3);
    let out = lakeshift(&db.url, &["lake", "optimize", table.to_str().unwrap()]);
    assert!(
        crate::common::stderr(&out).contains("3 files compacted into 1 (version 3)"),
        "{}",
        crate::common::stderr(&out)
    );
    assert_eq!(count(&db, lake.path(), "t"), 300);
    assert_eq!(history(&db, &table)[0]["operation"], "OPTIMIZE");
    let path = table.to_str().unwrap();
    let err = error_of(&lakeshift(
        &db.url,
        &["lake", "vacuum", path, "--retention-hours", "0"],
    ));
    assert!(err.contains("retention"), "{err}");
    let dry = stdout_of(&lakeshift(
        &db.url,
        &[
            "lake",
            "vacuum",
            path,
            "--retention-hours",
            "0",
            "--force",
            "--dry-run",
        ],
    ));
    assert_eq!(dry.lines().count(), 3);
    assert_eq!(parquet(&table), 4, "a dry run deletes nothing");
    stdout_of(&lakeshift(
        &db.url,
        &["lake", "vacuum", path, "--retention-hours", "0", "--force"],
    ));
    assert_eq!(parquet(&table), 1);
    assert_eq!(count(&db, lake.path(), "t"), 300);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_that_is_not_a_delta_table_is_named() {
    let db = TestDb::new().await;
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let err = error_of(&lakeshift(&db.url, &["lake", "history", path]));
    assert!(
        err.contains(&format!("Delta table {path}: not a Delta table")),
        "{err}"
    );
    let missing = format!("{path}/nope");
    let err = error_of(&lakeshift(&db.url, &["lake", "optimize", &missing]));
    assert!(
        err.contains("no such directory, so not a Delta table"),
        "{err}"
    );
    let table = format!("t={path}#delta");
    let err = error_of(&lakeshift(
        &db.url,
        &["sql", "-e", "SELECT 1", "--table", &table],
    ));
    assert!(err.contains("not a Delta table"), "{err}");
}
