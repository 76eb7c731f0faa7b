//! Backups: every type survives Avro and Parquet round trips; independent readers (fastavro,
//! pyarrow, apache-avro) read the files; S3 works against a real S3-compatible server;
//! interrupted, corrupted and mismatched backups fail clearly and write nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use lakeshift::backup::{
    BackupJob, BackupOptions, Manifest, RestoreJob, RestoreOptions, TableAction,
};
use lakeshift::formats::FileFormat;
use lakeshift::storage::{Location, S3Options};
use serde_json::Value;

use crate::common::{
    EVERY_TYPE, EVERY_TYPE_ROWS, TestDb, all_files, digest, hr_schema, lakeshift, lakeshift_s3,
    s3_prefix, stderr, stdout_of,
};

fn local(dir: &Path) -> Location {
    Location::parse(path(dir), &S3Options::default()).unwrap()
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

async fn every_type_source() -> TestDb {
    let db = TestDb::new().await;
    db.execute(&format!(
        "ALTER DATABASE {} SET timezone = 'UTC'",
        db.url.database()
    ))
    .await;
    db.execute(&format!("{EVERY_TYPE} {EVERY_TYPE_ROWS}")).await;
    db
}

/// Back up `source` to `location` in `format` and restore it into a fresh database.
async fn round_trip(format: FileFormat, location: &str) {
    let source = every_type_source().await;
    let options = BackupOptions {
        format,
        ..BackupOptions::to(location)
    };
    let summary = BackupJob::new(source.url.clone(), options)
        .run()
        .await
        .unwrap();
    assert_eq!(summary.rows, 4);
    let target = TestDb::new().await;
    target
        .execute(&format!(
            "ALTER DATABASE {} SET timezone = 'UTC'",
            target.url.database()
        ))
        .await;
    let plan = RestoreJob::new(target.url.clone(), RestoreOptions::from(location))
        .run()
        .await
        .unwrap();
    assert_eq!(plan.tables[0].action, TableAction::Create);
    assert_eq!(plan.rows(), 4);
    let (ours, theirs) = (
        target.value(&digest("everything")).await,
        source.value(&digest("everything")).await,
    );
    assert_eq!(ours, theirs, "{format:?} round trip changed the rows");
    // The table comes back with its generated column, key and types.
    let shape = "SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable || ' ' || is_generated, ', ' ORDER BY ordinal_position)
                 FROM information_schema.columns WHERE table_name = 'everything'";
    assert_eq!(target.value(shape).await, source.value(shape).await);
    assert_eq!(
        target
            .value("SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid = 'everything'::regclass")
            .await,
        "1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_and_edge_value_survives_an_avro_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(FileFormat::Avro, path(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_and_edge_value_survives_a_parquet_round_trip() {
    round_trip(FileFormat::Parquet, "memory://parquet-round-trip/backups").await;
}

/// The Python interpreter with fastavro, pyarrow and moto (see scripts/python-env.sh).
fn python() -> PathBuf {
    let path = std::env::var("LAKESHIFT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/lakeshift-py/bin/python")
        });
    assert!(
        path.exists(),
        "missing {}: run scripts/python-env.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The records of a data file as an independent implementation reads them.
fn read_with_python(format: &str, file: &Path) -> Vec<Value> {
    let output = Command::new(python())
        .arg(crate::common::repo_file("tests/interop/read_records.py"))
        .args([format, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The data files of the latest backup at `dir`.
async fn data_files(dir: &Path) -> Vec<PathBuf> {
    let at = local(dir);
    let manifest = lakeshift::backup::inspect::open(&at, None).await.unwrap();
    manifest.tables[0]
        .files
        .iter()
        .map(|f| dir.join(&manifest.backup_id).join(&f.path))
        .collect()
}

/// The values every independent reader must find in the `everything` table's file.
fn check_independent_read(records: &[Value], reader: &str) {
    assert_eq!(records.len(), 4, "{reader}");
    let row = |id: i64| {
        records
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{reader}: no row {id}"))
    };
    let one = row(1);
    assert_eq!(one["i2"], -32768, "{reader}");
    assert_eq!(one["i4"], 2147483647, "{reader}");
    assert_eq!(one["f4"], "NaN", "{reader}");
    assert_eq!(one["f8"], "-Infinity", "{reader}");
    assert_eq!(one["n"], "12345678901234567890123456.1235", "{reader}");
    assert_eq!(one["t"], "a,b\"c", "{reader}");
    assert_eq!(one["by"], "00ff00", "{reader}");
    assert_eq!(one["d"], "1969-07-20", "{reader}");
    assert_eq!(one["tm"], "23:59:59.999999", "{reader}");
    assert_eq!(one["ts"], "1900-01-01T00:00:00", "{reader}");
    assert_eq!(one["tz"], "2021-06-01T10:00:00+00:00", "{reader}");
    assert_eq!(
        one["u"].as_str().unwrap().replace('-', ""),
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",
        "{reader}"
    );
    assert_eq!(one["arr"], serde_json::json!([1, null, 3]), "{reader}");
    assert_eq!(
        one["tarr"],
        serde_json::json!(["x y", null, ""]),
        "{reader}"
    );
    assert_eq!(one["iv"], "1 year 2 mons 3 days 04:05:06.789", "{reader}");
    let two = row(2);
    for (name, value) in two.as_object().unwrap() {
        if name != "id" {
            assert!(value.is_null(), "{reader}: row 2 {name} = {value}");
        }
    }
    let three = row(3);
    assert_eq!(three["t"], "", "{reader}");
    assert_eq!(three["ts"], "9999-12-31T23:59:59.999999", "{reader}");
    assert_eq!(three["tz"], "1960-01-01T05:00:00+00:00", "{reader}");
    assert_eq!(three["nu"], "NaN", "{reader}");
    assert_eq!(three["arr"], serde_json::json!([]), "{reader}");
    let four = row(4);
    assert_eq!(four["t"], "üñî ✓ 😀", "{reader}");
    assert_eq!(four["tz"], "2016-03-27T00:30:00+00:00", "{reader}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fastavro_and_apache_avro_read_the_avro_files() {
    let source = every_type_source().await;
    let dir = tempfile::tempdir().unwrap();
    BackupJob::new(source.url.clone(), BackupOptions::to(path(dir.path())))
        .run()
        .await
        .unwrap();
    let files = data_files(dir.path()).await;
    check_independent_read(&read_with_python("avro", &files[0]), "fastavro");

    // The apache-avro crate: the same rows, with logical types.
    let bytes = std::fs::read(&files[0]).unwrap();
    let reader = apache_avro::Reader::new(&bytes[..]).unwrap();
    let mut rows = Vec::new();
    for value in reader {
        let apache_avro::types::Value::Record(fields) = value.unwrap() else {
            panic!("not a record")
        };
        rows.push(fields);
    }
    assert_eq!(rows.len(), 4);
    let field = |row: &Vec<(String, apache_avro::types::Value)>, name: &str| {
        let value = row.iter().find(|(n, _)| n == name).unwrap().1.clone();
        match value {
            apache_avro::types::Value::Union(_, inner) => *inner,
            other => other,
        }
    };
    use apache_avro::types::Value as V;
    let one = rows.iter().find(|r| field(r, "id") == V::Long(1)).unwrap();
    assert_eq!(field(one, "i4"), V::Int(2147483647));
    assert_eq!(field(one, "t"), V::String("a,b\"c".into()));
    assert_eq!(field(one, "by"), V::Bytes(vec![0, 255, 0]));
    assert_eq!(field(one, "d"), V::Date(-165));
    // 2021-06-01 10:00:00 UTC in microseconds.
    assert_eq!(field(one, "tz"), V::TimestampMicros(1_622_541_600_000_000));
    assert_eq!(
        field(one, "ts"),
        V::LocalTimestampMicros(-2_208_988_800_000_000)
    );
    assert_eq!(
        field(one, "u"),
        V::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".parse().unwrap())
    );
    let two = rows.iter().find(|r| field(r, "id") == V::Long(2)).unwrap();
    assert_eq!(field(two, "i4"), V::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn pyarrow_reads_the_parquet_files() {
    let source = every_type_source().await;
    let dir = tempfile::tempdir().unwrap();
    let options = BackupOptions {
        format: FileFormat::Parquet,
        ..BackupOptions::to(path(dir.path()))
    };
    BackupJob::new(source.url.clone(), options)
        .run()
        .await
        .unwrap();
    let files = data_files(dir.path()).await;
    check_independent_read(&read_with_python("parquet", &files[0]), "pyarrow");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_avro_file_written_by_fastavro_restores_into_an_existing_table() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE TABLE payments (id int4 PRIMARY KEY, payee text NOT NULL, paid_at timestamptz,
            amount numeric(10,2), department int2, ref uuid, day date, note text DEFAULT 'none')",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payments.avro");
    let output = Command::new(python())
        .arg(crate::common::repo_file("tests/interop/write_avro.py"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let output = lakeshift(
        &db.url,
        &[
            "restore",
            "file",
            "--table",
            "payments",
            file.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        db.value("SELECT string_agg(concat_ws(',', id, payee, paid_at AT TIME ZONE 'UTC', amount, department, ref, day, note), ' | ' ORDER BY id) FROM payments")
            .await,
        "1,Ada,2021-06-01 12:00:00,1234.50,3,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,1969-07-20,none | \
         2,Grace ✓,1960-01-01 05:00:00,-0.01,00000000-0000-0000-0000-000000000000,9999-12-31,none"
    );

    // A column that cannot be cast fails before anything is written.
    db.execute("CREATE TABLE strict (id int4, payee int4, paid_at timestamptz, amount numeric, department int4, ref uuid, day date)")
        .await;
    let output = lakeshift(
        &db.url,
        &[
            "restore",
            "file",
            "--table",
            "strict",
            file.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("strict.payee") && message.contains("Cannot cast string 'Ada'"),
        "{message}"
    );
    assert_eq!(db.count("strict").await, 0);
    // A column the table lacks is named.
    db.execute("CREATE TABLE narrow (id int4)").await;
    let output = lakeshift(
        &db.url,
        &[
            "restore",
            "file",
            "--table",
            "narrow",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        stderr(&output).contains("column payee has no column of that name in narrow"),
        "{}",
        stderr(&output)
    );
}

/// The HR schema with `rows` generated employees.
async fn hr_source(rows: u64) -> TestDb {
    let db = TestDb::new().await;
    hr_schema(&db).await;
    db.execute(&format!(
        "INSERT INTO departments SELECT g, 'dept ' || g FROM generate_series(1, 12) g;
         INSERT INTO jobs SELECT g, 'job ' || g FROM generate_series(1, 183) g;
         INSERT INTO hired_employees SELECT g, 'employee ' || g, timestamptz '2021-01-01' + g * interval '1 minute',
             1 + g % 12, 1 + g % 183 FROM generate_series(1, {rows}) g;"
    ))
    .await;
    db
}

/// How many tables the `public` schema of `db` holds.
async fn public_tables(db: &TestDb) -> String {
    db.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .await
}

fn run_ok(db: &TestDb, args: &[&str]) -> String {
    let output = lakeshift(&db.url, args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_list_verify_and_restore_against_s3() {
    let source = hr_source(5_000).await;
    let to = s3_prefix(&source);
    let with_s3 = |db: &TestDb, args: &[&str]| stdout_of(&lakeshift_s3(&db.url, args));
    let id = with_s3(
        &source,
        &["backup", "--to", &to, "--max-file-size", "20000"],
    );
    let id = id.trim();
    let listed = with_s3(&source, &["backup", "list", "--at", &to]);
    assert!(
        listed.contains(id) && listed.contains("complete") && listed.contains("5195"),
        "{listed}"
    );
    let verified = with_s3(&source, &["backup", "verify", "--at", &to, "--backup", id]);
    assert!(verified.contains("5195 rows"), "{verified}");
    let target = TestDb::new().await;
    with_s3(
        &target,
        &["restore", "--from", &to, "--target", target.url.expose()],
    );
    for table in ["departments", "jobs", "hired_employees"] {
        assert_eq!(
            target.value(&digest(table)).await,
            source.value(&digest(table)).await,
            "{table}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn large_tables_split_into_files_and_restore_in_foreign_key_order() {
    let source = hr_source(200_000).await;
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().to_str().unwrap();
    let id = run_ok(
        &source,
        &["backup", "--to", at, "--max-file-size", "100000"],
    );
    let manifest = lakeshift::backup::inspect::open(&local(dir.path()), Some(id.trim()))
        .await
        .unwrap();
    let names: Vec<&str> = manifest.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names[2], "hired_employees", "parents first: {names:?}");
    let employees = &manifest.tables[2];
    assert!(employees.files.len() > 2, "{} files", employees.files.len());
    assert_eq!(employees.files.iter().map(|f| f.rows).sum::<u64>(), 200_000);
    assert_eq!(manifest.source.database, source.url.database());
    assert!(!manifest.snapshot.id.is_empty() && !manifest.snapshot.wal_lsn.is_empty());
    assert!(employees.ddl.foreign_keys.len() == 2, "{:?}", employees.ddl);
    assert_eq!(employees.sequences.len(), 0);

    // Dry run: a plan, nothing written.
    let target = TestDb::new().await;
    let plan = run_ok(&target, &["restore", "--from", at, "--dry-run"]);
    assert!(plan.contains("create") && plan.contains("200000"), "{plan}");
    assert_eq!(public_tables(&target).await, "0");
    // A dry run into a database it would create plans every table as created, and creates
    // nothing.
    let absent = target
        .url
        .with_database(&format!("{}_absent", target.url.database()))
        .unwrap();
    let plan = run_ok(
        &target,
        &[
            "restore",
            "--from",
            at,
            "--target",
            absent.expose(),
            "--create-database",
            "--dry-run",
        ],
    );
    assert_eq!(plan.matches("create ").count(), 3, "{plan}");
    assert_eq!(
        target
            .value(&format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{}'",
                absent.database()
            ))
            .await,
        "0"
    );

    run_ok(&target, &["restore", "--from", at]);
    assert_eq!(
        target.value(&digest("hired_employees")).await,
        source.value(&digest("hired_employees")).await
    );
    // A second restore refuses to touch existing tables by default; replace works.
    let output = lakeshift(&target.url, &["restore", "--from", at]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("already exists"),
        "{}",
        stderr(&output)
    );
    run_ok(&target, &["restore", "--from", at, "--mode", "replace"]);
    assert_eq!(target.count("hired_employees").await, 200_000);
    // Into another schema, beside the first copy.
    run_ok(
        &target,
        &[
            "restore",
            "--from",
            at,
            "--into-schema",
            "restored",
            "--tables",
            "departments,jobs",
        ],
    );
    assert_eq!(target.count("restored.jobs").await, 183);
}

#[tokio::test(flavor = "multi_thread")]
async fn sequences_come_back_where_the_snapshot_had_them() {
    let source = TestDb::new().await;
    source
        .execute(
            "CREATE TABLE serials (id serial PRIMARY KEY, label text);
             CREATE TABLE idents (id int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, serial_id int4 REFERENCES serials);
             CREATE INDEX idents_serial ON idents (serial_id);
             INSERT INTO serials (label) SELECT 'x' FROM generate_series(1, 10);
             DELETE FROM serials WHERE id > 7;
             INSERT INTO idents (serial_id) SELECT 1 FROM generate_series(1, 5);",
        )
        .await;
    let location = "memory://sequences/b";
    BackupJob::new(source.url.clone(), BackupOptions::to(location))
        .run()
        .await
        .unwrap();
    let target = TestDb::new().await;
    RestoreJob::new(target.url.clone(), RestoreOptions::from(location))
        .run()
        .await
        .unwrap();
    // The next ids continue after the source's, not after the restored rows' maximum.
    target.execute("INSERT INTO serials (label) VALUES ('next'); INSERT INTO idents (serial_id) VALUES (2)").await;
    assert_eq!(target.value("SELECT max(id) FROM serials").await, "11");
    assert_eq!(target.value("SELECT max(id) FROM idents").await, "6");
    assert_eq!(
        target
            .value("SELECT count(*) FROM pg_indexes WHERE indexname = 'idents_serial'")
            .await,
        "1"
    );
    let output = lakeshift(&target.url, &["schema", "dump"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("REFERENCES public.serials(id)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_killed_halfway_is_incomplete_and_refused() {
    let source = hr_source(400_000).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lakeshift"))
        .args([
            "backup",
            "--to",
            dir.path().to_str().unwrap(),
            "--max-file-size",
            "50000",
            "--partitions",
            "1",
        ])
        .env("DATABASE_URL", source.url.expose())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some files of the big table are published.
    let started = std::time::Instant::now();
    loop {
        let published = all_files(dir.path())
            .iter()
            .filter(|p| p.to_string_lossy().contains("hired_employees/part-0000"))
            .count();
        if published >= 3 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before it could be killed"
        );
        assert!(started.elapsed().as_secs() < 120, "no files appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !all_files(dir.path())
            .iter()
            .any(|p| p.ends_with("manifest.json"))
    );
    let at = dir.path().to_str().unwrap();
    let listed = run_ok(&source, &["backup", "list", "--at", at]);
    assert!(listed.contains("INCOMPLETE"), "{listed}");
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let target = TestDb::new().await;
    for args in [
        vec!["restore", "--from", at, "--backup", &id],
        vec!["backup", "verify", "--at", at, "--backup", &id],
    ] {
        let output = lakeshift(&target.url, &args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr(&output).contains("incomplete"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = lakeshift(&target.url, &["restore", "--from", at]);
    assert!(
        stderr(&output).contains("no complete backup"),
        "{}",
        stderr(&output)
    );
    assert_eq!(public_tables(&target).await, "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_file_fails_verify_and_restore_names_it() {
    let source = hr_source(20_000).await;
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().to_str().unwrap();
    let id = run_ok(&source, &["backup", "--to", at]);
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.path().join(id.trim()).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let file = &manifest.tables[2].files[0].path;
    let path = dir.path().join(id.trim()).join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();

    let output = lakeshift(&source.url, &["backup", "verify", "--at", at]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains(file.as_str()) && message.contains("corrupt"),
        "{message}"
    );
    let target = TestDb::new().await;
    let output = lakeshift(&target.url, &["restore", "--from", at]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains(file.as_str()),
        "{}",
        stderr(&output)
    );
    assert_eq!(public_tables(&target).await, "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn restoring_over_a_table_of_another_shape_fails_before_writing() {
    let source = hr_source(100).await;
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().to_str().unwrap();
    run_ok(&source, &["backup", "--to", at, "--format", "parquet"]);
    let target = TestDb::new().await;
    target
        .execute("CREATE TABLE hired_employees (id int4, name text, datetime text, department_id int4, job_id int4)")
        .await;
    let output = lakeshift(&target.url, &["restore", "--from", at, "--mode", "append"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("another shape") && message.contains("column name is text there"),
        "{message}"
    );
    assert_eq!(public_tables(&target).await, "1");
    assert_eq!(target.count("hired_employees").await, 0);
}

/// A backup that fails halfway (a sequence the reading role may not read, after two
/// tables' files were written) says why in one line and leaves no file behind; a
/// partition it may not read is named before anything is written.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_backup_says_why_and_leaves_nothing_behind() {
    let source = TestDb::new().await;
    source
        .execute(
            "CREATE TABLE a_first (id int PRIMARY KEY);
             INSERT INTO a_first SELECT generate_series(1, 1000);
             CREATE TABLE prices (id serial, at date) PARTITION BY RANGE (at);
             CREATE TABLE prices_old PARTITION OF prices FOR VALUES FROM (MINVALUE) TO ('2024-01-01');
             CREATE TABLE prices_new PARTITION OF prices FOR VALUES FROM ('2024-01-01') TO (MAXVALUE);
             INSERT INTO prices (at) VALUES ('2023-05-01'), ('2024-05-01');
             DO $$ BEGIN CREATE ROLE lakeshift_partial_reader LOGIN;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
             GRANT SELECT ON a_first, prices, prices_old TO lakeshift_partial_reader;",
        )
        .await;
    let reader = lakeshift::postgres::DbUrl::parse(&source.url.expose().replacen(
        "://postgres@",
        "://lakeshift_partial_reader@",
        1,
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = || {
        lakeshift(
            &reader,
            &["-q", "backup", "--to", dir.path().to_str().unwrap()],
        )
    };
    let output = backup();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(
        message.trim(),
        "error: cannot read public.prices_new (a partition of public.prices): the connecting \
         role has no SELECT privilege on it (grant it, or leave the table out with \
         --exclude-table public.prices)"
    );
    assert!(
        all_files(dir.path()).is_empty(),
        "{:?}",
        all_files(dir.path())
    );

    source
        .execute("GRANT SELECT ON prices_new TO lakeshift_partial_reader")
        .await;
    let output = backup();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("prices_id_seq")
            && message.contains("permission denied for sequence")
            && message.lines().count() == 1,
        "{message}"
    );
    assert!(
        all_files(dir.path()).is_empty(),
        "{:?}",
        all_files(dir.path())
    );
}

/// `lakeshift args` on `db` with `LAKESHIFT_BACKUP_KEY` set to `key` (or unset).
fn with_key(db: &TestDb, key: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lakeshift"));
    command
        .args(args)
        .env("DATABASE_URL", db.url.expose())
        .env("NO_COLOR", "1")
        .env_remove("LAKESHIFT_BACKUP_KEY");
    if let Some(key) = key {
        command.env("LAKESHIFT_BACKUP_KEY", key);
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_backup_whose_manifest_was_changed_is_refused_before_its_ddl_runs() {
    const KEY: &str = "a backup signing key of at least 32 bytes";
    let source = hr_source(2_000).await;
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().to_str().unwrap();
    let output = with_key(&source, Some(KEY), &["backup", "--to", at]);
    assert!(output.status.success(), "{}", stderr(&output));
    let id = String::from_utf8(output.stdout).unwrap().trim().to_string();
    let backup = dir.path().join(&id);
    assert!(backup.join("manifest.sig").is_file());
    let good = TestDb::new().await;
    for args in [
        vec!["backup", "verify", "--at", at],
        vec!["restore", "--from", at],
    ] {
        let output = with_key(&good, Some(KEY), &args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    assert_eq!(good.count("hired_employees").await, 2_000);
    let short = with_key(&source, Some("short"), &["backup", "verify", "--at", at]);
    assert!(
        stderr(&short).contains("LAKESHIFT_BACKUP_KEY is 5 bytes long"),
        "{}",
        stderr(&short)
    );

    // Someone with write access to the location slips a statement into the DDL.
    let manifest_path = backup.join("manifest.json");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    let tampered = original.replacen(
        "CREATE TABLE",
        "CREATE TABLE pwned (x int); CREATE TABLE",
        1,
    );
    assert_ne!(tampered, original);
    std::fs::write(&manifest_path, &tampered).unwrap();
    let target = TestDb::new().await;
    for (key, args, reason) in [
        (
            KEY,
            vec!["backup", "verify", "--at", at],
            "signature does not match",
        ),
        (
            KEY,
            vec!["restore", "--from", at],
            "signature does not match",
        ),
        (
            "another key, also at least 32 bytes",
            vec!["restore", "--from", at],
            "signature does not match",
        ),
    ] {
        let output = with_key(&target, Some(key), &args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr(&output).contains(reason),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    // Removing the signature does not help: with the key set, unsigned is refused too.
    std::fs::write(&manifest_path, &original).unwrap();
    std::fs::remove_file(backup.join("manifest.sig")).unwrap();
    let output = with_key(&target, Some(KEY), &["restore", "--from", at]);
    assert!(
        stderr(&output).contains("the backup is not signed"),
        "{}",
        stderr(&output)
    );
    assert_eq!(public_tables(&target).await, "0");
}

/// `backup --encrypt`: data files sealed at rest with a key derived from
/// LAKESHIFT_BACKUP_KEY, for both formats. Nothing of the rows can be read from the files
/// without it; verify, restore and sql need it, and give the rows back with it.
#[tokio::test(flavor = "multi_thread")]
async fn encrypted_backups_hide_their_rows_and_restore_with_the_key() {
    const KEY: &str = "an encryption key of at least 32 bytes";
    const CANARY: &str = "plaintext-canary-4711";
    let source = TestDb::new().await;
    source
        .execute(&format!(
            "CREATE TABLE notes (id int PRIMARY KEY, body text);
             INSERT INTO notes SELECT g, '{CANARY} ' || g FROM generate_series(1, 50000) g;"
        ))
        .await;
    let contains_canary = |dir: &Path| {
        all_files(dir)
            .iter()
            .filter(|p| !p.ends_with("manifest.json"))
            .any(|p| {
                let bytes = std::fs::read(p).unwrap();
                bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes())
            })
    };
    let missing = with_key(
        &source,
        None,
        &["backup", "--to", "/nonexistent", "--encrypt"],
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("--encrypt: needs a key: set LAKESHIFT_BACKUP_KEY"),
        "{}",
        stderr(&missing)
    );
    for format in ["avro", "parquet"] {
        // Uncompressed, so that the check below could find the rows if they were there.
        let plain = tempfile::tempdir().unwrap();
        let args = |at: &str, extra: &[&str]| {
            let mut args = vec!["backup", "--to", at, "--format", format];
            args.extend(["--compression", "none"]);
            args.extend(extra.iter().copied());
            args.into_iter().map(String::from).collect::<Vec<_>>()
        };
        let run = |key: Option<&str>, args: &[String]| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            with_key(&source, key, &args)
        };
        assert!(run(None, &args(path(plain.path()), &[])).status.success());
        assert!(
            contains_canary(plain.path()),
            "{format}: the check finds plain rows"
        );

        let sealed = tempfile::tempdir().unwrap();
        let at = path(sealed.path());
        let output = run(Some(KEY), &args(at, &["--encrypt", "--verify"]));
        assert!(output.status.success(), "{format}: {}", stderr(&output));
        let stored: u64 = all_files(sealed.path())
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(stored > 1_000_000, "{format}: many chunks ({stored} bytes)");
        assert!(
            !contains_canary(sealed.path()),
            "{format}: rows readable at rest"
        );

        let target = TestDb::new().await;
        for args in [
            vec!["backup", "verify", "--at", at],
            vec!["restore", "--from", at],
        ] {
            let refused = with_key(&target, None, &args);
            assert!(!refused.status.success(), "{format} {args:?}");
            assert!(
                stderr(&refused).contains("is encrypted: set LAKESHIFT_BACKUP_KEY"),
                "{format} {args:?}: {}",
                stderr(&refused)
            );
        }
        assert_eq!(public_tables(&target).await, "0", "nothing restored");
        let restored = with_key(&target, Some(KEY), &["restore", "--from", at]);
        assert!(restored.status.success(), "{format}: {}", stderr(&restored));
        assert_eq!(
            target.value(&digest("notes")).await,
            source.value(&digest("notes")).await,
            "{format}"
        );
        let table = format!("n={at}#backup:notes");
        let query = with_key(
            &target,
            Some(KEY),
            &[
                "sql",
                "-e",
                "SELECT count(*) AS n FROM n",
                "--table",
                &table,
                "--format",
                "csv",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&query.stdout).trim(),
            "n\n50000",
            "{format}"
        );
    }
}
