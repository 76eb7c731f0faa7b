//! Pipelines: the shipped ones validate, the HR migration runs end to end, and a failing
//! step stops the run with a report that says so.

use std::ffi::OsStr;
use std::path::Path;

use crate::common::{TestDb, hr_data_dir, lakeshift, repo_file, stderr};

#[test]
fn every_shipped_pipeline_validates() {
    let url = crate::common::admin_url();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_file("pipelines")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let pipeline = lakeshift::pipeline::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!pipeline.steps.is_empty());
            let out = lakeshift(&url, &["validate", path.to_str().unwrap()]);
            assert!(out.status.success(), "{}", stderr(&out));
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

#[test]
fn the_shipped_pipelines_run_in_a_database_of_their_own() {
    // HR_DATABASE is not set in the test process, so the default applies.
    for file in ["hr_lakehouse.yaml", "hr_migration.yaml", "hr_backup.yaml"] {
        let pipeline = lakeshift::pipeline::load(&repo_file(&format!("pipelines/{file}"))).unwrap();
        let (name, url) = pipeline
            .connections
            .iter()
            .find(|(name, _)| *name != "restored")
            .unwrap();
        assert_eq!(url.database(), "lakeshift_hr", "{file}");
        assert!(pipeline.to_create.contains(name), "{file}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hr_migration_runs_end_to_end_on_demo_data_and_on_the_real_files() {
    let db = TestDb::new().await;
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("run.json");
    let pipeline = repo_file("pipelines/hr_migration.yaml");
    let run = |extra_env: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lakeshift"));
        cmd.args([
            "run",
            pipeline.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--work-dir",
        ])
        .arg(tmp.path())
        .env("DATABASE_URL", db.url.expose())
        .env("HR_DATABASE", db.url.database())
        .env_remove("HR_DATA_DIR");
        if let Some(dir) = extra_env {
            cmd.env("HR_DATA_DIR", dir);
        }
        cmd.output().unwrap()
    };
    let out = run(None);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["status"], "succeeded");
    assert_eq!(json["steps"][1]["output"][2]["rows_read"], 100_000);
    assert_eq!(db.count("hired_employees").await, 100_000);
    assert_eq!(db.count("departments").await, 12);

    // Again, on the real files: replace mode makes the pipeline re-runnable.
    let out = run(Some(hr_data_dir().to_str().unwrap()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.count("hired_employees").await, 1999);
    assert!(
        db.value("SELECT sum(hired) FROM view_example_hired_employees")
            .await
            .parse::<i64>()
            .unwrap()
            > 1900
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_step_stops_the_run_and_the_report_says_why() {
    let db = TestDb::new().await;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.sql"),
        "CREATE TABLE ok (id int); SELECT * FROM missing_table;",
    )
    .unwrap();
    std::fs::write(tmp.path().join("good.sql"), "CREATE TABLE later (id int);").unwrap();
    let yaml = tmp.path().join("p.yaml");
    std::fs::write(
        &yaml,
        "connections: {db: \"${DATABASE_URL}\"}\nsteps:\n  - {name: broken, type: sql_script, connection: db, file: bad.sql}\n  - {type: sql_script, connection: db, file: good.sql}\n",
    )
    .unwrap();
    let report = tmp.path().join("r.json");
    let out = lakeshift(
        &db.url,
        &[
            "run",
            yaml.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("step 1 (broken) failed") && err.contains("missing_table"),
        "{err}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["steps"][0]["status"], "failed");
    assert_eq!(json["steps"][1]["status"], "skipped");
    assert_eq!(
        db.value("SELECT count(*) FROM pg_tables WHERE tablename IN ('ok', 'later')")
            .await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_lists_every_problem_with_its_path() {
    let db = TestDb::new().await;
    let tmp = tempfile::tempdir().unwrap();
    let yaml = tmp.path().join("p.yaml");
    std::fs::write(
        &yaml,
        "connections: {db: \"${DATABASE_URL}\"}\nsteps:\n  - {type: sql_script, connection: dbx, file: nope.sql}\n  - {type: import_csv, connection: db, dir: /no/such/dir}\n",
    )
    .unwrap();
    let out = lakeshift(&db.url, &["validate", yaml.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("steps[0].connection: unknown connection \"dbx\""),
        "{err}"
    );
    assert!(err.contains("steps[0].file:"), "{err}");
    assert!(err.contains("steps[1].dir: /no/such/dir"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_copy_and_table_copy_steps_migrate_a_database() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    crate::common::hr_schema(&source).await;
    source
        .execute(
            "INSERT INTO departments VALUES (1, 'Sales'), (2, 'Legal');
             INSERT INTO jobs VALUES (1, 'Clerk');
             INSERT INTO hired_employees VALUES (1, 'Ann', '2021-01-01', 1, 1), (2, 'Bob', NULL, 2, NULL);",
        )
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let yaml = tmp.path().join("migrate.yaml");
    std::fs::write(
        &yaml,
        "connections:\n  old: ${SOURCE_URL}\n  new: ${TARGET_URL}\nsteps:\n  - {type: schema_copy, source: old, target: new}\n  - {type: table_copy, source: old, target: new, mode: replace}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(["run", yaml.to_str().unwrap()])
        .env("SOURCE_URL", source.url.expose())
        .env("TARGET_URL", target.url.expose())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = "SELECT string_agg(x::text, ';' ORDER BY id) FROM hired_employees x";
    assert_eq!(target.value(rows).await, source.value(rows).await);
    assert_eq!(target.value("SELECT hello_world()").await, "Hello, World!");
}

#[tokio::test(flavor = "multi_thread")]
async fn hr_backup_backs_up_verifies_restores_into_a_new_database_and_compares() {
    let db = TestDb::new().await;
    let restored = db
        .url
        .with_database(&format!("{}_restored", db.url.database()))
        .unwrap();
    let drop_restored = format!("DROP DATABASE IF EXISTS {}", restored.database());
    let admin = crate::common::admin_url().connect().await.unwrap();
    admin.batch_execute(&drop_restored).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("run.json");
    let backups = tmp.path().join("backups");
    let run = || {
        run_shipped(
            "hr_backup.yaml",
            tmp.path(),
            &[
                ("DATABASE_URL", db.url.expose().as_ref()),
                ("HR_DATABASE", db.url.database().as_ref()),
                ("RESTORE_DATABASE_URL", restored.expose().as_ref()),
                ("BACKUP_DIR", backups.as_os_str()),
            ],
        )
    };
    // Twice: the second run restores over the first restore (mode replace).
    for _ in 0..2 {
        let out = run();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["status"], "succeeded");
    assert_eq!(json["steps"][2]["output"]["verified"]["rows"], 100_195);
    assert_eq!(json["steps"][3]["output"]["tables"][2]["action"], "replace");
    assert_eq!(json["steps"][4]["output"][2]["right_rows"], 100_000);
    let listed = lakeshift(
        &db.url,
        &["backup", "list", "--at", backups.to_str().unwrap()],
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout)
            .matches("complete")
            .count(),
        2
    );
    // The compare step is not a formality: a changed row fails it.
    let restored_db = restored.connect().await.unwrap();
    restored_db
        .batch_execute("UPDATE hired_employees SET name = name || '!' WHERE id = 7")
        .await
        .unwrap();
    let compare = tmp.path().join("compare.yaml");
    std::fs::write(
        &compare,
        "connections: {a: \"${DATABASE_URL}\", b: \"${RESTORE_DATABASE_URL}\"}\nsteps:\n  - {type: compare, left: a, right: b, tables: [jobs, hired_employees]}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(["run", compare.to_str().unwrap()])
        .env("DATABASE_URL", db.url.expose())
        .env("RESTORE_DATABASE_URL", restored.expose())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("hired_employees differs") && stderr(&out).contains("other content"),
        "{}",
        stderr(&out)
    );
    drop(restored_db);
    admin
        .batch_execute(&format!("{drop_restored} WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hr_lakehouse_runs_the_whole_story_and_again() {
    // The user's database holds a `jobs` table of its own: the demo runs beside it, in a
    // database of its own that it creates.
    let db = TestDb::new().await;
    db.execute("CREATE TABLE jobs (title text); INSERT INTO jobs VALUES ('mine')")
        .await;
    let demo = db
        .url
        .with_database(&format!("{}_hr", db.url.database()))
        .unwrap();
    let admin = crate::common::admin_url().connect().await.unwrap();
    let drop_demo = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", demo.database());
    admin.batch_execute(&drop_demo).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let report = tmp.path().join("run.json");
    let run = || {
        run_shipped(
            "hr_lakehouse.yaml",
            tmp.path(),
            &[
                ("DATABASE_URL", db.url.expose().as_ref()),
                ("HR_DATABASE", demo.database().as_ref()),
                ("LAKESHIFT_OUT", out_dir.as_os_str()),
            ],
        )
    };
    // Twice: every step is re-runnable (replace, a new backup, overwrite, rewritten files).
    for _ in 0..2 {
        let out = run();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let kinds: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "sql_script",
            "import_csv",
            "backup",
            "lake_sync",
            "query",
            "query",
            "report"
        ]
    );
    assert_eq!(json["steps"][3]["output"][2]["rows"], 100_000);
    assert_eq!(
        db.value("SELECT string_agg(title, ',') FROM jobs").await,
        "mine"
    );
    let in_demo = demo.connect().await.unwrap();
    let hired: i64 = in_demo
        .query_one("SELECT count(*) FROM hired_employees", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(hired, 100_000);
    drop(in_demo);
    admin.batch_execute(&drop_demo).await.unwrap();
    assert_eq!(
        json["steps"][3]["output"][2]["version"], 1,
        "the second run overwrote"
    );
    let csv =
        std::fs::read_to_string(out_dir.join("reports/departments_above_mean_2021.csv")).unwrap();
    assert!(
        csv.starts_with("id,department,hired\n") && csv.lines().count() > 1,
        "{csv}"
    );
    let html = std::fs::read_to_string(out_dir.join("reports/report.html")).unwrap();
    assert!(html.contains("<h1>HR hiring in 2021</h1>") && html.matches("<svg").count() == 2);
    assert!(
        out_dir
            .join("reports/charts/hired_by_quarter_2021.png")
            .exists()
    );
    assert_eq!(
        std::fs::read_dir(out_dir.join("backups")).unwrap().count(),
        2
    );
    // The catalog serves `lakeshift sql --catalog` too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args([
            "sql",
            "-e",
            "SELECT count(*) AS n FROM hired_employees",
            "--format",
            "csv",
            "--catalog",
        ])
        .arg(repo_file("pipelines/hr_lakehouse.yaml"))
        .env("LAKESHIFT_OUT", &out_dir)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "n\n100000\n",
        "{}",
        stderr(&out)
    );
}

/// Run the shipped pipeline `file` with its work files and report (`run.json`) in `work`,
/// demo data (no HR_DATA_DIR) and the environment `env`.
fn run_shipped(file: &str, work: &Path, env: &[(&str, &OsStr)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args(["-q", "run"])
        .arg(repo_file(&format!("pipelines/{file}")))
        .arg("--report")
        .arg(work.join("run.json"))
        .arg("--work-dir")
        .arg(work)
        .env_remove("HR_DATA_DIR")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}
