//! The binary as a user meets it: bad input gets one clear line on stderr and a non-zero exit.

use crate::common::{TestDb, hr_data_dir, hr_schema, lakeshift, stderr};

fn assert_fails_with(output: &std::process::Output, expected: &str) {
    let err = stderr(output);
    assert!(!output.status.success(), "should fail: {err}");
    assert!(err.contains(expected), "expected {expected:?} in {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_one_clear_line_and_a_failure() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let data = hr_data_dir();
    let jobs = data.join("jobs.csv");
    let jobs = jobs.to_str().unwrap();
    assert_fails_with(
        &lakeshift(
            &db.url,
            &["import", "csv", "--table", "jobs", "/no/such.csv"],
        ),
        "/no/such.csv: No such file",
    );
    assert_fails_with(
        &lakeshift(&db.url, &["import", "csv", "--table", "jobz", jobs]),
        "table jobz does not exist",
    );
    assert_fails_with(
        &lakeshift(
            &db.url,
            &[
                "import",
                "csv",
                "--target",
                "postgres://u:hunter2@127.0.0.1:1/x",
                "--table",
                "jobs",
                jobs,
            ],
        ),
        "cannot connect to postgres://u:***@127.0.0.1:1/x",
    );
    let missing_db = db.url.with_database("lakeshift_no_such_db").unwrap();
    assert_fails_with(
        &lakeshift(
            &db.url,
            &[
                "import",
                "csv",
                "--target",
                missing_db.expose(),
                "--table",
                "jobs",
                jobs,
            ],
        ),
        "database \"lakeshift_no_such_db\" does not exist",
    );
    let bad_url = lakeshift(
        &db.url,
        &[
            "import",
            "csv",
            "--target",
            "mysql://u:hunter2@h/x",
            "--table",
            "jobs",
            jobs,
        ],
    );
    assert!(!bad_url.status.success());
    assert!(
        stderr(&bad_url).contains("invalid connection string")
            && !stderr(&bad_url).contains("hunter2")
    );
    assert_eq!(
        db.count("jobs").await,
        0,
        "nothing was loaded by any of these"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_column_count_goes_to_the_rejects_and_max_rejects_fails_the_command() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let tmp = tempfile::tempdir().unwrap();
    let employees = tmp.path().join("hired_employees.csv");
    std::fs::copy(hr_data_dir().join("hired_employees.csv"), &employees).unwrap();
    let rejects = tmp.path().join("bad.jsonl");
    let report = tmp.path().join("report.json");
    let args = [
        "import",
        "csv",
        "--table",
        "jobs",
        employees.to_str().unwrap(),
        "--max-rejects",
        "10",
        "--rejects",
        rejects.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    let out = lakeshift(&db.url, &args);
    assert_fails_with(
        &out,
        "rows rejected, more than --max-rejects 10; nothing was committed",
    );
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&rejects)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["line"], 1);
    assert_eq!(first["reason"], "expected 2 fields, found 5");
    assert!(!report.exists(), "no report for a load that did not happen");
    assert_eq!(db.count("jobs").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_csv_reports_its_summary_as_json() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("r.json");
    let jobs = hr_data_dir().join("jobs.csv");
    let out = lakeshift(
        &db.url,
        &[
            "import",
            "csv",
            "--table",
            "jobs",
            jobs.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("read 183, loaded 183, rejected 0"),
        "{}",
        stderr(&out)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json[0]["rows_loaded"], 183);
    assert_eq!(json[0]["table"], "public.jobs");
}

#[test]
fn every_command_has_help_with_examples() {
    let url = crate::common::admin_url();
    let top = lakeshift(&url, &["--help"]);
    let text = String::from_utf8_lossy(&top.stdout);
    for command in [
        "schema", "copy", "import", "backup", "restore", "run", "validate", "demo",
    ] {
        assert!(text.contains(command), "{command} missing from --help");
    }
    for command in [
        &["schema", "dump"][..],
        &["schema", "copy"],
        &["copy"],
        &["import", "csv"],
        &["import", "dir"],
        &["backup"],
        &["backup", "list"],
        &["backup", "verify"],
        &["restore"],
        &["restore", "file"],
        &["run"],
        &["validate"],
        &["demo", "generate"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = lakeshift(&url, &args);
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example"),
            "{command:?} --help has no examples"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_backup_and_restore_input_is_one_clear_line() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().to_str().unwrap();
    assert_fails_with(
        &lakeshift(&db.url, &["backup", "--to", "ftp://host/x"]),
        "unsupported scheme ftp://",
    );
    assert_fails_with(
        &lakeshift(&db.url, &["backup", "--to", at, "--tables", "nope"]),
        "table nope does not exist",
    );
    assert_fails_with(
        &lakeshift(&db.url, &["restore", "--from", at]),
        "no complete backup here",
    );
    assert_fails_with(
        &lakeshift(
            &db.url,
            &[
                "restore",
                "--from",
                at,
                "--backup",
                "20260101T000000Z-000000",
            ],
        ),
        "no such backup",
    );
    assert_fails_with(
        &lakeshift(&db.url, &["backup", "verify", "--at", at]),
        "no complete backup here",
    );
    assert_fails_with(
        &lakeshift(&db.url, &["restore", "file", "--table", "t", "data.csv"]),
        "cannot tell the format",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_option_values_name_their_flags_before_anything_runs() {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    let target = db.url.expose().to_string();
    let lake = tempfile::tempdir().unwrap();
    let lake = lake.path().to_str().unwrap();
    for (args, expected) in [
        (
            vec!["copy", "--target", &target, "--partitions", "0"],
            "error: --partitions: must be at least 1",
        ),
        (
            vec!["backup", "--to", "ftp://host/x", "--max-file-size", "0"],
            "--to: ftp://host/x: unsupported scheme",
        ),
        (
            vec!["lake", "sync", "--to", lake, "--incremental-column", "id"],
            "--incremental-column: needs mode append or upsert",
        ),
        (
            vec!["import", "dir", ".", "--delimiter", "x", "--quote", "x"],
            "--quote: the quote character cannot also be the delimiter",
        ),
    ] {
        assert_fails_with(&lakeshift(&db.url, &args), expected);
    }
    // Aliases of the same idea are accepted: merge is upsert.
    let out = lakeshift(&db.url, &["lake", "sync", "--to", lake, "--mode", "merge"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Issue 13's findings: URLs the old redactor could not parse were printed whole.
#[tokio::test(flavor = "multi_thread")]
async fn unparsable_urls_never_print_their_password() {
    let db = TestDb::new().await;
    let out_dir = tempfile::tempdir().unwrap();
    let to = out_dir.path().to_str().unwrap();
    for source in [
        "postgres://u:hunter2@127.0.0.1:1,127.0.0.1:2/db",
        "postgres://u:hunter2@/db?host=/nonexistent",
        "postgres://u@127.0.0.1:1/db?password=hunter2",
    ] {
        let out = lakeshift(&db.url, &["backup", "--source", source, "--to", to]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{source} should fail: {err}");
        assert!(!err.contains("hunter2"), "{source}: {err}");
        assert!(err.contains("***"), "{source}: {err}");
    }
}

/// Secrets in the environment are hidden from every error and log line, whichever library
/// quotes them (here the storage URL itself holds the S3 secret key).
#[tokio::test(flavor = "multi_thread")]
async fn secrets_from_the_environment_are_never_printed() {
    let db = TestDb::new().await;
    let secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(["-v", "backup", "--to", &format!("ftp://{secret}/x")])
        .env("DATABASE_URL", db.url.expose())
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("PGPASSWORD", "another-secret")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("ftp://***/x"), "{err}");
    assert!(!err.contains(secret), "{err}");
}
