//! Change data capture on the cluster with `wal_level = logical`
//! (scripts/logical-postgres.sh): the lake equals the source after every kind of change,
//! a stream killed at random moments converges without duplicates, schema changes are
//! taken or refused clearly, and the slot's upkeep commands work.
//!
//! "Equals" is checked against a fresh `lake sync` of the same tables (tested exact
//! elsewhere): both Delta tables have the same schema, so a set difference both ways over
//! every column compares every value.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{TestDb, error_of, lakeshift, lakeshift_on_s3, s3_prefix, stdout_of};

const TABLES: &str = "
    CREATE TABLE items (
        id int8 PRIMARY KEY, name text NOT NULL, body text, qty int4, price numeric(12,2),
        tags text[], seen timestamptz DEFAULT now(), ok bool
    );
    CREATE TABLE \"Odd \"\"name\" (k text PRIMARY KEY, v int4);
    ALTER TABLE \"Odd \"\"name\" REPLICA IDENTITY FULL;
    CREATE TABLE events (id int8, day date, what text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
    CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    INSERT INTO items (id, name, body, qty, price, tags, ok)
        SELECT g, 'item ' || g, CASE WHEN g % 10 = 0 THEN big(g) END, g % 7, g * 1.25,
               ARRAY['t' || g, NULL], g % 2 = 0
        FROM generate_series(1, 500) g;
    INSERT INTO \"Odd \"\"name\" VALUES ('a''b', 1), ('c,d', 2);
    INSERT INTO events SELECT g, DATE '2024-06-01' + g, 'e' || g FROM generate_series(1, 300) g;";

/// A value too big and too random to stay in the row: stored out of line (TOASTed).
const BIG: &str = "CREATE FUNCTION big(seed int8) RETURNS text LANGUAGE sql AS
    $$ SELECT string_agg(md5(seed::text || ':' || i), '') FROM generate_series(1, 400) i $$;";

fn cdc(db: &TestDb, lake: &Path, extra: &[&str]) -> std::process::Output {
    cdc_into(db, lake.to_str().unwrap(), extra)
}

/// `cdc` into a lake at `to`, a directory or an `s3://` URL on the test server.
fn cdc_into(db: &TestDb, to: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["-q", "cdc", "--to", to];
    args.extend_from_slice(extra);
    lakeshift_on_s3(&db.url, &args).output().unwrap()
}

/// Rows of `sql` over Delta tables `name=location` pairs (paths or URLs), as JSON.
fn query(db: &TestDb, tables: &[(&str, &Path)], sql: &str) -> Vec<Value> {
    let mut args = vec![
        "sql".to_string(),
        "-e".into(),
        sql.into(),
        "--format".into(),
        "json".into(),
    ];
    for (name, location) in tables {
        args.push("--table".into());
        args.push(format!("{name}={}#delta", location.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lakeshift_on_s3(&db.url, &args).output().unwrap();
    serde_json::from_str::<Value>(&stdout_of(&out))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Assert the streamed lake (a directory, or an `s3://` URL as a path) holds exactly what a
/// fresh sync of the source holds, table by table (folder names as the lake writes them).
fn assert_lake_equals_source(db: &TestDb, streamed: &Path, folders: &[&str]) {
    let fresh = tempfile::tempdir().unwrap();
    stdout_of(&lakeshift(
        &db.url,
        &["-q", "lake", "sync", "--to", fresh.path().to_str().unwrap()],
    ));
    for folder in folders {
        let (a, b) = (streamed.join(folder), fresh.path().join(folder));
        let rows = query(
            db,
            &[("a", &a), ("b", &b)],
            "SELECT (SELECT count(*) FROM a) AS a, (SELECT count(*) FROM b) AS b,
                    (SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)) AS only_a,
                    (SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)) AS only_b",
        );
        let r = &rows[0];
        assert_eq!(
            (&r["a"], &r["only_a"], &r["only_b"]),
            (&r["b"], &Value::from(0), &Value::from(0)),
            "{folder}: the streamed table differs from the source: {r}"
        );
    }
}

/// The lake folders of the tables above (names outside `[A-Za-z0-9_-]` are escaped).
const FOLDERS: &[&str] = &["items", "Odd~20~22name", "events"];

/// `cdc status` as JSON.
fn status(db: &TestDb, lake: &Path) -> Value {
    let out = lakeshift(
        &db.url,
        &["cdc", "status", "--to", lake.to_str().unwrap(), "--json"],
    );
    serde_json::from_str(&stdout_of(&out)).unwrap()
}

/// The server's WAL position now.
async fn wal_now(db: &TestDb) -> String {
    db.value("SELECT pg_current_wal_lsn()").await
}

/// Whether the slot's confirmed position is at or past `lsn` (other tests write WAL on the
/// same server, so "no lag" means "caught up with what was there before").
async fn slot_reached(db: &TestDb, lsn: &str) -> bool {
    db.value(&format!(
        "SELECT confirmed_flush_lsn >= '{lsn}'::pg_lsn FROM pg_replication_slots WHERE database = current_database()"
    ))
    .await
        == "true"
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_change_reaches_the_lake_exactly() {
    let db = TestDb::logical().await;
    db.execute(&format!("{BIG} {TABLES}")).await;
    let lake = tempfile::tempdir().unwrap();
    let first = cdc(&db, lake.path(), &["--until", "caught-up"]);
    stdout_of(&first);
    assert_lake_equals_source(&db, lake.path(), FOLDERS);

    db.execute(
        "INSERT INTO items (id, name, body) SELECT g, 'new ' || g, big(g) FROM generate_series(501, 700) g;
         -- Leaves the TOASTed body out of the message: the lake keeps its value.
         UPDATE items SET qty = qty + 100 WHERE id % 10 = 0;
         UPDATE items SET body = 'short now' WHERE id = 20;
         DELETE FROM items WHERE id BETWEEN 100 AND 150;
         UPDATE items SET id = id + 10000 WHERE id BETWEEN 1 AND 5;
         BEGIN;
           INSERT INTO items (id, name) VALUES (9000, 'inserted then updated then deleted');
           UPDATE items SET name = 'changed' WHERE id = 9000;
           DELETE FROM items WHERE id = 9000;
           INSERT INTO items (id, name, qty) VALUES (9001, 'kept', 1);
           UPDATE items SET qty = 2 WHERE id = 9001;
           UPDATE \"Odd \"\"name\" SET v = v + 1;
           INSERT INTO events VALUES (1000, '2025-03-01', 'next year');
           UPDATE events SET day = '2025-02-01' WHERE id = 1;
         COMMIT;
         BEGIN; TRUNCATE \"Odd \"\"name\"; INSERT INTO \"Odd \"\"name\" VALUES ('after', 9); COMMIT;
         -- One transaction larger than a batch: applied in parts.
         UPDATE items SET price = price + 1 WHERE id > 200;",
    )
    .await;
    let before = wal_now(&db).await;
    let second = cdc(
        &db,
        lake.path(),
        &["--until", "caught-up", "--max-batch-rows", "100"],
    );
    stdout_of(&second);
    assert_lake_equals_source(&db, lake.path(), FOLDERS);
    assert!(
        slot_reached(&db, &before).await,
        "the slot moved on once the lake held the changes"
    );
    let state = status(&db, lake.path());
    assert_eq!(state["slot"]["wal_status"], "reserved");
    assert_eq!(
        state["slot"]["lag_seconds"], 0.0,
        "nothing left to apply: {state}"
    );
    assert_eq!(state["tables"].as_array().unwrap().len(), 3);
    assert!(state["tables"][0]["position"].is_string(), "{state}");

    // (Flushed at once: decoding reads only WAL on disk, and this server commits
    // asynchronously.)
    db.execute("SET synchronous_commit = on; UPDATE items SET qty = 0 WHERE id = 9001")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pending = status(&db, lake.path());
    assert!(
        pending["slot"]["lag_seconds"].as_f64().unwrap() >= 0.2,
        "{pending}"
    );
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));

    // Nothing new: nothing applied, the lake unchanged.
    let again = cdc(&db, lake.path(), &["--until", "caught-up"]);
    let said = String::from_utf8_lossy(&again.stderr).into_owned();
    assert!(again.status.success(), "{said}");
    let versions = std::fs::read_dir(lake.path().join("items/_delta_log"))
        .unwrap()
        .count();
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    assert_eq!(
        std::fs::read_dir(lake.path().join("items/_delta_log"))
            .unwrap()
            .count(),
        versions,
        "an idle run commits nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_killed_at_random_moments_converges_without_duplicates() {
    let db = TestDb::logical().await;
    db.execute(&format!("{BIG} {TABLES}")).await;
    crate::common::hr_schema(&db).await;
    db.execute(
        "INSERT INTO departments SELECT g, 'Department ' || g FROM generate_series(1, 12) g;
         INSERT INTO jobs SELECT g, 'Job ' || g FROM generate_series(1, 20) g;",
    )
    .await;
    // The REST service inserts employees while SQL updates and deletes them.
    let api = crate::api::Api::start_with(db, crate::api::config()).await;
    let db = &api.db;
    let lake = tempfile::tempdir().unwrap();
    let tables = "items,events,\"Odd \"\"name\",hired_employees,departments,jobs";
    stdout_of(&cdc(
        db,
        lake.path(),
        &["--until", "caught-up", "--tables", tables],
    ));

    // A mixed load: inserts, updates (some leaving TOASTed text as it is), deletes.
    let token = api.token().await;
    let load = {
        let url = db.url.clone();
        let (base_url, http) = (api.base.clone(), api.http.clone());
        tokio::spawn(async move {
            let client = url.connect().await.unwrap();
            for round in 0..60i64 {
                let batch = crate::api::employees(&format!("round-{round}"), 20);
                let response = http
                    .post(format!("{base_url}/api/v1/hired_employees"))
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&serde_json::json!({"records": batch})).unwrap())
                    .send()
                    .await
                    .unwrap();
                assert!(
                    response.status().is_success(),
                    "{:?}",
                    response.text().await
                );
                client
                    .batch_execute(&format!(
                        "UPDATE hired_employees SET job_id = 1 + (id + {round}) % 20 WHERE id % 3 = {m3};
                         DELETE FROM hired_employees WHERE id % 17 = {m3} AND name LIKE 'round-{prev}-%';",
                        m3 = round % 3,
                        prev = round - 1
                    ))
                    .await
                    .unwrap();
                let base = 1000 + round * 50;
                client
                    .batch_execute(&format!(
                        "INSERT INTO items (id, name, body, qty) SELECT g, 'load ' || g,
                             CASE WHEN g % 3 = 0 THEN big(g) END, 0
                         FROM generate_series({base}, {base} + 49) g;
                         UPDATE items SET qty = qty + 1 WHERE id % 7 = {m};
                         UPDATE items SET name = name || '+' WHERE id BETWEEN {base} - 40 AND {base} - 20;
                         DELETE FROM items WHERE id % 11 = {m} AND id < {base} - 100;
                         INSERT INTO events VALUES ({base}, DATE '2024-01-01' + {round}, 'load');",
                        m = round % 7
                    ))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let lake_path = lake.path().to_str().unwrap().to_string();
    let mut kills = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    while kills < 6 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lakeshift"))
            .args([
                "-q",
                "cdc",
                "--to",
                &lake_path,
                "--tables",
                tables,
                "--max-lag",
                "0.2",
                "--poll",
                "0.1",
                "--max-batch-rows",
                "150",
            ])
            .env("DATABASE_URL", db.url.expose())
            .env("LAKESHIFT_CONNECT_RETRIES", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(300 + seed % 1200)).await;
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "cdc stopped by itself ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    load.await.unwrap();
    let before = wal_now(db).await;
    stdout_of(&cdc(
        db,
        lake.path(),
        &["--until", "caught-up", "--tables", tables],
    ));
    assert_lake_equals_source(db, lake.path(), FOLDERS);
    assert_lake_equals_source(db, lake.path(), &["hired_employees"]);
    let employees = query(
        db,
        &[("e", &lake.path().join("hired_employees"))],
        "SELECT count(*) AS n FROM e WHERE name LIKE 'round-%'",
    );
    assert!(
        employees[0]["n"].as_i64().unwrap() > 500,
        "the REST inserts reached the lake"
    );
    let dupes = query(
        db,
        &[("items", &lake.path().join("items"))],
        "SELECT count(*) - count(DISTINCT id) AS d FROM items",
    );
    assert_eq!(dupes[0]["d"], 0, "no key twice in the lake");
    assert!(slot_reached(db, &before).await, "the slot caught up");
}

#[tokio::test(flavor = "multi_thread")]
async fn added_and_dropped_columns_are_taken_and_a_type_change_is_refused() {
    let db = TestDb::logical().await;
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, a text, b int4, tags int4[]); INSERT INTO t VALUES (1, 'x', 1, '{1,2}');",
    )
    .await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    db.execute(
        "ALTER TABLE t ADD COLUMN c text; INSERT INTO t VALUES (2, 'y', 2, '{3}', 'new');
         ALTER TABLE t DROP COLUMN a, DROP COLUMN tags; INSERT INTO t VALUES (3, 3, 'three'); UPDATE t SET b = 10 WHERE id = 1;",
    )
    .await;
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    let t = lake.path().join("t");
    let rows = query(
        &db,
        &[("t", &t)],
        "SELECT id, a, b, c, tags FROM t ORDER BY id",
    );
    assert_eq!(
        rows[0],
        serde_json::json!({"id": 1, "a": "x", "b": 10, "c": null, "tags": [1, 2]}),
        "older rows: the new column null, the dropped one kept"
    );
    assert_eq!(
        rows[1],
        serde_json::json!({"id": 2, "a": "y", "b": 2, "c": "new", "tags": [3]})
    );
    assert_eq!(
        rows[2],
        serde_json::json!({"id": 3, "a": null, "b": 3, "c": "three", "tags": null}),
        "the dropped column null in new rows"
    );

    db.execute("INSERT INTO t VALUES (4, 4, 'before'); ALTER TABLE t ALTER COLUMN b TYPE text; INSERT INTO t VALUES (5, 'five', 'after');")
        .await;
    let refused = cdc(&db, lake.path(), &["--until", "caught-up"]);
    let error = error_of(&refused);
    assert!(
        error.contains("public.t")
            && error.contains("column b")
            && error.contains("integer")
            && error.contains("text"),
        "{error}"
    );
    let rows = query(&db, &[("t", &t)], "SELECT id FROM t ORDER BY id");
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(
        ids,
        [1, 2, 3, 4],
        "the change before the type change applied, nothing after it"
    );
}

/// NaN arriving in a column the lake holds as a decimal (the first copy held none) stops the
/// stream with what to do; doing it (the Delta table removed, cdc run again) takes the table
/// again with the column as text, and the stream goes on from there.
#[tokio::test(flavor = "multi_thread")]
async fn a_value_the_lake_column_cannot_carry_stops_the_stream_with_its_remedy() {
    let db = TestDb::logical().await;
    db.execute(
        "CREATE TABLE m (id int PRIMARY KEY, n numeric(6,2)); INSERT INTO m VALUES (1, 1.5);",
    )
    .await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    db.execute("INSERT INTO m VALUES (2, 'NaN');").await;
    let error = error_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    assert!(
        error.contains("public.m: n: NaN cannot be carried by the lake's Decimal128(6, 2)")
            && error.contains("run cdc again"),
        "{error}"
    );
    std::fs::remove_dir_all(lake.path().join("m")).unwrap();
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    db.execute("INSERT INTO m VALUES (3, 'NaN'), (4, 2.25);")
        .await;
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    let m = lake.path().join("m");
    let rows = query(&db, &[("m", &m)], "SELECT id, n FROM m ORDER BY id");
    assert_eq!(
        serde_json::Value::Array(rows),
        serde_json::json!([
            {"id": 1, "n": "1.50"}, {"id": 2, "n": "NaN"}, {"id": 3, "n": "NaN"}, {"id": 4, "n": "2.25"}
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_logical_decoding_is_refused_with_what_to_change() {
    let db = TestDb::new().await; // the default server runs wal_level = replica
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let lake = tempfile::tempdir().unwrap();
    let error = error_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    assert!(error.contains("wal_level = logical"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_without_a_key_is_refused_and_drop_removes_slot_and_publication() {
    let db = TestDb::logical().await;
    db.execute("CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE heap (v int);")
        .await;
    let lake = tempfile::tempdir().unwrap();
    let error = error_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    assert!(error.contains("public.heap has no primary key"), "{error}");
    let slot = format!("s_{}", db.url.database());
    stdout_of(&cdc(
        &db,
        lake.path(),
        &["--until", "caught-up", "--tables", "keyed", "--slot", &slot],
    ));
    let count = format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'");
    assert_eq!(db.value(&count).await, "1");
    let out = lakeshift(&db.url, &["cdc", "drop", "--slot", &slot]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(db.value(&count).await, "0");
    let publications = format!("SELECT count(*) FROM pg_publication WHERE pubname = '{slot}'");
    assert_eq!(db.value(&publications).await, "0");
    let bad = error_of(&cdc(&db, lake.path(), &["--slot", "Bad-Name"]));
    assert!(bad.contains("--slot"), "{bad}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lake_on_s3_takes_the_stream_and_concurrent_writers_lose_nothing() {
    let db = TestDb::logical().await;
    db.execute(&format!("{BIG} {TABLES}")).await;
    let root = s3_prefix(&db);
    stdout_of(&cdc_into(&db, &root, &["--until", "caught-up"]));
    let changes = |round: i64| {
        format!(
            "INSERT INTO items (id, name, body) SELECT g, 'r{round}', big(g) FROM generate_series({a}, {b}) g;
             UPDATE items SET qty = coalesce(qty, 0) + 1 WHERE id % 5 = {m};
             DELETE FROM items WHERE id % 13 = {m} AND id < {a};",
            a = 1000 + round * 40,
            b = 1039 + round * 40,
            m = round % 5
        )
    };
    // A second stream of the same slot is refused while the first runs.
    let scratch = tempfile::tempdir().unwrap();
    let metrics = scratch.path().join("cdc.prom");
    let mut first = lakeshift_on_s3(
        &db.url,
        &[
            "-q",
            "cdc",
            "--to",
            &root,
            "--poll",
            "0.1",
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = cdc_into(&db, &root, &["--until", "caught-up"]);
    assert!(
        error_of(&second).contains("another lakeshift cdc is streaming this slot"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    // Meanwhile `lake sync` merges into the same Delta table: Delta's conditional commit
    // makes one writer win each version; the other retries or fails whole.
    let sync_root = root.clone();
    let url = db.url.clone();
    let syncs = std::thread::spawn(move || {
        (0..4)
            .map(|_| {
                lakeshift_on_s3(
                    &url,
                    &[
                        "-q", "lake", "sync", "--to", &sync_root, "--tables", "items", "--mode",
                        "upsert",
                    ],
                )
                .output()
                .unwrap()
            })
            .collect::<Vec<_>>()
    });
    for round in 0..8 {
        db.execute(&changes(round)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for out in syncs.join().unwrap() {
        if !out.status.success() {
            let error = error_of(&out);
            assert!(
                error.contains("items"),
                "a failed writer says which table: {error}"
            );
        }
    }
    // SIGTERM: the stream stops cleanly after its batch.
    nix_terminate(first.id());
    let status = first.wait().unwrap();
    let mut said = String::new();
    std::io::Read::read_to_string(first.stderr.as_mut().unwrap(), &mut said).unwrap();
    assert!(
        status.success() || said.contains("items"),
        "{status}: {said}"
    );
    stdout_of(&cdc_into(&db, &root, &["--until", "caught-up"]));
    assert_lake_equals_source(&db, Path::new(&root), &["items"]);
}

/// Send SIGTERM to process `pid`.
fn nix_terminate(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pipeline_step_streams_until_caught_up() {
    let db = TestDb::logical().await;
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b');",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let yaml = tmp.path().join("cdc.yaml");
    let lake = tmp.path().join("lake");
    std::fs::write(
        &yaml,
        format!(
            "connections:\n  db: ${{SOURCE_URL}}\nsteps:\n  - {{type: cdc, connection: db, to: {}, until: caught-up}}\n",
            lake.display()
        ),
    )
    .unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_lakeshift"))
            .args(["-q", "run", yaml.to_str().unwrap()])
            .env("SOURCE_URL", db.url.expose())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run();
    db.execute("UPDATE t SET v = 'changed' WHERE id = 2; DELETE FROM t WHERE id = 1;")
        .await;
    run();
    let rows = query(&db, &[("t", &lake.join("t"))], "SELECT id, v FROM t");
    assert_eq!(rows, vec![serde_json::json!({"id": 2, "v": "changed"})]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalidated_slot_is_refused_with_its_recovery() {
    // A cluster of its own: the WAL budget is the server's, and this one invalidates slots.
    let started = Command::new(crate::common::repo_file("scripts/logical-postgres.sh"))
        .env("LAKESHIFT_LOGICAL_PG_NAME", "logical-postgres-small-wal")
        .env("LAKESHIFT_LOGICAL_PG_PORT", "55435")
        .env(
            "LAKESHIFT_LOGICAL_PG_CONF",
            "max_slot_wal_keep_size = 1MB\nwal_keep_size = 0\nmax_wal_size = 32MB\nmin_wal_size = 32MB",
        )
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let server =
        lakeshift::postgres::DbUrl::parse(String::from_utf8_lossy(&started.stdout).trim()).unwrap();
    let db = TestDb::on(server).await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'); CREATE TABLE filler (v text);")
        .await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&cdc(
        &db,
        lake.path(),
        &["--until", "caught-up", "--tables", "t"],
    ));
    // More WAL than the slot may keep, then checkpoints: the server invalidates it.
    for _ in 0..3 {
        db.execute("INSERT INTO filler SELECT repeat(md5(g::text), 40) FROM generate_series(1, 20000) g; SELECT pg_switch_wal(); CHECKPOINT;")
            .await;
    }
    let status = db
        .value("SELECT wal_status FROM pg_replication_slots WHERE database = current_database()")
        .await;
    assert_eq!(
        status, "lost",
        "the test server should have invalidated the slot"
    );
    let error = error_of(&cdc(
        &db,
        lake.path(),
        &["--until", "caught-up", "--tables", "t"],
    ));
    assert!(
        error.contains("invalidated") && error.contains("lakeshift cdc drop"),
        "{error}"
    );
    // The documented recovery: drop, run again (a new initial copy).
    stdout_of(&lakeshift(&db.url, &["-q", "cdc", "drop"]));
    db.execute("INSERT INTO t VALUES (2, 'b')").await;
    stdout_of(&cdc(
        &db,
        lake.path(),
        &["--until", "caught-up", "--tables", "t"],
    ));
    let rows = query(
        &db,
        &[("t", &lake.path().join("t"))],
        "SELECT count(*) AS n FROM t",
    );
    assert_eq!(rows[0]["n"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn until_caught_up_on_a_busy_database_takes_what_was_committed_and_stops() {
    let db = TestDb::logical().await;
    db.execute("CREATE TABLE t (id int8 PRIMARY KEY, v text)")
        .await;
    let lake = tempfile::tempdir().unwrap();
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    let busy = {
        let url = db.url.clone();
        tokio::spawn(async move {
            let client = url.connect().await.unwrap();
            for i in 0..400i64 {
                client
                    .execute("INSERT INTO t VALUES ($1, 'x')", &[&i])
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let committed = db.count("t").await;
    stdout_of(&cdc(&db, lake.path(), &["--until", "caught-up"]));
    assert!(
        !busy.is_finished(),
        "the run ended while the load still ran"
    );
    let rows = query(
        &db,
        &[("t", &lake.path().join("t"))],
        "SELECT count(*) AS n FROM t",
    );
    let got = rows[0]["n"].as_i64().unwrap();
    assert!(
        got >= committed,
        "{got} rows in the lake, {committed} committed before the run"
    );
    busy.await.unwrap();
}
