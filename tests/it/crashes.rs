//! `kill -9` at several moments of an import and of lake syncs, then a re-run: nothing
//! half-written is ever visible, and every row ends up there exactly once (issue 14,
//! finding 14; the REST service's case is in api/process.rs, backups' in backup.rs).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{TestDb, hr_demo, hr_schema, lakeshift, stdout_of};

/// Start `lakeshift args` on `db` and SIGKILL it after `delay`; whether it had already
/// finished (with success) by then.
async fn run_and_kill(db: &TestDb, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(args)
        .env("DATABASE_URL", db.url.expose())
        .env("LAKESHIFT_CONNECT_RETRIES", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(delay).await;
    if let Some(status) = child.try_wait().unwrap() {
        assert!(status.success(), "{args:?} failed before the kill");
        return true;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    false
}

const DELAYS_MS: [u64; 4] = [150, 400, 900, 1600];

#[tokio::test(flavor = "multi_thread")]
async fn an_import_dir_killed_at_any_moment_shows_nothing_and_a_rerun_loads_everything_once() {
    let files = tempfile::tempdir().unwrap();
    lakeshift::demo::generate(files.path(), 300_000, 11).unwrap();
    let reference = TestDb::new().await;
    hr_schema(&reference).await;
    let dir = files.path().to_str().unwrap();
    let args = ["-q", "import", "dir", dir, "--mode", "append"];
    stdout_of(&lakeshift(&reference.url, &args));
    let expected = crate::common::fingerprints(&reference).await;

    let db = TestDb::new().await;
    hr_schema(&db).await;
    let mut kills = 0;
    for delay in DELAYS_MS {
        if run_and_kill(&db, &args, Duration::from_millis(delay)).await {
            break;
        }
        // Nothing, or everything: a kill can land after the commit, before the exit.
        if db.count("departments").await > 0 {
            let seen = crate::common::fingerprints(&db).await;
            assert_eq!(seen, expected, "after a kill at {delay} ms");
            break;
        }
        kills += 1;
        for table in ["jobs", "hired_employees"] {
            assert_eq!(
                db.count(table).await,
                0,
                "{table} after a kill at {delay} ms"
            );
        }
    }
    assert!(
        kills >= 2,
        "the import ended before it could be killed twice"
    );
    stdout_of(&lakeshift(&db.url, &args));
    assert_eq!(crate::common::fingerprints(&db).await, expected);
}

/// `(rows, distinct ids)` of the Delta table `table` under `lake`; `None` before it exists.
fn lake_rows(db: &TestDb, lake: &Path, table: &str) -> Option<(i64, i64)> {
    if !lake.join(table).join("_delta_log").exists() {
        return None;
    }
    let location = format!("{table}={}#delta", lake.join(table).display());
    let sql = format!("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM {table}");
    let out = lakeshift(
        &db.url,
        &["sql", "-e", &sql, "--table", &location, "--format", "json"],
    );
    let rows: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    Some((
        rows[0]["n"].as_i64().unwrap(),
        rows[0]["ids"].as_i64().unwrap(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn lake_syncs_killed_at_any_moment_leave_a_whole_version_and_converge() {
    let db = TestDb::new().await;
    hr_demo(&db, 200_000).await;
    let lake = tempfile::tempdir().unwrap();
    let to = lake.path().to_str().unwrap();
    for (mode, extra) in [
        (
            "incremental",
            vec!["--mode", "append", "--incremental-column", "id"],
        ),
        ("merge", vec!["--mode", "upsert"]),
    ] {
        let mut args = vec![
            "-q",
            "lake",
            "sync",
            "--to",
            to,
            "--tables",
            "hired_employees",
        ];
        args.extend(&extra);
        let before = lake_rows(&db, lake.path(), "hired_employees");
        // More rows at the source for this round: the sync has work to be killed in.
        db.execute(
            "INSERT INTO hired_employees (id, name, datetime, department_id, job_id)
             SELECT max_id + g, 'late ' || g, now(), 1, 1
             FROM (SELECT max(id) AS max_id FROM hired_employees) m, generate_series(1, 150000) g",
        )
        .await;
        let total = db.count("hired_employees").await;
        let mut kills = 0;
        for delay in DELAYS_MS {
            let finished = run_and_kill(&db, &args, Duration::from_millis(delay)).await;
            let seen = lake_rows(&db, lake.path(), "hired_employees");
            if finished {
                break;
            }
            kills += 1;
            // Readable, and either the last whole version or the new whole one.
            assert!(
                seen == before || seen == Some((total, total)),
                "{mode}: {seen:?} after a kill at {delay} ms (before {before:?}, total {total})"
            );
        }
        assert!(
            kills >= 1,
            "{mode}: the sync ended before it could be killed"
        );
        stdout_of(&lakeshift(&db.url, &args));
        assert_eq!(
            lake_rows(&db, lake.path(), "hired_employees"),
            Some((total, total)),
            "{mode}"
        );
    }
}
